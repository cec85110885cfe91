"""The JSON API of ``skdigits serve``: answers, errors, body limits, batching."""

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
from conftest import canvas_png, number_png, png_bytes
from starlette.testclient import TestClient

from skdigits import load_mnist, read_digits
from skdigits.apps._server import BatchedModel, create_app


@pytest.fixture(scope="module")
def client(pretrained):
    with TestClient(create_app(pretrained, description={"source": "test"}, max_body_bytes=200_000)) as c:
        yield c


@pytest.fixture(scope="module")
def test_digits():
    _, X_test, _, y_test = load_mnist(n_test=20, random_state=3)
    return X_test, y_test


def test_health_and_model(client):
    assert client.get("/api/health").json()["status"] == "ok"
    info = client.get("/api/model").json()
    assert info["source"] == "test"
    assert info["estimator"] == "CNNDigitClassifier"
    assert info["classes"] == list(range(10))
    assert info["max_body_bytes"] == 200_000


def test_the_page_and_its_assets_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    # Self-contained: every script and style sheet comes from this server.
    assert "http://" not in page.text and "https://" not in page.text
    for asset, kind in [("/static/app.js", "javascript"), ("/static/style.css", "text/css")]:
        response = client.get(asset)
        assert response.status_code == 200 and kind in response.headers["content-type"]
        assert "https://" not in response.text


def test_predict_canvas_pngs(client, test_digits):
    X_test, y_test = test_digits
    labels = []
    for digit in X_test:
        response = client.post("/api/predict", content=canvas_png(digit), headers={"Content-Type": "image/png"})
        assert response.status_code == 200, response.text
        answer = response.json()
        proba = np.array(answer["probabilities"])
        assert proba.shape == (10,) and abs(proba.sum() - 1) < 1e-5
        assert answer["label"] == answer["classes"][int(proba.argmax())]
        assert answer["probability"] == pytest.approx(proba.max())
        image = np.array(answer["input"])
        assert image.shape == (28, 28) and image.min() >= 0 and image.max() == 255
        left, top, right, bottom = answer["box"]
        assert 0 <= left < right <= 280 and 0 <= top < bottom <= 280
        assert answer["size"] == [280, 280]
        labels.append(answer["label"])
    assert np.mean(np.array(labels) == y_test) >= 0.95


def test_predict_multipart_upload(client, test_digits):
    X_test, y_test = test_digits
    files = {"image": ("digit.png", canvas_png(X_test[0]), "image/png")}
    response = client.post("/api/predict", files=files)
    assert response.status_code == 200, response.text
    assert response.json()["label"] == y_test[0]


def test_read_a_number(client, test_digits, pretrained):
    X_test, y_test = test_digits
    response = client.post("/api/read", content=number_png(X_test[:4]), headers={"Content-Type": "image/png"})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["text"] == "".join(map(str, y_test[:4]))
    lefts = [d["box"][0] for d in answer["digits"]]
    assert lefts == sorted(lefts) and len(lefts) == 4
    for digit in answer["digits"]:
        assert len(digit["probabilities"]) == 10 and np.array(digit["input"]).shape == (28, 28)
    # One shape of a digit: the API's is Reading.to_dict's, with the network's input added.
    reading = read_digits(number_png(X_test[:4]), pretrained)
    assert [set(d) for d in reading.to_dict()["digits"]] == [set(d) - {"input"} for d in answer["digits"]]
    assert reading.text == answer["text"]
    assert answer["size"][1] == 120


BAD_REQUESTS = {
    "not an image": ("POST", "/api/predict", b"hello, world", "image/png", 400, "not an image"),
    "empty body": ("POST", "/api/predict", b"", "image/png", 400, "empty"),
    "damaged PNG": ("POST", "/api/read", "damaged", "image/png", 400, "damaged or truncated"),
    "blank paper": ("POST", "/api/predict", "blank", "image/png", 422, "no ink"),
    "a speck only": ("POST", "/api/read", "speck", "image/png", 422, "no digit"),
    "wrong content type": ("POST", "/api/predict", b"7", "text/plain", 415, "text/plain"),
    "no content type": ("POST", "/api/predict", b"7", None, 415, "(none)"),
    "too large": ("POST", "/api/predict", b"\x89PNG" + bytes(300_000), "image/png", 413, "over the limit"),
    "bad content length": ("POST", "/api/predict", b"12", "image/png", 400, "Content-Length"),
    "multipart without a file": ("POST", "/api/read", "form", None, 400, "no file"),
    "wrong method on the API": ("GET", "/api/predict", None, None, 405, "use POST"),
    "wrong method on health": ("POST", "/api/health", b"", "image/png", 405, "GET"),
    "unknown path": ("GET", "/api/nothing", None, None, 404, "/api/nothing"),
}


