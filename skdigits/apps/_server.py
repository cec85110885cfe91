"""The web page and JSON API of ``skdigits serve``: a Starlette app, run by uvicorn.

Requests are handled on the event loop; the work of each runs elsewhere. The
image pipeline (decoding, finding the ink) runs in Starlette's thread pool,
where OpenCV and NumPy release the interpreter lock, so two requests use two
cores. The network runs on one thread of its own, on the images of all the
requests that arrived meanwhile at once: for a network this small, a forward
pass over 16 images costs little more than over one, so batching is what keeps
latency flat when many clients draw at the same time.

What one request may cost is bounded: its body's size and the time it takes
to arrive, the CPU time its picture's reading takes (``IMAGE_SECONDS``), and
how many pictures are read at once (about one per core) or wait to be (more
get 503 at once). ``serve`` adds limits on each connection's head
(``skdigits.apps._http_limits``), on connections, and on the ``Host`` names answered.
"""

import asyncio
import contextlib
import importlib.resources
import ipaddress
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..reader._images import (
    ImageError,
    ImageTooComplexError,
    ImageTooLargeError,
    NoDigitError,
    find_digits,
)
from ..reader._records import digit_record, plain

__all__ = ["create_app", "serve", "default_workers", "BatchedModel", "MAX_BODY_BYTES", "loopback_hosts"]

_log = logging.getLogger("skdigits.serve")

# Ten megabytes holds any phone photo as a JPEG; larger bodies are refused
# from their Content-Length, before a byte of them is read.
MAX_BODY_BYTES = 10 * 1024 * 1024

# A body must arrive within this many seconds of its head: a client sending a
# byte a minute would otherwise hold its connection (and a slot) for ever.
BODY_SECONDS = 30.0

# Seconds of CPU time one picture's reading may take (a 12-megapixel photo takes
# well under 0.2 s); a picture made to cost more is answered 422.
IMAGE_SECONDS = 1.0

# Pictures waiting to be read, in one worker process, before more are answered
# 503 (a pad drawing takes a few milliseconds: 64 is well under a second of waiting).
MAX_WAITING = 64

# Images per forward pass at most; more waiting requests go in the next pass.
MAX_BATCH = 64

# Connections one worker process holds at once; more are answered 503 by uvicorn.
MAX_CONNECTIONS = 256

# `skdigits serve` starts one worker process per core, up to this many: each
# holds its own TensorFlow and model (about 500 MB resident, measured), and a drawing page
# needs no more.
MAX_DEFAULT_WORKERS = 4

# Raw bodies must say they are images; anything else goes as multipart/form-data.
_RAW_TYPES = ("image/", "application/octet-stream")

WEB_ROOT = importlib.resources.files("skdigits.apps") / "web"


class BatchedModel:
    """Classifies the images of concurrent requests together, on one thread.

    Parameters
    ----------
    model : fitted classifier
        Anything with ``predict_proba`` of 28x28 images and ``classes_``.
    max_batch : int, default=64
        Most images in one forward pass.
    """

    def __init__(self, model, max_batch=MAX_BATCH):
        self.model = model
        self.max_batch = max_batch
        self._queue = None
        self._worker = None
        # One thread: Keras models are not documented as safe to call from
        # several threads at once, and one pass at a time is also the fastest.
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="skdigits-model")

    async def predict_proba(self, images):
        """Class probabilities of ``images`` (n, 28, 28), computed with those of other requests."""
        if self._worker is None:
            self._queue = asyncio.Queue()
            self._worker = asyncio.get_running_loop().create_task(self._serve())
        future = asyncio.get_running_loop().create_future()
        await self._queue.put((images, future))
        return await future

    async def _serve(self):
        loop = asyncio.get_running_loop()
        while True:
            waiting = [await self._queue.get()]
            count = len(waiting[0][0])
            while count < self.max_batch and not self._queue.empty():
                waiting.append(self._queue.get_nowait())
                count += len(waiting[-1][0])
            # A request whose client went away has its future cancelled: skip it.
            waiting = [(images, future) for images, future in waiting if not future.done()]
            if not waiting:
                continue
            batch = np.concatenate([images for images, _ in waiting])
            try:
                proba = await loop.run_in_executor(self._executor, self.model.predict_proba, batch)
            except Exception as exc:  # the requests get it; the worker keeps serving
                for _, future in waiting:
                    if not future.done():
                        future.set_exception(exc)
                continue
            start = 0
            for images, future in waiting:
                if not future.done():
                    future.set_result(proba[start:start + len(images)])
                start += len(images)

    def close(self):
        if self._worker is not None:
            self._worker.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)


