// The drawing pad and results of skdigits's web page. No library: pointer
// events draw, the canvas goes to the JSON API as a PNG when a stroke ends.
"use strict";

const pad = document.getElementById("pad");
const ctx = pad.getContext("2d");
const message = document.getElementById("message");
const PEN_WIDTH = 18; // pad pixels: MNIST's strokes are about 2 of its 28 pixels wide
const strokes = [];
let stroke = null;
let asked = 0; // requests sent; an answer older than the latest is dropped

function mode() {
  return document.querySelector('input[name="mode"]:checked').value;
}

function blank() {
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, pad.width, pad.height);
}

function drawStroke(points) {
  ctx.strokeStyle = "#000";
  ctx.fillStyle = "#000";
  ctx.lineWidth = PEN_WIDTH;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  if (points.length === 1) {
    ctx.beginPath();
    ctx.arc(points[0][0], points[0][1], PEN_WIDTH / 2, 0, 2 * Math.PI);
    ctx.fill();
    return;
  }
  ctx.beginPath();
  ctx.moveTo(points[0][0], points[0][1]);
  for (const [x, y] of points.slice(1)) ctx.lineTo(x, y);
  ctx.stroke();
}

function redraw() {
  blank();
  strokes.forEach(drawStroke);
}

function padPoint(event) {
  // The pad may be shown smaller than its pixels (a phone): map back.
  const box = pad.getBoundingClientRect();
  return [
    (event.clientX - box.left) * (pad.width / box.width),
    (event.clientY - box.top) * (pad.height / box.height),
  ];
}

pad.addEventListener("pointerdown", (event) => {
  event.preventDefault();
  pad.setPointerCapture(event.pointerId);
  stroke = [padPoint(event)];
  strokes.push(stroke);
  drawStroke(stroke);
});

pad.addEventListener("pointermove", (event) => {
  if (!stroke) return;
  stroke.push(padPoint(event));
  drawStroke(stroke.slice(-2));
});

function endStroke() {
  if (!stroke) return;
  stroke = null;
  recognise();
}
pad.addEventListener("pointerup", endStroke);
pad.addEventListener("pointercancel", endStroke);

document.getElementById("clear").addEventListener("click", () => {
  strokes.length = 0;
  redraw();
  clearResult();
});

document.getElementById("undo").addEventListener("click", () => {
  strokes.pop();
  redraw();
  if (strokes.length) recognise();
  else clearResult();
});

document.querySelectorAll('input[name="mode"]').forEach((radio) =>
  radio.addEventListener("change", () => {
    pad.width = mode() === "number" ? 560 : 280;
    pad.classList.toggle("number", mode() === "number");
    strokes.length = 0;
    redraw();
    clearResult();
  }),
);

document.getElementById("upload").addEventListener("change", (event) => {
  const file = event.target.files[0];
  event.target.value = ""; // the same file may be chosen again
  if (!file) return;
  const form = new FormData();
  form.append("image", file, file.name);
  const photo = document.getElementById("photo");
  photo.src = URL.createObjectURL(file);
  ask("/api/read", form, file.name).then((answer) => answer && showReading(answer, true));
});

function recognise() {
  if (!strokes.length) return;
  const url = mode() === "number" ? "/api/read" : "/api/predict";
  pad.toBlob((png) =>
    ask(url, png, "your drawing").then((answer) => {
      if (!answer) return;
      if (url === "/api/predict") showDigit(answer);
      else showReading(answer, false);
    }),
  "image/png");
}

async function ask(url, body, what) {
  const mine = ++asked;
  const options = { method: "POST", body };
  if (body instanceof Blob && !(body instanceof File)) options.headers = { "Content-Type": "image/png" };
  let answer;
  try {
    const response = await fetch(url, options);
    answer = await response.json();
    if (!response.ok) throw new Error(answer.error || `the server answered ${response.status}`);
  } catch (error) {
    if (mine === asked) showError(`${what}: ${error.message}`);
    return null;
  }
  if (mine !== asked) return null;
  message.hidden = true;
  return answer;
}

function showError(text) {
  clearResult();
  message.textContent = text;
  message.hidden = false;
}

function clearResult() {
  message.hidden = true;
  for (const id of ["guess", "seen-box", "photo-box"]) document.getElementById(id).hidden = true;
}

