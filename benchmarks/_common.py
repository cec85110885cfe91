"""Shared by the benchmark scripts (and the tests): what machine and versions a result came from, timers, test pictures.

The scripts import every shared helper from here, never from each other. The
generators of photos are long enough to live in modules of their own
(``_photos.py``, ``_scenes.py``, ``_photo_digits.py``); their public names are
imported here.
"""

import datetime
import io
import json
import os
import platform
import socket
import struct
import subprocess
import sys
import time
import urllib.request
import zlib

import numpy as np
from PIL import Image

from _photo_digits import photo_digits, scene_digits  # noqa: F401
from _photos import ALL_BUT, CONDITIONS, SURFACES, make_photo  # noqa: F401
from _scenes import make_scene, print_words  # noqa: F401


def _cpuinfo(field):
    """The value of the first line of /proc/cpuinfo that starts with ``field``: "" if none does, None if unreadable."""
    try:
        with open("/proc/cpuinfo") as fh:
            return next((line.split(":", 1)[1].strip() for line in fh if line.startswith(field)), "")
    except OSError:
        return None


def cpu_model():
    return _cpuinfo("model name") or platform.processor() or "unknown"


def cpu_mhz():
    """The clock /proc/cpuinfo gives (None where it gives none): machines of one kind differ by it."""
    try:
        return round(float(_cpuinfo("cpu MHz")))
    except (TypeError, ValueError):
        return None


def machine_kind():
    """"AVX-512" or "AVX2": the two kinds of development machine, whose timings differ by up to 2x."""
    flags = _cpuinfo("flags")
    if flags is None:
        return "unknown"
    return "AVX-512" if "avx512f" in flags.split() else "AVX2" if "avx2" in flags.split() else "other"


def use_onednn():
    """Have TensorFlow run its oneDNN kernels on either kind of machine; call it before TensorFlow is imported.

    TensorFlow turns them on by itself only on CPUs with AVX-512 VNNI or newer
    instructions: on the AVX2 kind it runs Eigen's kernels, and the networks'
    training steps took about twice as long (the CHANGELOG has the measurements).
    ``TF_ENABLE_ONEDNN_OPTS`` set by the user is left as it is.
    """
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")


def git_revision():
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                             cwd=os.path.dirname(os.path.abspath(__file__)))
        # The results a batch of benchmarks has already written are not a change to what is measured.
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ":(top)",
                                ":(top,exclude)benchmarks/results"], capture_output=True,
                               text=True, cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def environment():
    """Versions, machine, time and command: the provenance every result file carries."""
    import keras
    import scikeras
    import sklearn
    import tensorflow as tf

    import skdigits

    return {
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(["python"] + sys.argv),
        "git_revision": git_revision(),
        "versions": {
            "python": platform.python_version(),
            "skdigits": skdigits.__version__,
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "scikeras": scikeras.__version__,
            "scikit-learn": sklearn.__version__,
            "numpy": np.__version__,
        },
        # Which kernels TensorFlow ran (None: its own choice, by the CPU; see use_onednn).
        "tf_enable_onednn_opts": os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
        "machine": {
            "cpu": cpu_model(),
            "kind": machine_kind(),
            "cpu_mhz": cpu_mhz(),
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        },
    }


def free_port():
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(port, model=None, workers=1, rules=False):
    """``python -m skdigits serve`` on loopback (``--rules`` with ``rules``), once it answers ``/api/health``."""
    command = [sys.executable, "-m", "skdigits", "serve", "--port", str(port), "--workers", str(workers)]
    if rules:
        command.append("--rules")
    if model:
        command += ["--model", model]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server stopped: {process.stderr.read()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2):
                return process
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError("the server did not start within 120 s")


# The web page's drawing pad, in pixels a side.
PAD = 280


def png_bytes(array, **options):
    """The bytes of ``array`` saved as a PNG (``options`` go to Pillow's PNG writer)."""
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "PNG", **options)
    return buffer.getvalue()


def dots(side, step, dot=2):
    """White paper with a square dot every ``step`` pixels: one mark per dot (a picture made to be costly)."""
    page = np.full((side, side), 255, np.uint8)
    for y in range(2, side - dot, step):
        for x in range(2, side - dot, step):
            page[y:y + dot, x:x + dot] = 0
    return page


