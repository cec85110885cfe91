"""Reading many pictures: folders walked, worker processes or a Dask cluster, records as they come."""

import concurrent.futures
import math
import os
import signal
import threading
import time

import numpy as np

from ._records import digit_record

__all__ = ["image_files", "read_many", "photo_records"]

# The files a folder is searched for (by name; other files there are left alone).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif")
# Rows of an .npy array predicted in one call (the predictions of a row do not depend on the others).
NPY_BATCH = 256
# Inputs per task sent to a worker: few enough that an interrupted run waits
# a fraction of a second for the tasks under way, enough to amortise the transfer.
CHUNK = 4
# Tasks kept in flight per worker: the workers never wait, and a run over
# millions of files holds only a few of them at a time.
AHEAD = 4
# A worker process costs about half a second to start (Python, NumPy, OpenCV,
# ONNX Runtime and the model), the reading of a dozen photos: fewer inputs
# than this per worker are read in this process instead.
MIN_PER_WORKER = 16


def image_files(paths):
    """Each path given, and the image files of each folder given (searched recursively, sorted).

    Files named are kept whatever their kind (an ``.npy`` array, a picture
    without its suffix); in folders, only names ending in one of
    ``IMAGE_SUFFIXES`` (any case). A path named twice is read once.

    Examples
    --------
    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> for name in ("b.png", "a.JPG", "notes.txt"):
    ...     open(os.path.join(folder, name), "wb").close()
    >>> [os.path.basename(p) for p in image_files([folder])]
    ['a.JPG', 'b.png']
    """
    seen = set()
    for path in paths:
        path = os.fspath(path)
        found = _walk(path) if os.path.isdir(path) else [path]
        for name in found:
            if name not in seen:
                seen.add(name)
                yield name


def _walk(folder):
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            if name.lower().endswith(IMAGE_SUFFIXES):
                yield os.path.join(root, name)


def photo_records(path, model, what="read", *, show=None, skip=(), learned=True):
    """The JSON records of one input: what ``skdigits read`` or ``predict`` says of it, errors included.

    ``read``: one record, ``{file, text, digits: [{label, probability,
    box}]}``. ``predict``: one per picture, ``{file, label, probability,
    top3, box}``, or per row of an ``.npy`` array of images (named
    ``file[i]``; rows named in ``skip`` are left out). A file that cannot be
    read becomes one record with an ``error`` naming the problem.
    """
    try:
        return _records(path, model, what, show, skip, learned)
    except (OSError, ValueError, TypeError) as exc:
        message = str(exc) if str(exc).startswith(path) else f"{path}: {exc}"
    except Exception as exc:  # a picture no step foresaw must not end a run over thousands
        message = f"{path}: cannot be read ({type(exc).__name__}: {exc})"
    if what == "read":
        return [{"file": path, "text": None, "digits": [], "error": message}]
    return [{"file": path, "label": None, "probability": None, "error": message}]


def _records(path, model, what, show, skip, learned=True):
    if what == "read":
        from ._reading import read_digits

        reading = read_digits(path, model, learned=learned)
        if show:
            from ._show import save_show

            save_show(_show_path(show, path), path, reading.boxes, reading.images, reading.labels,
                      reading.probabilities)
        return [{"file": path, **reading.to_dict()}]
    image_shape = getattr(model, "image_shape_", (28, 28))
    if path.lower().endswith(".npy"):
        array = npy_images(path, image_shape)
        rows = [i for i in range(len(array)) if f"{path}[{i}]" not in skip]
        records = []
        for start in range(0, len(rows), NPY_BATCH):
            chunk = rows[start:start + NPY_BATCH]
            proba = model.predict_proba(np.asarray(array[chunk]))
            records.extend(_prediction(f"{path}[{i}]", model.classes_, p) for i, p in zip(chunk, proba))
        return records
    from ._images import find_digits

    found = find_digits(path, single=True, learned=learned)
    record = _prediction(path, model.classes_, model.predict_proba(found.images[:1])[0], found.boxes[0])
    if show:
        from ._show import save_show

        save_show(_show_path(show, path), path, found.boxes, found.images[:1], [record["label"]],
                  [record["probability"]])
    return [record]


