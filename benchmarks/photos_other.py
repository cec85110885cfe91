"""Photos from a second generator, made apart from photos.py: does the reading generalise?

``benchmarks/photos.py`` is the benchmark the preprocessing was developed
against, so its rates flatter it. This script makes photos of MNIST *test*
digits with different choices at every step, and reads them through the
public API with the pretrained model, as photos.py does:

- paper: white, cream, grey or yellow (a legal pad, a sticky note), with
  fibre texture; plain, ruled (grey, blue or green lines 0.55 to 1.3 digit
  heights apart), college-ruled (with a red margin line), squared (0.2 to
  0.45 digit heights) or dotted;
- digits: each re-stroked from the MNIST image (cut from the smoothed
  digit, thickened or thinned to a pen 0.07 to 0.22 of the digit height),
  turned up to 10 degrees and sheared; black, grey, blue, dark blue, red or
  green pens; numbers run along a slope with uneven gaps;
- light: a vignette, a colour cast, often a broad soft shadow;
- camera: the page under perspective on a textured desk seen on every
  side (brown, dark, grey or green), defocus, sensor noise, 500 to 1400
  pixels on the long side (digits at least 28 pixels high), JPEG 45 to 95.

Reported: single digits (``to_mnist`` then ``predict``) and numbers of 1 to
8 digits (``read_digits``), in all and per kind of paper, with 95% Wilson
intervals.

    python benchmarks/photos_other.py --output benchmarks/results/photos_other.json
    python benchmarks/photos_other.py --n-single 4 --n-number 4 --output /tmp/other.json   # quick
"""

import argparse
import os
import sys
import time

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import environment, read_number, read_single, wilson_interval, write_json  # noqa: E402

from skdigits import load_mnist, load_model, load_pretrained  # noqa: E402

PAPERS = {"white": (245, 245, 242), "cream": (215, 235, 245), "grey": (205, 210, 212), "yellow": (150, 235, 250)}  # BGR
STYLES = ("plain", "ruled", "college", "squared", "dotted")
LINE_COLOURS = [(200, 170, 120), (160, 200, 150), (180, 180, 180), (220, 190, 160)]
PENS = [(30, 30, 30), (80, 80, 80), (140, 50, 20), (90, 30, 10), (30, 30, 170), (40, 110, 40)]
DESKS = [(60, 90, 130), (40, 40, 45), (120, 130, 140), (30, 70, 100), (90, 100, 90)]


def _paper(height, width, rng):
    kind = str(rng.choice(list(PAPERS), p=[0.5, 0.15, 0.15, 0.2]))
    colour = np.array(PAPERS[kind], np.float32) + rng.uniform(-8, 8, 3).astype(np.float32)
    fibre = cv2.GaussianBlur(rng.normal(0, 1, (height, width)).astype(np.float32), (0, 0), 1.5) * 4
    return np.clip(colour[None, None] + fibre[:, :, None], 0, 255), kind


def _lines(page, rng, digit_height):
    height, width = page.shape[:2]
    style = str(rng.choice(STYLES, p=[0.15, 0.35, 0.15, 0.25, 0.1]))
    colour = tuple(float(v) for v in LINE_COLOURS[rng.integers(len(LINE_COLOURS))])
    thickness = max(1, int(round(digit_height * rng.uniform(0.015, 0.05))))
    wide = style in ("ruled", "college")
    spacing = digit_height * (rng.uniform(0.55, 1.3) if wide else rng.uniform(0.2, 0.45))
    if style in ("ruled", "college", "squared"):
        for y in np.arange(rng.uniform(0, spacing), height, spacing):
            cv2.line(page, (0, int(y)), (width, int(y)), colour, thickness, cv2.LINE_AA)
    if style == "squared":
        for x in np.arange(rng.uniform(0, spacing), width, spacing):
            cv2.line(page, (int(x), 0), (int(x), height), colour, thickness, cv2.LINE_AA)
    if style == "dotted":
        dot = tuple(0.9 * v for v in colour)
        for y in np.arange(rng.uniform(0, spacing), height, spacing):
            for x in np.arange(rng.uniform(0, spacing), width, spacing):
                cv2.circle(page, (int(x), int(y)), thickness, dot, -1, cv2.LINE_AA)
    if style == "college":
        x = int(width * rng.uniform(0.04, 0.1))
        cv2.line(page, (x, 0), (x, height), (110, 110, 220), thickness, cv2.LINE_AA)
    return style