def text_chunk_bomb(inflated):
    """A 50x50 PNG with a compressed text chunk after its header that inflates to ``inflated`` zero bytes."""
    clean = png_bytes(np.full((50, 50), 200, np.uint8), optimize=True)
    text = b"zTXt" + b"comment\x00\x00" + zlib.compress(bytes(inflated), 9)
    chunk = struct.pack(">I", len(text) - 4) + text + struct.pack(">I", zlib.crc32(text))
    return clean[:33] + chunk + clean[33:]  # after the signature and IHDR


def sixteen_bit_png():
    """A 7000x7000 16-bit grey PNG with one dark bar: 98 MB of samples in a few hundred kilobytes."""
    page = np.full((7000, 7000), 50000, np.uint16)
    page[3000:4000, 3400:3600] = 2000
    return png_bytes(page, optimize=True)


def pad_png(digit):
    """An MNIST digit as the page's pad sends it: 280x280 RGBA PNG, black strokes on white."""
    ink = Image.fromarray(digit).resize((200, 200), Image.BICUBIC)
    canvas = Image.new("L", (PAD, PAD), 0)
    canvas.paste(ink, (40, 40))
    gray = 255 - np.asarray(canvas)
    rgba = np.dstack([gray, gray, gray, np.full_like(gray, 255)])
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, "PNG")
    return buffer.getvalue()


def timed(fn, *args, **kwargs):
    """(result, seconds) of one call."""
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


def best_of(fn, repeat=3):
    """Fastest of ``repeat`` calls, in seconds: the least disturbed by a noisy machine."""
    return min(timed(fn)[1] for _ in range(repeat))


def median_latency(fn, n=200):
    """Median seconds of ``n`` calls (after one warm-up call)."""
    fn()
    times = [timed(fn)[1] for _ in range(n)]
    return float(np.median(times))


def write_json(path, payload):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as fh:
        json.dump(payload, fh, indent=2, default=_jsonable)
        fh.write("\n")
    print(f"wrote {path}", flush=True)


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def read_single(photo, model, learned=False):
    """What ``skdigits predict`` reads in a photo (BGR) of one digit.

    Returns (label, seconds of preprocessing), or (None, None) when no digit is found.
    """
    from skdigits import ImageError, to_mnist

    start = time.perf_counter()
    try:
        image = to_mnist(photo[:, :, ::-1], learned=learned)
    except ImageError:
        return None, None
    spent = time.perf_counter() - start
    return int(model.predict(image[None])[0]), spent


def read_number(photo, model, learned=False):
    """The text ``read_digits`` reads in a photo (BGR) of a number; "" when it finds no digit."""
    from skdigits import ImageError, read_digits

    try:
        return read_digits(photo[:, :, ::-1], model, learned=learned).text
    except ImageError:
        return ""


def wilson_interval(successes, n, z=1.96):
    """The Wilson score interval (95% by default) of a proportion, as [low, high]; None when n is 0.

    Unlike the normal approximation it stays inside [0, 1] and is not zero
    wide when every photo is read right.
    """
    if n == 0:
        return None
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return [float(max(0.0, centre - half)), float(min(1.0, centre + half))]


def start_network(build, seed, init=None, read_tensors=None):
    """A Keras network from ``build()``, seeded, for training: (model, the record it started from or None).

    With ``init`` (a shipped network's tensors with their ``.json`` record beside
    them, read by ``read_tensors(path, checksum)``) it starts from those weights:
    a further stage of training.
    """
    import keras

    from skdigits.estimator._runtime import limit_tensorflow_threads

    limit_tensorflow_threads()
    keras.utils.set_random_seed(seed)
    model = build()
    stage = None
    if init:
        with open(os.path.splitext(init)[0] + ".json") as fh:
            stage = json.load(fh)
        tensors = read_tensors(init, stage["tensors_sha256"])
        for variable in model.weights:
            variable.assign(tensors[variable.path])
    return model, stage


def warm_cosine(learning_rate, steps):
    """Adam's schedule for the reader's networks: up from a tenth over 200 steps, then a cosine down to 0."""
    import keras

    return keras.optimizers.schedules.CosineDecay(learning_rate / 10, steps, warmup_steps=200,
                                                  warmup_target=learning_rate)


def save_tensors(tensors, path, name):
    """``tensors`` written to ``path`` (safetensors, tagged ``name``, readable by all): their SHA-256."""
    from safetensors.numpy import save_file

    from skdigits.model_files._checks import tensors_sha256

    # Made as write_json makes its folder: an hour of training is not lost to a missing one.
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    save_file(tensors, path, metadata={"skdigits": name})
    os.chmod(path, 0o644)  # package data, readable by all (safetensors writes 0600)
    return tensors_sha256(tensors)