def _prediction(name, classes, proba, box=None):
    """The record of one image's prediction: its file and the digit's record (see ``digit_record``)."""
    return {"file": name, **digit_record(classes, proba, box)}


def npy_images(path, image_shape):
    """The images of an .npy file, memory-mapped, after its header is checked against the file and the model.

    Nothing is read but the header until it is known that the file holds
    numbers of the model's image shape, as many as the header says: a file
    of a few bytes that declares a hundred million images is refused, not
    allocated.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such file")
    with open(path, "rb") as file:
        try:
            version = np.lib.format.read_magic(file)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(file)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(file)
            else:
                raise ValueError(f"format version {version[0]}.{version[1]} is not read")
        except Exception as exc:  # NumPy's header parser raises ValueError, SyntaxError, TokenError, ...
            raise ValueError(f"{path}: not a readable .npy array ({str(exc)[:200]})") from None
        offset, size = file.tell(), os.fstat(file.fileno()).st_size
    if dtype.kind not in "biuf":
        what = {"U": "text", "S": "bytes", "O": "Python objects", "c": "complex numbers", "V": "records",
                "M": "dates", "m": "time spans"}.get(dtype.kind, "values")
        raise ValueError(f"{path}: holds {what} ({dtype.str}), not real numbers; images are integers or floats")
    height, width = image_shape
    if tuple(shape) == (height, width):
        shape = (1, height, width)
    if len(shape) not in (3, 4) or math.prod(shape[1:]) != height * width:
        raise ValueError(f"{path}: expected an array of {height}x{width} images (n, {height}, {width}), "
                         f"got shape {tuple(shape)}")
    needed = math.prod(shape) * dtype.itemsize
    if offset + needed > size:
        raise ValueError(f"{path}: is truncated: its header declares {shape[0]:,} images "
                         f"({needed:,} bytes), the file holds {size - offset:,} bytes of data")
    if shape[0] == 0:
        return np.empty((0, height, width), dtype)
    return np.load(path, mmap_mode="r", allow_pickle=False).reshape(shape[0], height, width)


def _show_path(folder, name):
    """DIR/<file name>.png for an input, with characters that are awkward in file names replaced."""
    stem = os.path.basename(name).replace("[", "_").replace("]", "")
    return os.path.join(folder, stem + ".png")


def read_many(paths, model=None, *, what="read", n_jobs=None, client=None, runtime="onnx", skip=(), show=None,
              learned=True):
    """Read many pictures, in worker processes or on a Dask cluster; yield each record as it is ready.

    Parameters
    ----------
    paths : iterable of str or path-like
        Picture files and folders (searched recursively for images; see
        :func:`image_files`).
    model : None, str, path-like or fitted classifier, default=None
        None: the pretrained model; a path: a model file (each worker loads
        it once); a fitted classifier: sent to each worker once.
    what : {"read", "predict"}, default="read"
        ``read``: the number written in each picture (as ``skdigits read``);
        ``predict``: the one digit in each picture (as ``skdigits predict``).
    n_jobs : int, default=None
        Worker processes, each holding its own model; None or -1: one per
        core. At most one per ``MIN_PER_WORKER`` pictures is started; with
        one, the pictures are read in this process.
    client : dask.distributed.Client, default=None
        Read on this Dask cluster instead: each worker loads the model once
        (a worker plugin) and the files must be readable there.
    runtime : {"onnx", "keras"}, default="onnx"
        What runs a model given by path or as None.
    skip : collection of str, default=()
        Records' ``file`` names not to read again (those of an earlier run).
    show : str, default=None
        A folder to write each picture with its boxes and inputs to.
    learned : bool, default=True
        Whether the learned finder finds the digits (see :func:`skdigits.find_digits`);
        False: the rules alone.

    Yields
    ------
    record : dict
        One per picture (per row of an ``.npy`` array with ``predict``), in
        the order they are ready: the fields of ``skdigits read --json`` or
        ``predict --json``; a picture that cannot be read yields a record
        with an ``error``, and the others are read all the same.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from PIL import Image
    >>> from skdigits import load_mnist, read_many
    >>> _, X_test, _, y_test = load_mnist(n_test=2, random_state=0)
    >>> folder = tempfile.mkdtemp()
    >>> for i, digit in enumerate(X_test):
    ...     Image.fromarray(255 - np.kron(digit, np.ones((4, 4), np.uint8))).save(f"{folder}/{i}.png")
    >>> records = sorted(read_many([folder], what="predict", n_jobs=1), key=lambda r: r["file"])
    >>> [r["label"] for r in records] == list(y_test)
    True
    """
    for _, records in _read_inputs(list(image_files(paths)), model, what=what, n_jobs=n_jobs, client=client,
                                   runtime=runtime, skip=skip, show=show, learned=learned):
        yield from records


def _read_inputs(inputs, model=None, *, what="read", n_jobs=None, client=None, runtime="onnx", skip=(), show=None,
                 loaded=None, learned=True):
    """(input, its records) per input of ``inputs`` not in ``skip``, as they are ready.

    ``loaded``: ``model`` already loaded here, used if the inputs are read in this process.
    """
    if what not in ("read", "predict"):
        raise ValueError(f"what must be 'read' or 'predict', got {what!r}")
    skip = set(skip)
    tasks = _tasks(inputs, skip)
    spec = _model_spec(model, runtime)
    if client is not None:
        yield from _on_dask(client, tasks, spec, what, show, learned)
        return
    workers = _worker_count(n_jobs, len(tasks))
    if workers <= 1:
        loaded = _load(spec) if loaded is None else loaded
        for path, rows in tasks:
            yield path, photo_records(path, loaded, what, show=show, skip=rows, learned=learned)
        return
    yield from _in_processes(tasks, spec, what, show, workers, learned)


def _tasks(inputs, skip):
    """(input, names of its .npy rows to skip) for each input not wholly done."""
    rows = {}
    for name in skip:
        stem, bracket, _ = name.rpartition("[")
        if bracket and stem.lower().endswith(".npy"):
            rows.setdefault(stem, set()).add(name)
    return [(path, frozenset(rows.get(path, ()))) for path in inputs if path not in skip]


def _cores():
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _worker_count(n_jobs, n_inputs):
    if n_jobs is None or n_jobs == -1:
        n_jobs = _cores()
    if not isinstance(n_jobs, (int, np.integer)) or n_jobs < 1:
        raise ValueError(f"n_jobs must be a positive integer, -1 or None, got {n_jobs!r}")
    return max(1, min(int(n_jobs), math.ceil(n_inputs / MIN_PER_WORKER)))


def _model_spec(model, runtime):
    """What each worker loads: ("pretrained", runtime), ("file", path, runtime) or ("object", model)."""
    if runtime not in ("onnx", "keras"):
        raise ValueError(f"runtime must be 'onnx' or 'keras', got {runtime!r}")
    if model is None:
        return ("pretrained", runtime)
    if isinstance(model, (str, os.PathLike)):
        path = os.fspath(model)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path}: no such model file")
        return ("file", os.path.abspath(path), runtime)
    if not hasattr(model, "predict_proba") or not hasattr(model, "classes_"):
        raise TypeError(f"model must be None, a model file or a fitted classifier, got {type(model).__name__}")
    return ("object", model)


def _load(spec):
    from ..model_files._model_files import load_model, load_pretrained

    if spec[0] == "pretrained":
        return load_pretrained(runtime=spec[1])
    if spec[0] == "file":
        return load_model(spec[1], runtime=spec[2])
    return spec[1]


def _chunks(tasks):
    return [tasks[start:start + CHUNK] for start in range(0, len(tasks), CHUNK)]


# The model of a worker process, loaded once by its initializer.
_worker_model = None


def _start_worker(spec, threads):
    """Initializer of a worker process: its share of the cores, and its model."""
    global _worker_model
    # Ctrl+C reaches the whole process group; the parent alone decides what stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _exit_with(os.getppid())
    _limit_threads(threads)
    _heap_for_images()
    _worker_model = _load(spec)


# glibc's mallopt parameter, and the largest allocation served from the heap once it is set.
_M_MMAP_THRESHOLD, _HEAP_UP_TO = -3, 16 * 1024 * 1024


def _heap_for_images():
    """Serve images' arrays from the heap again where MALLOC_TRIM_THRESHOLD_ stopped glibc from doing so.

    Dask's nannies set MALLOC_TRIM_THRESHOLD_ (so that freed memory goes back
    to the system); setting it also fixes glibc's mmap threshold at 128 KiB,
    so every array of a photo is mapped and unmapped afresh, and reading
    took 1.75 times the CPU. The trim threshold is left as it was set.
    """
    if "MALLOC_TRIM_THRESHOLD_" not in os.environ or "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return
    import ctypes
    import ctypes.util

    try:
        ctypes.CDLL(ctypes.util.find_library("c")).mallopt(_M_MMAP_THRESHOLD, _HEAP_UP_TO)
    except (OSError, AttributeError, TypeError):  # not glibc: nothing to undo
        pass


def _limit_threads(threads):
    """OpenCV's and ONNX Runtime's threads in this process held to ``threads``: its share of the cores."""
    import cv2

    os.environ["SKDIGITS_NUM_THREADS"] = str(threads)
    cv2.setNumThreads(threads)


def _exit_with(parent):
    """End this worker soon after its parent is gone (killed with SIGKILL), not wait for work forever."""
    def watch():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="skdigits-parent-watch", daemon=True).start()


def _read_chunk(chunk, what, show, learned):
    return [(path, photo_records(path, _worker_model, what, show=show, skip=rows, learned=learned))
            for path, rows in chunk]


def _in_processes(tasks, spec, what, show, workers, learned=True):
    import multiprocessing

    threads = max(1, _cores() // workers)
    # "spawn": a fresh interpreter, safe whatever threads this process runs
    # (ONNX Runtime's, TensorFlow's, a progress bar's).
    context = multiprocessing.get_context("spawn")
    chunks = iter(_chunks(tasks))
    executor = concurrent.futures.ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker,
                                                      initargs=(spec, threads))
    pending = set()
    try:
        for chunk in _take(chunks, workers * AHEAD):
            pending.add(executor.submit(_read_chunk, chunk, what, show, learned))
        while pending:
            done, pending = concurrent.futures.wait(pending, return_when=concurrent.futures.FIRST_COMPLETED)
            for future in done:
                for chunk in _take(chunks, 1):
                    pending.add(executor.submit(_read_chunk, chunk, what, show, learned))
                yield from _chunk_result(future)
    finally:
        # Interrupted or done: nothing more starts; the few tasks under way finish.
        executor.shutdown(wait=True, cancel_futures=True)


def _chunk_result(future):
    try:
        return future.result()
    except concurrent.futures.process.BrokenProcessPool:
        raise RuntimeError("a worker process died (killed, or out of memory) while reading; what was read "
                           "is kept: run again with --resume to go on") from None


def _take(iterator, n):
    for _ in range(n):
        item = next(iterator, None)
        if item is None:
            return
        yield item


_PLUGIN = "skdigits-model"


def _model_plugin(spec):
    from distributed.diagnostics.plugin import WorkerPlugin

    class ModelPlugin(WorkerPlugin):
        """Loads the model once on each Dask worker, as it joins."""

        def __init__(self, spec):
            self.spec = spec
            self.model = None

        def setup(self, worker):
            from .._threads import thread_limit

            # A nanny sets OMP_NUM_THREADS to the worker's share; without one, cores per task thread.
            _limit_threads(thread_limit() or max(1, _cores() // worker.state.nthreads))
            _heap_for_images()
            self.model = _load(self.spec)

    return ModelPlugin(spec)


def _dask_chunk(chunk, what, show, learned=True):
    from distributed import get_worker

    model = get_worker().plugins[_PLUGIN].model
    return [(path, photo_records(path, model, what, show=show, skip=rows, learned=learned)) for path, rows in chunk]


def _on_dask(client, tasks, spec, what, show, learned=True):
    from distributed import as_completed

    client.register_plugin(_model_plugin(spec), name=_PLUGIN)
    workers = max(1, sum(client.nthreads().values()))
    chunks = iter(_chunks(tasks))
    running, live = as_completed(), set()

    def submit(chunk):
        future = client.submit(_dask_chunk, chunk, what, show, learned, pure=False)
        live.add(future)
        running.add(future)

    try:
        for chunk in _take(chunks, workers * AHEAD):
            submit(chunk)
        for future in running:
            for chunk in _take(chunks, 1):
                submit(chunk)
            yield from future.result()
            # Let go of it: the cluster keeps a result while a future refers to it.
            live.discard(future)
    finally:
        client.cancel(list(live))