def _glyph(digit, size, rng, pen_width):
    """Pen coverage of an MNIST digit re-stroked at ``size`` pixels with a pen ``pen_width`` wide."""
    big = cv2.resize(digit.reshape(28, 28).astype(np.float32) / 255, (size, size), interpolation=cv2.INTER_LINEAR)
    shear = rng.uniform(-0.2, 0.2)
    turn = cv2.getRotationMatrix2D((size / 2, size / 2), rng.uniform(-10, 10), rng.uniform(0.85, 1.1))
    turn[0, 1] += shear
    turn[0, 2] -= shear * size / 2
    big = cv2.warpAffine(big, turn, (size, size), flags=cv2.INTER_LINEAR)
    mnist_width = 0.12 * size  # MNIST's strokes, at this size
    if pen_width >= mnist_width:
        core = (big > 0.5).astype(np.uint8)
        grow = int(round((pen_width - mnist_width) / 2))
        if grow >= 1:
            core = cv2.dilate(core, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1)))
    else:
        # A thinner pen: a higher cut through the smoothed digit, which keeps its ridge.
        smooth = cv2.GaussianBlur(big, (0, 0), 0.03 * size)
        cut = 0.45 + 0.25 * (mnist_width - pen_width) / mnist_width
        core = (smooth > cut * smooth.max()).astype(np.uint8)
    return np.clip(cv2.GaussianBlur(core.astype(np.float32), (0, 0), 0.6), 0, 1)


def _on_desk(page, rng):
    """The page under perspective on a textured desk that shows on every side."""
    height, width = page.shape[:2]
    frame_h, frame_w = int(height * rng.uniform(1.0, 1.25)), int(width * rng.uniform(1.0, 1.2))
    desk = np.array(DESKS[rng.integers(len(DESKS))], np.float32)
    grain = cv2.GaussianBlur(rng.normal(0, 12, (frame_h, frame_w)).astype(np.float32), (0, 0), 2)
    desk = np.clip(desk[None, None] + grain[:, :, None], 0, 255)
    src = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
    angle = np.deg2rad(rng.uniform(-12, 12))
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    corners = ((src - [width / 2, height / 2]) * rng.uniform(0.85, 1.0)) @ rotation.T
    corners += [frame_w / 2, frame_h / 2]
    corners += rng.uniform(-0.05, 0.05, (4, 2)) * [frame_w, frame_h]
    matrix = cv2.getPerspectiveTransform(src, corners.astype(np.float32))
    warped = cv2.warpPerspective(page.astype(np.float32), matrix, (frame_w, frame_h), flags=cv2.INTER_LINEAR)
    cover = cv2.warpPerspective(np.ones((height, width), np.float32), matrix, (frame_w, frame_h))
    return warped + desk * (1 - cover[:, :, None])