function inputCanvas(rows) {
  // The 28x28 image the network saw, white ink on black, as in MNIST.
  const canvas = document.createElement("canvas");
  canvas.width = rows[0].length;
  canvas.height = rows.length;
  const context = canvas.getContext("2d");
  const image = context.createImageData(canvas.width, canvas.height);
  rows.flat().forEach((value, i) => {
    image.data.set([value, value, value, 255], 4 * i);
  });
  context.putImageData(image, 0, 0);
  return canvas;
}

function showSeen(digits) {
  const seen = document.getElementById("seen");
  seen.replaceChildren(
    ...digits.map((digit) => {
      const figure = document.createElement("figure");
      const caption = document.createElement("figcaption");
      caption.textContent = `${digit.label} (${(100 * digit.probability).toFixed(1)}%)`;
      figure.append(inputCanvas(digit.input), caption);
      return figure;
    }),
  );
  document.getElementById("seen-box").hidden = false;
}

function showBars(classes, probabilities, label) {
  const bars = document.getElementById("bars");
  bars.replaceChildren(
    ...classes.map((name, i) => {
      const item = document.createElement("li");
      item.dataset.class = String(name);
      if (String(name) === String(label)) item.classList.add("top");
      const pct = (100 * probabilities[i]).toFixed(1);
      item.innerHTML =
        '<span class="name"></span><span class="track"><span class="fill"></span></span><span class="pct"></span>';
      item.querySelector(".name").textContent = String(name);
      item.querySelector(".fill").style.width = `${pct}%`;
      item.querySelector(".pct").textContent = `${pct}%`;
      return item;
    }),
  );
}

function showDigit(answer) {
  document.getElementById("label").textContent = String(answer.label);
  document.getElementById("probability").textContent = `${(100 * answer.probability).toFixed(1)}% sure`;
  showBars(answer.classes, answer.probabilities, answer.label);
  document.getElementById("guess").hidden = false;
  document.getElementById("photo-box").hidden = true;
  showSeen([answer]);
}

function showReading(answer, uploaded) {
  document.getElementById("label").textContent = answer.text;
  const least = Math.min(...answer.digits.map((d) => d.probability));
  document.getElementById("probability").textContent =
    answer.digits.length > 1 ? `least sure digit: ${(100 * least).toFixed(1)}%` : `${(100 * least).toFixed(1)}% sure`;
  // Bars for a single digit; for a number, each digit's picture carries its probability.
  if (answer.digits.length === 1) showBars(answer.classes, answer.digits[0].probabilities, answer.digits[0].label);
  else document.getElementById("bars").replaceChildren();
  document.getElementById("guess").hidden = false;
  showSeen(answer.digits);
  document.getElementById("photo-box").hidden = !uploaded;
  if (uploaded) showBoxes(answer);
}

function showBoxes(answer) {
  const svg = document.getElementById("boxes");
  const [width, height] = answer.size;
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("preserveAspectRatio", "none");
  const ns = "http://www.w3.org/2000/svg";
  svg.replaceChildren(
    ...answer.digits.flatMap((digit) => {
      const [left, top, right, bottom] = digit.box;
      const rect = document.createElementNS(ns, "rect");
      rect.setAttribute("x", left);
      rect.setAttribute("y", top);
      rect.setAttribute("width", right - left);
      rect.setAttribute("height", bottom - top);
      rect.classList.add("digit-box");
      const text = document.createElementNS(ns, "text");
      text.setAttribute("x", left);
      text.setAttribute("y", Math.max(top - 4, 12));
      text.setAttribute("font-size", Math.max(12, height / 20));
      text.textContent = String(digit.label);
      return [rect, text];
    }),
  );
}

async function describeModel() {
  const footer = document.getElementById("model");
  try {
    const info = await (await fetch("/api/model")).json();
    const accuracy = info.test_accuracy ? `, ${(100 * info.test_accuracy).toFixed(2)}% on the MNIST test set` : "";
    footer.textContent = `Model: ${info.file || info.estimator}${accuracy}. skdigits ${info.skdigits || ""}`;
  } catch (error) {
    footer.textContent = "The model's description could not be loaded.";
  }
}

redraw();
describeModel();
