"""What hostile inputs cost skdigits: pictures, a server's memory, model files and .npy files.

Each picture is read in this process with ``find_digits(..., time_limit=1.0)``
(the server's limit) and its CPU seconds and outcome recorded, as is each of
``--distorted`` photos of every kind of ``photos.py`` (MNIST test digits, printed
words beside them on some, turned, cut, squashed), read by the rules and with
the finder: any failure other than ``ImageError`` is a bug; the server's
peak memory is read from ``/proc`` before and after it reads a 7000x7000 16-bit
PNG (``skdigits serve --workers 1``); each tampered model file is given to
``load_model``, and each hostile ``.npy`` to ``skdigits predict``, timing the
refusal.

    python benchmarks/hostile_inputs.py --output benchmarks/results/hostile_inputs.json
"""

import argparse
import contextlib
import functools
import io
import json
import os
import struct
import sys
import tempfile
import time
import urllib.error
import urllib.request

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import (  # noqa: E402
    CONDITIONS,
    SURFACES,
    dots,
    environment,
    free_port,
    make_photo,
    png_bytes,
    print_words,
    sixteen_bit_png,
    start_server,
    text_chunk_bomb,
    write_json,
)

from skdigits import ImageError, ModelFileError, find_digits, load_mnist, load_model  # noqa: E402
from skdigits.model_files._checks import METADATA_KEY  # noqa: E402

PRETRAINED = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "skdigits", "data",
                          "pretrained.safetensors")


# The reader's two paths, by the name the results give each: whether it reads with the finder.
PATHS = {"rules": False, "finder": True}

# Each picture saved as small as Pillow makes it: a small upload that costs much.
png = functools.partial(png_bytes, optimize=True)


def pictures():
    """(name, bytes) of each hostile picture."""
    rng = np.random.default_rng(0)
    bomb = text_chunk_bomb(200_000_000)
    palette = b"".join(bytes([i, i, i, 0]) for i in range(256))
    header = struct.pack("<IiiHHIIiiII", 40, 50, 50, 1, 8, 1, 3, 2835, 2835, 256, 0)
    offset = 14 + len(header) + len(palette)
    rle = b"BM" + struct.pack("<IHHI", offset + 3, 0, 0, offset) + header + palette + b"\x05\x10\x00"
    return [
        ("dots every 5 pixels, 200x200", png(dots(200, 5))),
        ("dots every 4 pixels, 1000x1000", png(dots(1000, 4))),
        ("dots every 6 pixels, 2000x2000", png(dots(2000, 6, 3))),
        ("binary noise, 1000x1000", png(np.uint8(rng.random((1000, 1000)) > 0.5) * 255)),
        ("salt and pepper, 1000x1000", png(np.where(rng.random((1000, 1000)) > 0.97, 0, 255).astype(np.uint8))),
        ("checkerboard, 1000x1000", png(np.uint8(np.indices((1000, 1000)).sum(0) % 2 * 255))),
        ("stripes, 1000x700", png(np.tile(np.uint8(np.arange(1000) % 4 < 2) * 255, (700, 1)))),
        ("7000x7000 16-bit grey", sixteen_bit_png()),
        ("PNG text chunk of 200 MB", bomb),
        ("damaged run-length BMP", rle),
    ]


def read_pictures():
    rows = []
    for name, data in pictures():
        start = time.thread_time()
        try:
            found = find_digits(data, time_limit=1.0)
            outcome = f"read: {len(found.boxes)} digit(s)"
        except ImageError as exc:
            outcome = f"{type(exc).__name__}: {exc}"
        rows.append({"picture": name, "bytes": len(data), "cpu_seconds": time.thread_time() - start,
                     "outcome": outcome})
        print(f"{name} ({len(data):,} bytes): {rows[-1]['cpu_seconds']:.3f} s CPU, {outcome[:90]}", flush=True)
    return rows