def make_photo(digits, rng):
    """A photo (BGR uint8) of ``digits`` (MNIST test images) written left to right, and (paper, lines)."""
    n = len(digits)
    digit_height = int(rng.uniform(50, 140))
    gaps = rng.uniform(0.15, 0.6, n) * digit_height
    sizes = (digit_height * rng.uniform(0.8, 1.15, n)).astype(int)
    width = int(sizes.sum() + gaps[:-1].sum() + rng.uniform(1.0, 3.0) * digit_height * 2)
    height = int(digit_height * rng.uniform(3.5, 6.0))
    page, kind = _paper(height, width, rng)
    style = _lines(page, rng, digit_height)
    pen = np.array(PENS[rng.integers(len(PENS))], np.float32)
    pen_width = digit_height * rng.uniform(0.07, 0.22)
    x = (width - (sizes.sum() + gaps[:-1].sum())) / 2
    baseline = height / 2 + rng.uniform(-0.12, 0.12) * height
    slope = rng.uniform(-0.08, 0.08)
    for digit, gap, size in zip(digits, gaps, sizes):
        y = int(baseline + slope * (x - width / 2) - size / 2 + rng.uniform(-0.1, 0.1) * digit_height)
        alpha = _glyph(digit, size, rng, pen_width * rng.uniform(0.85, 1.15))[:, :, None] * rng.uniform(0.75, 1.0)
        y, left = min(max(y, 0), height - size), int(min(max(x, 0), width - size))
        region = page[y:y + size, left:left + size]
        region[:] = region * (1 - alpha) + pen * alpha
        x += size + gap
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    vignette = 1 - rng.uniform(0.0, 0.35) * 2 * (((cols - width / 2) / width) ** 2 + ((rows - height / 2) / height) ** 2)
    cast = np.array([rng.uniform(0.8, 1.0), rng.uniform(0.9, 1.0), 1.0], np.float32)  # warm light: less blue
    page = page * vignette[:, :, None] * cast
    if rng.random() < 0.6:
        cx, cy, reach = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(0.3, 1.0) * max(height, width)
        shadow = np.exp(-2 * ((cols - cx) ** 2 + (rows - cy) ** 2) / reach ** 2)
        page = page * (1 - rng.uniform(0.2, 0.5) * shadow)[:, :, None]
    photo = _on_desk(page, rng)
    photo = cv2.GaussianBlur(photo, (0, 0), rng.uniform(0.3, 1.6))
    photo = photo + rng.normal(0, rng.uniform(1, 6), photo.shape)
    scale = max(rng.uniform(500, 1400) / max(photo.shape[:2]), 28 / digit_height)
    size = (int(photo.shape[1] * scale), int(photo.shape[0] * scale))
    photo = cv2.resize(np.clip(photo, 0, 255).astype(np.float32), size, interpolation=cv2.INTER_AREA)
    quality = int(rng.integers(45, 95))
    ok, data = cv2.imencode(".jpg", np.uint8(np.clip(photo, 0, 255)), [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(data, cv2.IMREAD_COLOR), (kind, style)


def _rates(outcomes):
    hits = sum(outcomes)
    return {"accuracy": hits / len(outcomes) if outcomes else None, "n": len(outcomes),
            "ci95": wilson_interval(hits, len(outcomes))}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-single", type=int, default=200, help="photos of one digit")
    parser.add_argument("--n-number", type=int, default=300, help="photos of numbers of 1 to 8 digits")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", help="a model file to read with (default: the pretrained model)")
    parser.add_argument("--learned", action="store_true", help="read with the learned finder (learned=True)")
    parser.add_argument("--output", required=True)
    args = parser.parse_args(argv)
    learned = args.learned

    provenance = environment()
    _, X_test, _, y_test = load_mnist()
    model = load_pretrained() if args.model is None else load_model(args.model)
    rng = np.random.default_rng(args.seed)
    singles, numbers, seconds = [], [], []
    for _ in range(args.n_single):
        i = int(rng.integers(len(y_test)))
        photo, kind = make_photo(X_test[i:i + 1], rng)
        label, spent = read_single(photo, model, learned)
        if spent is not None:
            seconds.append(spent)
        singles.append((kind, label == int(y_test[i])))
    for _ in range(args.n_number):
        idx = rng.integers(len(y_test), size=int(rng.integers(1, 9)))
        photo, kind = make_photo(X_test[idx], rng)
        start = time.perf_counter()
        text = read_number(photo, model, learned)
        seconds.append(time.perf_counter() - start)
        numbers.append((kind, text == "".join(str(v) for v in y_test[idx])))
    results = {"single": _rates([ok for _, ok in singles]), "number": _rates([ok for _, ok in numbers]),
               "by_paper": {kind: {"single": _rates([ok for (k, _), ok in singles if k == kind]),
                                   "number": _rates([ok for (k, _), ok in numbers if k == kind])} for kind in PAPERS},
               "by_lines": {style: {"single": _rates([ok for (_, s), ok in singles if s == style]),
                                    "number": _rates([ok for (_, s), ok in numbers if s == style])} for style in STYLES},
               "read_ms_median": 1000 * float(np.median(seconds)) if seconds else None}
    for name in ("single", "number"):
        row = results[name]
        if row["n"]:
            print(f"{name:>7}: {row['accuracy']:.3f} [{row['ci95'][0]:.3f}, {row['ci95'][1]:.3f}] of {row['n']}")
    for kind, rows in {**results["by_paper"], **results["by_lines"]}.items():
        shown = [f"{name} {rows[name]['accuracy']:.3f} of {rows[name]['n']}" for name in ("single", "number")
                 if rows[name]["n"]]
        if shown:
            print(f"{kind:>7}: " + "  ".join(shown))
    write_json(args.output, {**provenance, "seed": args.seed, "learned": learned,
                             "model": "skdigits.load_pretrained()" if args.model is None else os.path.basename(args.model),
                             "results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
