"""What one request or connection may cost ``skdigits serve``: hostile pictures, heads, bodies, Host names."""

import asyncio
import socket
import time

import numpy as np
import pytest
from conftest import canvas_png, dots, png_bytes, text_chunk_bomb
from starlette.exceptions import HTTPException
from starlette.testclient import TestClient

from skdigits import load_mnist
from skdigits.apps._server import _Slots, create_app, loopback_hosts


@pytest.fixture(scope="module")
def digit():
    X, _, y, _ = load_mnist(n_train=1, n_test=1, random_state=0)
    return canvas_png(X[0]), y[0]


@pytest.fixture(scope="module")
def client(pretrained):
    with TestClient(create_app(pretrained, allowed_hosts=loopback_hosts("127.0.0.1")),
                    base_url="http://127.0.0.1:8000") as c:
        yield c


def _post(client, path, body):
    return client.post(path, content=body, headers={"Content-Type": "image/png"})


def test_the_picture_of_dots_is_a_quick_422(client, digit):
    start = time.thread_time()
    response = _post(client, "/api/read", png_bytes(dots(200, 5), optimize=True))
    assert time.thread_time() - start < 0.5
    assert response.status_code == 422 and "too noisy" in response.json()["error"]
    assert _post(client, "/api/predict", digit[0]).json()["label"] == digit[1]


def test_a_picture_over_its_cpu_time_is_422(pretrained, digit):
    with TestClient(create_app(pretrained, image_seconds=1e-9)) as client:
        response = _post(client, "/api/predict", digit[0])
    assert response.status_code == 422 and "s of CPU to read" in response.json()["error"]


def test_decoder_errors_are_400_in_our_own_words(client):
    response = _post(client, "/api/read", text_chunk_bomb(20_000_000))
    assert response.status_code == 400
    assert response.json()["error"] == "uploaded data: a damaged image, or one that uses a feature skdigits cannot decode"


def test_a_500_does_not_echo_the_exception(digit):
    class Broken:
        classes_ = np.arange(10)

        def predict_proba(self, images):
            raise RuntimeError("secret detail from /home/someone/model")

    with TestClient(create_app(Broken()), raise_server_exceptions=False) as client:
        response = _post(client, "/api/predict", digit[0])
    assert response.status_code == 500
    assert "secret" not in response.text and "RuntimeError" not in response.text
    assert response.json()["error"].startswith("internal error")


@pytest.mark.parametrize("host, status", [("127.0.0.1:8000", 200), ("localhost", 200), ("[::1]:8000", 200),
                                          ("evil.example", 400), ("127.0.0.1.evil.example", 400)])
def test_only_the_allowed_host_names_are_answered(client, host, status):
    response = client.get("/api/health", headers={"Host": host})
    assert response.status_code == status
    if status == 400:
        assert f"the Host header names {host!r}" in response.json()["error"]


def test_wildcard_host_names(pretrained):
    with TestClient(create_app(pretrained, allowed_hosts=["*.example.org"])) as client:
        assert client.get("/api/health", headers={"Host": "digits.example.org"}).status_code == 200
        assert client.get("/api/health", headers={"Host": "example.org.evil"}).status_code == 400


def test_loopback_hosts():
    assert loopback_hosts("localhost") == ["localhost", "127.0.0.1", "::1"]
    assert loopback_hosts("::") == ["*"]
    assert loopback_hosts("192.168.1.5") == ["192.168.1.5", "localhost", "127.0.0.1", "::1"]
    assert loopback_hosts("digits.lan") == ["digits.lan", "localhost", "127.0.0.1", "::1"]


def test_pictures_past_the_waiting_limit_get_503_with_retry_after():
    async def main():
        slots = _Slots(1, max_waiting=2)
        release = asyncio.Event()

        async def read():
            async with slots:
                await release.wait()

        tasks = [asyncio.create_task(read()) for _ in range(3)]  # one reading, two waiting
        await asyncio.sleep(0.01)
        with pytest.raises(HTTPException) as refused:
            async with slots:
                pass
        release.set()
        await asyncio.gather(*tasks)
        async with slots:  # and it recovers at once
            pass
        return refused.value

    refused = asyncio.run(main())
    assert refused.status_code == 503 and refused.headers == {"Retry-After": "1"}


def _exchange(base, chunks, pause=0.0, timeout=10.0):
    """Send ``chunks`` with ``pause`` seconds between them; (status, seconds until the server closed)."""
    host, port = base.removeprefix("http://").split(":")
    start = time.perf_counter()
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        try:
            for chunk in chunks:
                sock.sendall(chunk)
                time.sleep(pause)
        except OSError:
            pass  # the server may close while we still send: its answer is already on its way
        data = b""
        while True:
            try:
                part = sock.recv(65536)
            except ConnectionResetError:
                break
            if not part:
                break
            data += part
    return int(data.split()[1]) if data else None, time.perf_counter() - start, data


def test_a_huge_header_is_431_after_its_first_bytes(live_server):
    head = b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + b"a" * 20_000_000 + b"\r\n\r\n"
    status, seconds, data = _exchange(live_server, [head])
    assert status == 431 and b"over the limit of 65,536 bytes" in data
    assert seconds < 5


def test_many_header_lines_are_431(live_server):
    head = b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Line: some value\r\n" * 10_000 + b"\r\n"
    assert _exchange(live_server, [head])[0] == 431


@pytest.mark.slow
def test_a_slow_head_is_408_and_the_connection_closed(live_server, monkeypatch):
    from skdigits.apps._http_limits import LimitedHttpToolsProtocol

    monkeypatch.setattr(LimitedHttpToolsProtocol, "head_seconds", 0.5)
    lines = [b"GET /api/health HTTP/1.1\r\n", b"Host: 127.0.0.1\r\n", b"X-A: 1\r\n", b"X-B: 2\r\n"]
    status, seconds, data = _exchange(live_server, lines, pause=0.3)
    assert status == 408 and b"did not arrive within 0.5 s" in data
    status, seconds, _ = _exchange(live_server, [])  # connected, silent
    assert status == 408 and seconds < 3


@pytest.mark.slow
def test_a_slow_body_is_408_and_the_connection_closed(live_server, monkeypatch):
    import skdigits.apps._server

    monkeypatch.setattr(skdigits.apps._server, "BODY_SECONDS", 0.5)
    head = (b"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\n"
            b"Content-Length: 1000\r\n\r\n")
    status, seconds, data = _exchange(live_server, [head, b"x" * 10, b"x" * 10, b"x" * 10], pause=0.4)
    assert status == 408 and b"the body did not arrive within 0.5 s" in data
    assert b"connection: close" in data.lower() and seconds < 5


def test_keep_alive_requests_each_get_their_own_head_limits(live_server):
    one = b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + b"a" * 40_000 + b"\r\n\r\n"
    last = b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    # Three heads of 40 KB on one connection: 120 KB together, each under the limit.
    status, _, data = _exchange(live_server, [one, one, one, last], pause=0.05)
    assert status == 200 and data.count(b"HTTP/1.1 200 OK") == 4
