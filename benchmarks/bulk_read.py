"""How many photos per second does ``skdigits read`` get through a folder, on 1 and N cores and on Dask?

Writes a folder of JPEG photos of numbers (2 to 8 MNIST *test* digits each,
every condition of ``photos.py`` in turn, plus a few files that cannot be
read), then times the command a user runs, each in a fresh process,
start-up included:

- ``skdigits read FOLDER --output R.jsonl --jobs 1`` and ``--jobs N``;
- ``skdigits read FOLDER --output R.jsonl --dask ADDRESS`` on a local cluster
  of real ``dask scheduler`` / ``dask worker`` processes (N workers, one
  thread each), started before the clock starts.

Each run's texts must be the same as the first's, photo for photo; the
fraction read right is reported once.

    python benchmarks/bulk_read.py --photos 600 --output benchmarks/results/bulk_read.json
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import CONDITIONS, environment, free_port, make_photo, write_json  # noqa: E402

from skdigits import load_mnist  # noqa: E402

# Files every run must report as errors, and go on.
BAD_FILES = {"empty.png": b"", "text.jpg": b"not a picture", "truncated.png": b"\x89PNG\r\n\x1a\n\x00\x00"}


def write_photos(folder, n, rng):
    """n photos of numbers under ``folder`` (in sub-folders of 100), and their texts by file name."""
    _, X_test, _, y_test = load_mnist()
    truth = {}
    for k in range(n):
        idx = rng.integers(len(y_test), size=int(rng.integers(2, 9)))
        photo = make_photo(X_test[idx], CONDITIONS[k % len(CONDITIONS)], rng)
        path = os.path.join(folder, f"batch{k // 100:02d}", f"photo{k:05d}.jpg")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        cv2.imwrite(path, photo, [cv2.IMWRITE_JPEG_QUALITY, 90])
        truth[path] = "".join(str(v) for v in y_test[idx])
    for name, data in BAD_FILES.items():
        with open(os.path.join(folder, name), "wb") as file:
            file.write(data)
    return truth


def run_read(folder, output, extra):
    """Seconds of one ``skdigits read`` over the folder, and its records by file."""
    command = [sys.executable, "-m", "skdigits", "read", folder, "--output", output, *extra]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr[-2000:]}")
    with open(output) as file:
        records = [json.loads(line) for line in file]
    os.remove(output)
    return seconds, records


def start_dask(workers):
    """A ``dask scheduler`` and ``workers`` ``dask worker`` processes on loopback: (address, processes)."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    dask = os.path.join(os.path.dirname(sys.executable), "dask")
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    processes = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                   "--no-dashboard"], **quiet)]
    for _ in range(workers):
        processes.append(subprocess.Popen([dask, "worker", address, "--nthreads", "1", "--nworkers", "1",
                                           "--no-dashboard", "--memory-limit", "4GiB"], **quiet))
    from distributed import Client

    with Client(address, timeout=60) as client:
        client.wait_for_workers(workers, timeout=120)
    return address, processes


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=600, help="photos of numbers in the folder")
    parser.add_argument("--jobs", type=int, default=os.cpu_count(), help="N: worker processes and Dask workers")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default="benchmarks/results/bulk_read.json")
    args = parser.parse_args(argv)

    provenance = environment()
    folder = tempfile.mkdtemp(prefix="skdigits-bulk-")
    processes = []
    try:
        truth = write_photos(folder, args.photos, np.random.default_rng(args.seed))
        inputs = len(truth) + len(BAD_FILES)
        output = os.path.join(folder, "results.jsonl")
        runs = {}
        for name, extra in (("jobs_1", ["--jobs", "1"]), (f"jobs_{args.jobs}", ["--jobs", str(args.jobs)])):
            runs[name] = run_read(folder, output, extra)
            print(f"{name}: {inputs / runs[name][0]:.1f} photos/s", flush=True)
        address, processes = start_dask(args.jobs)
        runs[f"dask_{args.jobs}_workers"] = run_read(folder, output, ["--dask", address])
        print(f"dask: {inputs / runs[f'dask_{args.jobs}_workers'][0]:.1f} photos/s", flush=True)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)

    texts = {name: {r["file"]: r.get("text") for r in records} for name, (_, records) in runs.items()}
    first = next(iter(texts.values()))
    summary = {}
    for name, (seconds, records) in runs.items():
        summary[name] = {
            "seconds": seconds,
            "photos_per_second": inputs / seconds,
            "records": len(records),
            "each_input_once": len(records) == inputs == len(texts[name]),
            "errors": sum("error" in r for r in records),
            "same_texts_as_jobs_1": texts[name] == first,
        }
    ratio = summary[f"jobs_{args.jobs}"]["photos_per_second"] / summary["jobs_1"]["photos_per_second"]
    correct = sum(first.get(path) == text for path, text in truth.items())
    result = {
        **provenance,
        "command": "python benchmarks/bulk_read.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "seed": args.seed,
        "photos": args.photos,
        "bad_files": len(BAD_FILES),
        "jobs": args.jobs,
        "runs": summary,
        f"speedup_jobs_{args.jobs}_over_1": ratio,
        "numbers_read_right": correct / len(truth),
    }
    print(f"--jobs {args.jobs} over --jobs 1: {ratio:.2f}x; numbers read right {correct / len(truth):.3f}; "
          f"same texts everywhere: {all(s['same_texts_as_jobs_1'] for s in summary.values())}")
    write_json(args.output, result)


if __name__ == "__main__":
    main()
