"""How fast skdigits starts, and what test-time averaging costs, on each runtime.

Side by side in one run, each command in a fresh process, median of
``--repeat`` runs, with the process's peak resident memory:

- ``skdigits predict pad.png`` (ONNX Runtime, the default);
- ``python -c "import tensorflow"`` alone, the floor of any Keras path;
- ``skdigits predict --runtime keras pad.png``.

Then ``skdigits serve --workers 1``: seconds from its start until
``/api/health`` answers. Then, in this process, images per second and the
latency of one image with and without test-time averaging, on both runtimes.

    python benchmarks/startup.py --output benchmarks/results/startup.json
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import environment, free_port, pad_png, write_json  # noqa: E402

from skdigits import load_mnist  # noqa: E402

# Runs a command and prints its peak resident memory. Linux carries a process's
# peak over to the program it execs, so the command is started from this small
# process, not from the benchmark, whose own peak it would otherwise report.
_MEASURE = (
    "import os, subprocess, sys, time\n"
    "start = time.perf_counter()\n"
    "process = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
    "_, status, usage = os.wait4(process.pid, 0)\n"
    "print(status, usage.ru_maxrss, time.perf_counter() - start)\n"
)


def run_once(command):
    """(wall seconds, peak resident MB) of ``command`` in a fresh process."""
    measured = subprocess.run([sys.executable, "-c", _MEASURE, *command], capture_output=True, text=True,
                              check=True)
    status, peak_kb, seconds = measured.stdout.split()
    if int(status) != 0:
        raise RuntimeError(f"{command} exited with status {status}")
    return float(seconds), int(peak_kb) / 1024


def commands_side_by_side(picture, repeat):
    skdigits = [sys.executable, "-m", "skdigits"]
    commands = {
        "skdigits predict (onnx)": skdigits + ["predict", picture],
        "import tensorflow": [sys.executable, "-c", "import tensorflow"],
        "skdigits predict --runtime keras": skdigits + ["predict", "--runtime", "keras", picture],
    }
    runs = {name: [] for name in commands}
    for _ in range(repeat):  # interleaved, so that a slow minute of the machine falls on all of them
        for name, command in commands.items():
            runs[name].append(run_once(command))
    rows = {}
    for name, measured in runs.items():
        seconds, memory = zip(*measured)
        rows[name] = {"command": " ".join(commands[name][1:]), "median_seconds": float(np.median(seconds)),
                      "seconds": list(seconds), "median_peak_mb": float(np.median(memory)),
                      "peak_mb": list(memory)}
        print(f"{name}: median {rows[name]['median_seconds']:.2f} s, {rows[name]['median_peak_mb']:.0f} MB",
              flush=True)
    return rows


def serve_start(repeat):
    times = []
    for _ in range(repeat):
        port = free_port()
        start = time.perf_counter()
        process = subprocess.Popen([sys.executable, "-m", "skdigits", "serve", "--workers", "1", "--port", str(port)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=1):
                        break
                except OSError:
                    if process.poll() is not None or time.perf_counter() - start > 120:
                        raise RuntimeError(f"the server did not start: {process.stderr.read()}")
                    time.sleep(0.02)
            times.append(time.perf_counter() - start)
        finally:
            process.terminate()
            _, err = process.communicate(timeout=30)
    print(f"serve --workers 1 answers /api/health after a median {np.median(times):.2f} s; "
          f"printed on stderr: {err.strip()!r}", flush=True)
    return {"median_seconds": float(np.median(times)), "seconds": times, "stderr_of_last": err.strip()}


def averaging_cost(X):
    from skdigits.model_files._model_files import _load, pretrained_path

    keras_model = _load(pretrained_path(), "keras")
    models = {"onnx": {True: _load(pretrained_path(), "onnx", tta=True), False: _load(pretrained_path(), "onnx",
                                                                                         tta=False)},
              "keras": {True: keras_model, False: keras_model}}
    rows = {}
    for runtime, by_tta in models.items():
        for tta, model in by_tta.items():
            if runtime == "keras":
                model.set_params(tta=tta)
            model.predict_proba(X[:600])  # warm up: the first call compiles or allocates
            passes = []
            for _ in range(3):  # the best of three: the least disturbed by the rest of the machine
                start = time.perf_counter()
                model.predict_proba(X)
                passes.append(time.perf_counter() - start)
            per_second = len(X) / min(passes)
            one = []
            for i in range(200):
                start = time.perf_counter()
                model.predict_proba(X[i:i + 1])
                one.append(time.perf_counter() - start)
            rows[f"{runtime}, tta={tta}"] = {"images_per_second": per_second,
                                             "one_image_median_ms": 1000 * float(np.median(one))}
        keras_model.set_params(tta=True)
        on, off = rows[f"{runtime}, tta=True"], rows[f"{runtime}, tta=False"]
        rows[f"{runtime}, cost of averaging"] = {
            "throughput_ratio": off["images_per_second"] / on["images_per_second"],
            "one_image_ratio": on["one_image_median_ms"] / off["one_image_median_ms"]}
        print(f"{runtime}: {on['images_per_second']:.0f} images/s with averaging, {off['images_per_second']:.0f} "
              f"without ({rows[f'{runtime}, cost of averaging']['throughput_ratio']:.2f}x); one image "
              f"{on['one_image_median_ms']:.2f} ms against {off['one_image_median_ms']:.2f} ms", flush=True)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="fresh processes of each command (default 5)")
    parser.add_argument("--n-images", type=int, default=10000, help="MNIST test images for the throughput")
    parser.add_argument("--output", default="benchmarks/results/startup.json")
    args = parser.parse_args(argv)
    result = {**environment(), "repeat": args.repeat}
    _, X, _, _ = load_mnist(n_test=args.n_images, random_state=0)
    with tempfile.TemporaryDirectory() as folder:
        picture = os.path.join(folder, "pad.png")
        with open(picture, "wb") as fh:
            fh.write(pad_png(X[0]))
        result["commands"] = commands_side_by_side(picture, args.repeat)
    floor = result["commands"]["import tensorflow"]["median_seconds"]
    result["predict_over_tensorflow_import"] = result["commands"]["skdigits predict (onnx)"]["median_seconds"] / floor
    print(f"skdigits predict takes {result['predict_over_tensorflow_import']:.2f}x the TensorFlow import", flush=True)
    result["serve_start"] = serve_start(args.repeat)
    result["averaging"] = averaging_cost(X)
    write_json(args.output, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
