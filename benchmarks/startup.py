"""How fast skdigits starts, and what test-time averaging costs, on each runtime.

Side by side in one run, each command in a fresh process, median of
``--repeat`` runs, with the process's peak resident memory:

- ``skdigits predict pad.png`` (ONNX Runtime, the default);
- ``python -c "import tensorflow"`` alone, the floor of any Keras path;
- ``skdigits predict --runtime keras pad.png``.

Then ``skdigits serve --workers 1``: seconds from its start until
``/api/health`` answers. Then, in this process, images per second and the
latency of one image with and without test-time averaging, on both runtimes
(the two timed in turns, pass by pass).

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


def _images_per_second(model, X):
    start = time.perf_counter()
    model.predict_proba(X)
    return len(X) / (time.perf_counter() - start)


def _one_image_ms(model, X):
    times = []
    for i in range(200):
        start = time.perf_counter()
        model.predict_proba(X[i:i + 1])
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def averaging_cost(X, rounds=7):
    """Images per second and one image's latency with and without test-time averaging, on both runtimes.

    The two settings are timed in turns, ``rounds`` times, each round's
    second in the other order than its first: the machine's speed drifts
    within minutes, and a ratio of two passes made seconds apart is what it
    disturbs least. The cost is the median of the rounds' ratios.
    """
    from skdigits.model_files._model_files import _load, pretrained_path

    keras_model = _load(pretrained_path(), "keras")
    onnx = {tta: _load(pretrained_path(), "onnx", tta=tta) for tta in (True, False)}

    def model(runtime, tta):
        if runtime == "onnx":
            return onnx[tta]
        keras_model.set_params(tta=tta)
        return keras_model

    rows = {}
    for runtime in ("onnx", "keras"):
        for tta in (True, False):
            model(runtime, tta).predict_proba(X[:600])  # warm up: the first call compiles or allocates
        rates = {True: [], False: []}
        for r in range(rounds):
            for tta in ((True, False) if r % 2 == 0 else (False, True)):
                rates[tta].append(_images_per_second(model(runtime, tta), X))
        ratios = [off / on for on, off in zip(rates[True], rates[False])]
        one = {tta: _one_image_ms(model(runtime, tta), X) for tta in (True, False)}
        for tta in (True, False):
            rows[f"{runtime}, tta={tta}"] = {"images_per_second": float(np.median(rates[tta])),
                                             "images_per_second_by_round": rates[tta],
                                             "one_image_median_ms": one[tta]}
        rows[f"{runtime}, cost of averaging"] = {
            "throughput_ratio": float(np.median(ratios)), "throughput_ratio_by_round": ratios,
            "one_image_ratio": one[True] / one[False]}
        print(f"{runtime}: averaging costs {np.median(ratios):.2f}x in throughput (median of {rounds} rounds, "
              f"{min(ratios):.2f}-{max(ratios):.2f}x); {np.median(rates[True]):.0f} against "
              f"{np.median(rates[False]):.0f} images/s; one image {one[True]:.2f} ms against {one[False]:.2f} ms",
              flush=True)
    keras_model.set_params(tta=True)
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