def distorted_photo(digits, rng):
    """A photo of ``digits`` of a random kind, at times with printed words, turned, cut or squashed (RGB)."""
    kind = (CONDITIONS + SURFACES)[rng.integers(len(CONDITIONS + SURFACES))]
    photo, which = make_photo(digits, kind, rng, long_side=int(rng.choice([500, 900, 1400])), truth=True)
    if kind != "chalk" and rng.random() < 0.6:
        photo = print_words(photo, which, rng)
    h, w = photo.shape[:2]
    if rng.random() < 0.5:  # turned up to 35 degrees and zoomed, the corners filled or black
        turn = cv2.getRotationMatrix2D((w / 2, h / 2), rng.uniform(-35, 35), rng.uniform(0.6, 1.3))
        border = int(rng.choice([cv2.BORDER_REPLICATE, cv2.BORDER_CONSTANT]))
        photo = cv2.warpAffine(photo, turn, (w, h), borderMode=border)
    if rng.random() < 0.5:  # cut: digits may run off the picture
        top, left = int(rng.uniform(0, 0.4) * h), int(rng.uniform(0, 0.4) * w)
        photo = photo[top:top + int(rng.uniform(0.3, 1) * h), left:left + int(rng.uniform(0.3, 1) * w)]
    if rng.random() < 0.3:
        photo = cv2.resize(photo, None, fx=rng.uniform(0.3, 1.5), fy=rng.uniform(0.3, 1.5))
    return kind, np.ascontiguousarray(photo[:, :, ::-1])


def read_distorted(count, seed=0):
    """Read ``count`` distorted photos by both paths: how many were read, refused and failed, and the CPU."""
    _, X_test, _, _ = load_mnist()
    rng = np.random.default_rng(seed)
    result = {"photos": count, "seed": seed}
    for path in PATHS:
        result[path] = {"read": 0, "refused": 0, "failed": [], "max_cpu_seconds": 0.0}
    for k in range(count):
        kind, photo = distorted_photo(X_test[rng.integers(len(X_test), size=int(rng.integers(0, 9)))], rng)
        for path, learned in PATHS.items():
            counts = result[path]
            start = time.thread_time()
            try:
                find_digits(photo, learned=learned, time_limit=1.0)
                counts["read"] += 1
            except ImageError:
                counts["refused"] += 1
            except Exception as exc:  # a bug: the photo and the error, to reproduce it
                counts["failed"].append({"photo": k, "kind": kind, "error": f"{type(exc).__name__}: {exc}"[:300]})
            counts["max_cpu_seconds"] = max(counts["max_cpu_seconds"], time.thread_time() - start)
    for path in PATHS:
        counts = result[path]
        print(f"{count} distorted photos, {path}: {counts['read']} read, {counts['refused']} refused, "
              f"{len(counts['failed'])} failed; at most {counts['max_cpu_seconds']:.3f} s CPU", flush=True)
    return result


def _peak_mb(pid):
    with open(f"/proc/{pid}/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM")) / 1024


def server_memory():
    """The rise in ``skdigits serve --workers 1``'s peak resident memory while it reads the 16-bit PNG."""
    port = free_port()
    server = start_server(port)
    try:
        before = _peak_mb(server.pid)
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/read", data=sixteen_bit_png(),
                                         headers={"Content-Type": "image/png"})
        start = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        seconds = time.perf_counter() - start
        after = _peak_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    result = {"picture": "7000x7000 16-bit grey", "status": status, "seconds": seconds,
              "peak_mb_before": before, "peak_mb_after": after, "peak_rise_mb": after - before}
    print(f"server: {status} in {seconds:.2f} s, peak memory up {after - before:.0f} MB", flush=True)
    return result


def _tampered(folder, name, change):
    """A copy of the pretrained model file with its skdigits header changed by ``change(text) -> text``."""
    data = open(PRETRAINED, "rb").read()
    length = int.from_bytes(data[:8], "little")
    outer = json.loads(data[8:8 + length])
    outer["__metadata__"][METADATA_KEY] = change(outer["__metadata__"][METADATA_KEY])
    head = json.dumps(outer).encode()
    head += b" " * (-len(head) % 8)
    path = os.path.join(folder, name + ".safetensors")
    with open(path, "wb") as fh:
        fh.write(len(head).to_bytes(8, "little") + head + data[8 + length:])
    return path