@pytest.mark.parametrize("case", list(BAD_REQUESTS))
def test_bad_requests_get_a_json_error_and_the_server_keeps_serving(client, test_digits, case):
    method, path, body, content_type, status, words = BAD_REQUESTS[case]
    headers = {"Content-Type": content_type} if content_type else {}
    kwargs = {}
    if body == "damaged":
        body = canvas_png(test_digits[0][0])[:300]
    elif body == "blank":
        body = png_bytes(np.full((120, 120), 230, dtype=np.uint8))
    elif body == "speck":
        page = np.full((120, 120), 230, dtype=np.uint8)
        page[60:62, 60:62] = 30
        body = png_bytes(page)
    elif body == "form":
        body, kwargs = None, {"files": {"note": (None, "no file here")}}
    if case == "bad content length":
        headers["Content-Length"] = "twelve"
    response = client.request(method, path, content=body, headers=headers, **kwargs)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    answer = response.json()
    assert answer["status"] == status and words in answer["error"]
    good = client.post("/api/predict", content=canvas_png(test_digits[0][0]), headers={"Content-Type": "image/png"})
    assert good.status_code == 200 and good.json()["label"] == test_digits[1][0]


def test_too_many_pixels_is_413(client, monkeypatch, test_digits):
    import skdigits.reader._images

    monkeypatch.setattr(skdigits.reader._images, "MAX_PIXELS", 10_000)
    response = client.post("/api/predict", content=canvas_png(test_digits[0][0]), headers={"Content-Type": "image/png"})
    assert response.status_code == 413 and "too large" in response.json()["error"]


def _raw_request(base, head, body=b"", timeout=5.0):
    """Send raw HTTP and return (status, JSON body) of the answer."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(head.encode() + body)
        data = b""
        while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < _length(data):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    head_part, _, payload = data.partition(b"\r\n\r\n")
    return int(head_part.split()[1]), json.loads(payload)


def _length(data):
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":")[1])
    return 0


def test_body_limit_is_checked_before_the_body_is_read(live_server):
    # 50 MB announced, not a byte of it sent: the answer must come anyway.
    head = ("POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\n"
            "Content-Length: 50000000\r\n\r\n")
    start = time.perf_counter()
    status, answer = _raw_request(live_server, head)
    assert status == 413 and "50,000,000 bytes is over the limit" in answer["error"]
    assert time.perf_counter() - start < 5


def test_chunked_body_over_the_limit(live_server):
    chunk = b"x" * 1_000_000
    body = b"".join(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n" for _ in range(3)) + b"0\r\n\r\n"
    head = "POST /api/read HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\nTransfer-Encoding: chunked\r\n\r\n"
    status, answer = _raw_request(live_server, head, body)
    assert status == 413 and "over the limit" in answer["error"]


def test_concurrent_clients_on_a_real_server(live_server, test_digits):
    X_test, y_test = test_digits
    bodies = [canvas_png(d) for d in X_test]
    results = [None] * len(bodies)

    def ask(i):
        request = urllib.request.Request(f"{live_server}/api/predict", data=bodies[i],
                                         headers={"Content-Type": "image/png"})
        with urllib.request.urlopen(request, timeout=30) as response:
            results[i] = json.loads(response.read())["label"]

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert np.mean(np.array(results) == y_test) >= 0.95


class _SlowModel:
    """Records the size of every batch it is given; each call takes a while."""

    classes_ = np.arange(10)

    def __init__(self):
        self.batches = []

    def predict_proba(self, images):
        self.batches.append(len(images))
        time.sleep(0.05)
        return np.full((len(images), 10), 0.1)


def test_batched_model_joins_concurrent_requests():
    model = _SlowModel()
    batched = BatchedModel(model, max_batch=8)

    async def main():
        images = np.zeros((1, 28, 28), dtype=np.uint8)
        return await asyncio.gather(*(batched.predict_proba(images) for _ in range(20)))

    answers = asyncio.run(main())
    batched.close()
    assert len(answers) == 20 and all(a.shape == (1, 10) for a in answers)
    assert sum(model.batches) == 20
    assert max(model.batches) == 8 and len(model.batches) < 20


def test_batched_model_passes_errors_on_and_keeps_serving():
    class Flaky(_SlowModel):
        def predict_proba(self, images):
            if not self.batches:
                self.batches.append(len(images))
                raise RuntimeError("first call fails")
            return super().predict_proba(images)

    batched = BatchedModel(Flaky())

    async def main():
        images = np.zeros((1, 28, 28), dtype=np.uint8)
        with pytest.raises(RuntimeError, match="first call fails"):
            await batched.predict_proba(images)
        return await batched.predict_proba(images)

    assert asyncio.run(main()).shape == (1, 10)
    batched.close()


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_serve_command(tmp_path):
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "skdigits", "serve", "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "SKDIGITS_NUM_THREADS": "1"})
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2) as response:
                    assert json.loads(response.read())["status"] == "ok"
                break
            except (urllib.error.URLError, ConnectionError):
                assert process.poll() is None, process.stderr.read()
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.5)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/model", timeout=5) as response:
            info = json.loads(response.read())
        assert info["source"] == "pretrained" and info["test_accuracy"] >= 0.99
    finally:
        process.terminate()
        out, err = process.communicate(timeout=30)
    assert f"serving on http://127.0.0.1:{port}/" in out
    assert "Traceback" not in err


@pytest.mark.parametrize("args, words", [
    (["--port", "70000"], "not a port number"),
    (["--max-body-mb", "0"], "must be positive"),
    (["--model", "missing.safetensors"], "missing.safetensors"),
])
def test_serve_refuses_bad_options(capsys, args, words):
    from skdigits.apps._cli import main

    assert main(["serve", *args]) == 2
    assert words in capsys.readouterr().err