def _error(status, message):
    return JSONResponse({"error": message, "status": status}, status_code=status)


async def read_body(request, limit):
    """The request's body, refused (413) from its Content-Length when over ``limit`` bytes.

    A body sent in chunks, without a length, is read only up to the limit.
    """
    length = request.headers.get("content-length")
    if length is not None:
        if not length.isdigit():
            raise HTTPException(400, f"Content-Length {length!r} is not a number of bytes")
        if int(length) > limit:
            raise HTTPException(413, f"the body of {int(length):,} bytes is over the limit of {limit:,} bytes")
    async def receive():
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise HTTPException(413, f"the body is over the limit of {limit:,} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    try:
        return await asyncio.wait_for(receive(), BODY_SECONDS)
    except asyncio.TimeoutError:
        # The rest of the body may still come: the connection cannot carry another request.
        raise HTTPException(408, f"the body did not arrive within {BODY_SECONDS:g} s",
                            headers={"Connection": "close"}) from None


async def image_bytes(request, limit):
    """The image a request sends: its whole body (``Content-Type: image/...``) or a multipart file."""
    content_type = request.headers.get("content-type", "")
    kind = content_type.split(";")[0].strip().lower()
    if kind != "multipart/form-data" and not kind.startswith(_RAW_TYPES):
        raise HTTPException(
            415,
            f"Content-Type {content_type or '(none)'!r} is not accepted: send the image's bytes as the body "
            "with Content-Type image/png, image/jpeg, ... or as a file in multipart/form-data",
        )
    body = await read_body(request, limit)
    if kind != "multipart/form-data":
        return body

    async def replay():
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        form = await Request(request.scope, replay).form(max_files=1, max_fields=10)
    except (HTTPException, ValueError) as exc:
        raise HTTPException(400, f"the multipart body cannot be read ({getattr(exc, 'detail', exc)})") from None
    files = [value for _, value in form.multi_items() if isinstance(value, UploadFile)]
    if not files:
        raise HTTPException(400, "the multipart body holds no file: send the image as a file field named 'image'")
    return await files[0].read()


def _digit(classes, proba, image, box):
    """A digit's JSON (``digit_record``) with the 28x28 image the network saw, which the page draws."""
    return {**digit_record(classes, proba, box), "input": image.tolist()}


def create_app(model, *, description=None, max_body_bytes=MAX_BODY_BYTES, max_batch=MAX_BATCH,
               allowed_hosts=None, image_slots=None, image_seconds=IMAGE_SECONDS, learned=True):
    """The web page and JSON API around a fitted digit classifier.

    Parameters
    ----------
    model : fitted classifier
        Anything with ``predict_proba`` of 28x28 images and ``classes_``
        (a :class:`skdigits.CNNDigitClassifier`, a pipeline, ...).
    description : dict, default=None
        What ``GET /api/model`` reports about the model (its file, accuracy, ...).
    max_body_bytes : int, default=10 MiB
        Larger request bodies get 413, from their Content-Length, unread.
    max_batch : int, default=64
        Most images the network classifies in one pass.
    allowed_hosts : list of str, default=None
        The names the ``Host`` header may give (others get 400), so that a web
        page elsewhere cannot have a browser post to this server by a name of
        its own; None answers any (``serve`` never passes None: see
        :func:`loopback_hosts`).
    image_slots : int, default=None
        Pictures read at once; more wait, and past ``MAX_WAITING`` waiting
        are answered 503. None: this process's share of the cores.
    image_seconds : float, default=IMAGE_SECONDS
        CPU seconds one picture's reading may take before it is answered 422.
    learned : bool, default=True
        Whether the learned finder finds the digits (see :func:`skdigits.find_digits`):
        blank surfaces, form boxes and frames are answered 422 "no digit found".
        False: the rules alone.

    Returns
    -------
    app : starlette.applications.Starlette
        An ASGI application; ``uvicorn.run(app)`` serves it.

    Examples
    --------
    >>> from starlette.testclient import TestClient
    >>> from skdigits import load_pretrained
    >>> from skdigits.apps._server import create_app
    >>> with TestClient(create_app(load_pretrained())) as client:
    ...     client.get("/api/health").json()["status"]
    'ok'
    """
    classes = list(getattr(model, "classes_", []))
    plain_classes = [plain(c) for c in classes]  # what every answer lists, made once
    batched = BatchedModel(model, max_batch=max_batch)
    started = time.time()
    slots = image_slots if image_slots is not None else _image_slots()
    reading = _Slots(slots, max_waiting=MAX_WAITING)

    async def recognise(request, single):
        data = await image_bytes(request, max_body_bytes)
        start = time.perf_counter()
        async with reading:
            found = await run_in_threadpool(find_digits, data, single=single, time_limit=image_seconds,
                                            learned=learned)
        proba = found.probabilities(await batched.predict_proba(found.images), classes)
        digits = [_digit(classes, p, image, box) for p, image, box in zip(proba, found.images, found.boxes)]
        return found, digits, 1000 * (time.perf_counter() - start)

    async def predict(request):
        found, digits, ms = await recognise(request, single=True)
        return JSONResponse({**digits[0], "classes": plain_classes,
                             "size": list(found.size), "milliseconds": ms})

    async def read(request):
        found, digits, ms = await recognise(request, single=False)
        text = "".join(str(d["label"]) for d in digits)
        return JSONResponse({"text": text, "digits": digits, "classes": plain_classes,
                             "size": list(found.size), "milliseconds": ms})

    async def health(request):
        return JSONResponse({"status": "ok", "uptime_seconds": time.time() - started})

    async def model_info(request):
        return JSONResponse({
            **(description or {}),
            "estimator": type(model).__name__,
            "classes": plain_classes,
            "max_body_bytes": max_body_bytes,
        })

    async def index(request):
        return FileResponse(WEB_ROOT / "index.html", media_type="text/html")

    async def http_error(request, exc):
        message = exc.detail
        if exc.status_code == 405:
            allowed = (exc.headers or {}).get("Allow", "")
            message = f"{request.method} is not allowed on {request.url.path}; use {allowed}"
        elif exc.status_code == 404:
            message = f"no such page or API: {request.url.path}"
        response = _error(exc.status_code, message)
        response.headers.update(exc.headers or {})
        return response

    async def image_error(request, exc):
        if isinstance(exc, ImageTooLargeError):
            status = 413
        elif isinstance(exc, (NoDigitError, ImageTooComplexError)):
            status = 422  # a readable image, but nothing in it to classify, or too costly to read
        else:
            status = 400
        return _error(status, str(exc))

    async def server_error(request, exc):
        # The exception's text can hold paths and values: it goes to the log, not to the client.
        _log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
        return _error(500, "internal error: the server could not answer this request; see its log")

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        batched.close()

    routes = [
        Route("/", index, methods=["GET"]),
        Route("/api/predict", predict, methods=["POST"]),
        Route("/api/read", read, methods=["POST"]),
        Route("/api/health", health, methods=["GET"]),
        Route("/api/model", model_info, methods=["GET"]),
        Mount("/static", StaticFiles(directory=str(WEB_ROOT)), name="static"),
    ]
    handlers = {HTTPException: http_error, ImageError: image_error, Exception: server_error}
    middleware = [] if allowed_hosts is None else [Middleware(HostCheck, allowed_hosts=allowed_hosts)]
    return Starlette(routes=routes, exception_handlers=handlers, lifespan=lifespan, middleware=middleware)


class HostCheck:
    """ASGI middleware: requests whose ``Host`` header names another host get a JSON 400.

    ``allowed_hosts`` holds names and addresses (an IPv6 one without
    brackets), ``"*.example.org"`` for a domain and its sub-domains, or
    ``"*"`` for any. A request without a Host header (HTTP/1.0) is answered.
    """

    def __init__(self, app, allowed_hosts):
        self.app = app
        self.allowed = {name.lower() for name in allowed_hosts}
        self.domains = tuple(name[1:] for name in self.allowed if name.startswith("*."))

    def allows(self, host):
        return "*" in self.allowed or host in self.allowed or host.endswith(self.domains)

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and "*" not in self.allowed:
            host = (Request(scope).url.hostname or "").lower()
            if not self.allows(host):
                response = _error(400, f"the Host header names {host!r}, which this server does not answer to; "
                                       f"start it with --allowed-host {host} if that is its name")
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class _Slots:
    """An async semaphore that answers 503 instead of letting more than ``max_waiting`` wait."""

    def __init__(self, slots, max_waiting):
        self._semaphore = asyncio.Semaphore(slots)
        self._waiting = 0
        self.max_waiting = max_waiting

    async def __aenter__(self):
        if self._semaphore.locked() and self._waiting >= self.max_waiting:
            raise HTTPException(503, "the server is busy: too many pictures are waiting to be read; try again",
                                headers={"Retry-After": "1"})
        self._waiting += 1
        try:
            await self._semaphore.acquire()
        finally:
            self._waiting -= 1

    async def __aexit__(self, *exc):
        self._semaphore.release()


def _image_slots():
    """Pictures one process reads at once: its share of the cores (``SKDIGITS_NUM_THREADS``), at least 1."""
    from .._threads import thread_limit

    return max(1, thread_limit() or os.cpu_count() or 1)


def loopback_hosts(host):
    """The ``Host`` names a server bound to ``host`` answers by default.

    Bound to a loopback address, only the loopback names: a page on the
    internet that makes a browser post to ``http://127.0.0.1:8000`` sends
    its own name, and is refused. Bound to one other address, that address
    and the loopback names. Bound to every address (0.0.0.0, ::), any name:
    put a reverse proxy that checks names in front (see the README).

    Examples
    --------
    >>> loopback_hosts("127.0.0.1")
    ['localhost', '127.0.0.1', '::1']
    >>> loopback_hosts("0.0.0.0")
    ['*']
    """
    names = ["localhost", "127.0.0.1", "::1"]
    if host in names:
        return names
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return [host.lower(), *names]  # a name: itself
    if address.is_unspecified:
        return ["*"]
    return names if address.is_loopback else [str(address), *names]


def model_description(path, runtime="onnx"):
    """What ``GET /api/model`` says about the model in ``path`` (None: the pretrained model) run by ``runtime``."""
    from importlib.metadata import version

    from .._version import __version__
    from ..model_files._model_files import pretrained_record

    packages = ("onnxruntime",) if runtime == "onnx" else ("keras", "tensorflow")
    versions = {"skdigits": __version__, "runtime": runtime, **{name: version(name) for name in packages}}
    if path is not None:
        return {"source": "model file", "file": os.path.basename(path), **versions}
    record = pretrained_record()
    keep = ("file", "test_accuracy", "n_test", "seed", "epochs_run", "timestamp", "git_revision")
    return {"source": "pretrained", **{k: record[k] for k in keep if k in record},
            "trained_with": record.get("versions", {}), **versions}


# How `serve` tells its worker processes what to serve.
_MODEL_VAR, _BODY_VAR, _HOSTS_VAR = "SKDIGITS_SERVE_MODEL", "SKDIGITS_SERVE_MAX_BODY", "SKDIGITS_SERVE_HOSTS"
_RUNTIME_VAR, _LEARNED_VAR = "SKDIGITS_SERVE_RUNTIME", "SKDIGITS_SERVE_LEARNED"


def app_from_environment():
    """The app of one worker process of ``serve(workers=n)``: model and limit from the environment."""
    import cv2

    from .._threads import thread_limit
    from ..model_files._model_files import load_model, load_pretrained

    # OpenCV sizes its pool to every core, as TensorFlow does: held to this
    # worker's share, the workers' image work does not fight over the cores.
    threads = thread_limit()
    if threads is not None:
        cv2.setNumThreads(threads)
    path = os.environ.get(_MODEL_VAR) or None
    runtime = os.environ.get(_RUNTIME_VAR, "onnx")
    model = load_pretrained(runtime=runtime) if path is None else load_model(path, runtime=runtime)
    hosts = os.environ.get(_HOSTS_VAR)
    return create_app(model, description=model_description(path, runtime),
                      max_body_bytes=int(os.environ.get(_BODY_VAR, MAX_BODY_BYTES)),
                      allowed_hosts=None if hosts is None else hosts.split(","),
                      learned=os.environ.get(_LEARNED_VAR, "1") == "1")


def default_workers():
    """Worker processes ``skdigits serve`` starts unless told: one per core, at most ``MAX_DEFAULT_WORKERS``."""
    return max(1, min(os.cpu_count() or 1, MAX_DEFAULT_WORKERS))


def uvicorn_options(*, host, port, verbose=False):
    """uvicorn's settings for ``serve``: the address, the logs, and the limits on each connection.

    Heads are limited in size and time (``skdigits.apps._http_limits``), a worker
    holds at most ``MAX_CONNECTIONS`` connections (more get 503), and an idle
    keep-alive connection is closed after 5 s.
    """
    from ._http_limits import LimitedHttpToolsProtocol

    return {"host": host, "port": port, "access_log": verbose, "log_level": "info" if verbose else "warning",
            "http": LimitedHttpToolsProtocol, "limit_concurrency": MAX_CONNECTIONS, "timeout_keep_alive": 5}


def serve(model, path=None, *, host="127.0.0.1", port=8000, workers=1, max_body_bytes=MAX_BODY_BYTES,
          allowed_hosts=None, runtime="onnx", verbose=False, learned=True):
    """Serve the page and the API with uvicorn until interrupted; False if the server could not start.

    With one worker, ``model`` (loaded from ``path``, None for the pretrained
    model) is served from this process. With more, each worker process loads
    its own copy from ``path`` with ``runtime`` ("onnx" or "keras") on its share of the cores.
    ``allowed_hosts`` (None: :func:`loopback_hosts` of ``host``) are the
    ``Host`` names answered. Each connection's head is limited in size and
    time (``skdigits.apps._http_limits``), and each worker holds at most
    ``MAX_CONNECTIONS`` connections. ``learned``: the learned finder finds the digits.
    """
    import uvicorn

    if allowed_hosts is None:
        allowed_hosts = loopback_hosts(host)
    options = uvicorn_options(host=host, port=port, verbose=verbose)
    if workers == 1:
        server = uvicorn.Server(uvicorn.Config(
            create_app(model, description=model_description(path, runtime), max_body_bytes=max_body_bytes,
                       allowed_hosts=allowed_hosts, learned=learned), **options))
        server.run()
        return server.started
    os.environ[_MODEL_VAR] = os.path.abspath(path) if path is not None else ""
    os.environ[_BODY_VAR] = str(max_body_bytes)
    os.environ[_HOSTS_VAR] = ",".join(allowed_hosts)
    os.environ[_RUNTIME_VAR] = runtime
    os.environ[_LEARNED_VAR] = "1" if learned else "0"
    if not verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # workers on Keras: no start-up lines
    # Workers that each size TensorFlow's pools to every core would fight over them.
    os.environ.setdefault("SKDIGITS_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // workers)))
    uvicorn.run("skdigits.apps._server:app_from_environment", factory=True, workers=workers, **options)
    return True