def _set(path, value):
    """A header change: the JSON value at ``path`` (keys) set to ``value``."""
    def change(text):
        header = json.loads(text)
        node = header
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        return json.dumps(header)
    return change


def model_files(flips):
    cases = {
        "filters 1e9": _set(("params", "filters"), 10**9),
        "dense_units 1e7": _set(("params", "dense_units"), 10**7),
        "kernel_size 1e6": _set(("params", "kernel_size"), 10**6),
        "conv_blocks 1000": _set(("params", "conv_blocks"), 1000),
        "pixel_std 1e400": lambda text: text.replace('"pixel_std": ', '"pixel_std": 1e400, "x": '),
        "pixel_mean 1e308": _set(("fitted", "pixel_mean"), 1e308),
        "label 2**70": _set(("fitted", "classes", "values", 9), 2**70),
        "JSON nested 100,000 deep": lambda text: text.replace('"epochs": ', '"epochs": ' + "[" * 100_000
                                                              + "]" * 100_000 + ', "x": '),
        "routed compile__foo": _set(("params", "compile__foo"), 1),
        "header an object": lambda text: {"format": "skdigits-cnn"},
    }
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name, change in cases.items():
            path = _tampered(folder, name.replace(" ", "_").replace("*", ""), change)
            start = time.process_time()
            try:
                load_model(path)
                outcome = "loaded"
            except ModelFileError as exc:
                outcome = "ModelFileError: " + str(exc).split(": ", 1)[1]
            except Exception as exc:  # what the benchmark is here to find
                outcome = f"{type(exc).__name__}: {exc}"[:300]
            rows.append({"file": name, "cpu_seconds": time.process_time() - start, "outcome": outcome})
            print(f"model file, {name}: {rows[-1]['cpu_seconds']:.3f} s CPU, {outcome[:90]}", flush=True)
        data = bytearray(open(PRETRAINED, "rb").read())
        start_of_data = 8 + int.from_bytes(data[:8], "little")
        rng = np.random.default_rng(0)
        refused = 0
        path = os.path.join(folder, "flipped.safetensors")
        for position in rng.integers(start_of_data, len(data), size=flips):
            flipped = bytearray(data)
            flipped[position] ^= 1 << int(rng.integers(8))
            with open(path, "wb") as fh:
                fh.write(flipped)
            try:
                load_model(path)
            except ModelFileError:
                refused += 1
        rows.append({"file": f"{flips} random single-bit flips in the weights", "refused": refused})
        print(f"model file, {flips} bit flips in the weights: {refused} refused", flush=True)
    return rows


def npy_files():
    from skdigits.apps._cli import main

    header = repr({"descr": "|u1", "fortran_order": False, "shape": (100_000_000, 28, 28)}).encode()
    header += b" " * (-(len(header) + 11) % 64) + b"\n"
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        cases = {
            "declares 1e8 images": b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + bytes(100),
        }
        for name, array in (("strings", np.array([["a" * 28] * 28])),
                            ("complex", np.zeros((2, 28, 28), np.complex64) + 1j)):
            buffer = io.BytesIO()
            np.save(buffer, array)
            cases[name] = buffer.getvalue()
        for name, data in cases.items():
            path = os.path.join(folder, name.replace(" ", "_") + ".npy")
            with open(path, "wb") as fh:
                fh.write(data)
            stderr = io.StringIO()
            start = time.process_time()
            with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
                status = main(["predict", path])
            rows.append({"file": name, "bytes": len(data), "cpu_seconds": time.process_time() - start,
                         "exit_status": status, "stderr": stderr.getvalue().strip()})
            print(f".npy, {name}: exit {status}, {rows[-1]['stderr'][:90]}", flush=True)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flips", type=int, default=200, help="random single-bit flips of the weights to load")
    parser.add_argument("--distorted", type=int, default=300, help="distorted photos to read by both paths")
    parser.add_argument("--output", default="benchmarks/results/hostile_inputs.json")
    args = parser.parse_args(argv)
    result = {**environment(), "pictures": read_pictures(), "distorted_photos": read_distorted(args.distorted),
              "server_memory": server_memory(),
              "model_files": model_files(args.flips), "npy_files": npy_files()}
    write_json(args.output, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
