"""Grid search over filters and learning rate, in parallel with joblib or on a Dask cluster.

    python benchmarks/grid_search.py --n-jobs 2 --compare-n-jobs --output benchmarks/results/grid_search.json
    python benchmarks/grid_search.py --backend dask                      # a local 2-worker cluster
    python benchmarks/grid_search.py --backend dask --scheduler tcp://host:8786

Each fit runs TensorFlow's kernels on ``--threads-per-fit`` threads (default: the
cores divided by ``--n-jobs``), in the worker processes (through
SKDIGITS_NUM_THREADS, which skdigits reads) and in this process, which fits when
``n_jobs=1`` and refits the best model. Two workers on two cores then do not fight
over four threads. TensorFlow's results depend on that thread count, because its
kernels split their sums between the threads, and on nothing else: so
``--compare-n-jobs`` runs ``n_jobs=1`` twice, once on the same one thread per fit
(identical results, expected bit for bit) and once on all the cores, as a plain
``n_jobs=1`` search runs.
"""

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import environment, timed, write_json  # noqa: E402

# The default learning rate (the one-cycle peak, 8e-3) with a lower and a higher one.
GRID = {"filters": [16, 32, 64], "learning_rate": [3e-3, 8e-3, 2e-2]}


def dispatch_order(grid):
    """The grid with its largest networks first.

    Joblib hands out the fits in the grid's order; starting with the slowest
    (most filters) keeps one worker from finishing a long fit alone at the end.
    The cells searched are the same.
    """
    return {**grid, "filters": sorted(grid["filters"], reverse=True)}


def set_fit_threads(threads):
    """Run this process's TensorFlow kernels on ``threads`` threads, and tell workers to.

    Independent operations may still run side by side on all the cores (the
    inter-op pool): that does not change any result. Must run before TensorFlow's
    first operation in this process.
    """
    import tensorflow as tf

    os.environ["SKDIGITS_NUM_THREADS"] = str(threads)
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(os.cpu_count() or 1)


@contextlib.contextmanager
def joblib_backend(backend, scheduler=None, n_workers=2):
    """joblib's default (loky) backend, or Dask's, connected to ``scheduler`` or a local cluster."""
    if backend == "loky":
        yield None
        return
    import joblib
    from dask.distributed import Client, LocalCluster

    if scheduler:
        client, cluster = Client(scheduler), None
    else:
        # Processes, one thread each, on loopback only.
        cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address=None)
        client = Client(cluster)
    try:
        with joblib.parallel_backend("dask"):
            yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def run_search(X, y, *, grid=GRID, epochs=5, cv=3, n_jobs=1, backend="loky", scheduler=None, seed=0):
    """Fit the grid search; return it and its wall-clock seconds."""
    from sklearn.model_selection import GridSearchCV

    from skdigits import CNNDigitClassifier

    search = GridSearchCV(CNNDigitClassifier(epochs=epochs, random_state=seed), dispatch_order(grid), cv=cv,
                          n_jobs=-1 if backend == "dask" else n_jobs)
    with joblib_backend(backend, scheduler):
        _, seconds = timed(search.fit, X, y)
    return search, seconds


def cv_table(search):
    res = search.cv_results_
    return [
        {"filters": int(p["filters"]), "learning_rate": float(p["learning_rate"]),
         "mean_test_score": float(m), "std_test_score": float(s), "mean_fit_time": float(t),
         "rank": int(r)}
        for p, m, s, t, r in zip(res["params"], res["mean_test_score"], res["std_test_score"],
                                 res["mean_fit_time"], res["rank_test_score"])
    ]


def thread_ceiling(n_train, epochs, seed):
    """Seconds of one fit with TensorFlow on 1 thread and on 2, each in a fresh process."""
    code = (
        "import time; from skdigits import CNNDigitClassifier, load_mnist;"
        f"X, _, y, _ = load_mnist(n_train={n_train}, random_state={seed});"
        f"c = CNNDigitClassifier(epochs={epochs}, random_state={seed}); t = time.perf_counter(); c.fit(X, y);"
        "print('SECONDS', time.perf_counter() - t)"
    )
    out = {}
    for threads in (1, 2):
        env = dict(os.environ, SKDIGITS_NUM_THREADS=str(threads), TF_CPP_MIN_LOG_LEVEL="3")
        proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        out[f"{threads}_thread_fit_seconds"] = float(proc.stdout.split("SECONDS")[-1])
    out["two_thread_speedup"] = out["1_thread_fit_seconds"] / out["2_thread_fit_seconds"]
    out["two_worker_ceiling"] = 2 / out["two_thread_speedup"]
    return out


def heatmap(table, path, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    filters = sorted({r["filters"] for r in table})
    rates = sorted({r["learning_rate"] for r in table})
    grid = np.full((len(filters), len(rates)), np.nan)
    for r in table:
        grid[filters.index(r["filters"]), rates.index(r["learning_rate"])] = r["mean_test_score"]
    fig, ax = plt.subplots(figsize=(6, 4.5))
    im = ax.imshow(grid, cmap="viridis")
    ax.set(xticks=range(len(rates)), yticks=range(len(filters)), xticklabels=[f"{r:g}" for r in rates],
           yticklabels=filters, xlabel="learning_rate", ylabel="filters", title=title)
    for (i, j), v in np.ndenumerate(grid):
        ax.text(j, i, f"{v:.4f}", ha="center", va="center", color="white" if v < np.nanmean(grid) else "black")
    fig.colorbar(im, ax=ax, label="mean CV accuracy")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def score_differences(table, other):
    """Largest absolute difference of mean CV accuracy, cell by cell, and whether all are equal."""
    scores = {(r["filters"], r["learning_rate"]): r["mean_test_score"] for r in other}
    diffs = [abs(r["mean_test_score"] - scores[(r["filters"], r["learning_rate"])]) for r in table]
    return {"max_score_difference": float(max(diffs)), "identical_scores": max(diffs) == 0.0}


def serial_default_threads(args):
    """An ``n_jobs=1`` search on all the cores, in a fresh process (the pools are fixed per process)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "serial.json")
        argv = [sys.executable, os.path.abspath(__file__), "--n-jobs", "1", "--threads-per-fit",
                str(os.cpu_count() or 1), "--n-train", str(args.n_train), "--epochs", str(args.epochs),
                "--cv", str(args.cv), "--seed", str(args.seed), "--output", out]
        subprocess.run(argv, check=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
        with open(out) as f:
            return json.load(f)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-train", type=int, default=6000, help="stratified training subset (default 6000)")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--cv", type=int, default=3)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--threads-per-fit", type=int,
                        help="TensorFlow kernel threads of each fit (default: cores // n_jobs, at least 1)")
    parser.add_argument("--backend", choices=["loky", "dask"], default="loky")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="a running Dask scheduler (default: a local cluster)")
    parser.add_argument("--compare-n-jobs", action="store_true",
                        help="also run with n_jobs=1 (on the same threads per fit, and on all the cores) "
                             "and record the speed-ups and the 1- vs 2-thread ceiling")
    parser.add_argument("--quick", action="store_true", help="1,000 images, 1 epoch, 2-fold: for tests")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default="benchmarks/results/grid_search.json")
    args = parser.parse_args(argv)
    if args.quick:
        args.n_train, args.epochs, args.cv = 1000, 1, 2
    if args.threads_per_fit is not None and args.threads_per_fit < 1:
        parser.error(f"--threads-per-fit must be at least 1, got {args.threads_per_fit}")
    cores = os.cpu_count() or 1
    threads = args.threads_per_fit or max(1, cores // max(1, args.n_jobs))
    set_fit_threads(threads)

    from skdigits import load_mnist

    X_train, X_test, y_train, y_test = load_mnist(n_train=args.n_train, random_state=args.seed)
    result = {**environment(), "n_train": args.n_train, "epochs": args.epochs, "cv": args.cv, "seed": args.seed,
              "grid": GRID, "backend": args.backend, "n_jobs": args.n_jobs, "threads_per_fit": threads}
    search, seconds = run_search(X_train, y_train, epochs=args.epochs, cv=args.cv, n_jobs=args.n_jobs,
                                 backend=args.backend, scheduler=args.scheduler, seed=args.seed)
    table = cv_table(search)
    result.update(search_seconds=seconds, cv_results=table, best_params=search.best_params_,
                  best_cv_score=float(search.best_score_), refit_test_accuracy=float(search.score(X_test, y_test)))
    print(f"{'filters':>7} {'lr':>7} {'mean CV':>8} {'std':>7} {'fit s':>6} {'rank':>4}")
    for r in table:
        print(f"{r['filters']:>7} {r['learning_rate']:>7g} {r['mean_test_score']:>8.4f} {r['std_test_score']:>7.4f} "
              f"{r['mean_fit_time']:>6.1f} {r['rank']:>4}")
    print(f"best {search.best_params_} (CV {search.best_score_:.4f}); refit test accuracy "
          f"{result['refit_test_accuracy']:.4f} on {len(y_test)}; search took {seconds:.0f} s "
          f"({args.backend}, n_jobs={args.n_jobs}, {threads} thread(s) per fit)", flush=True)
    if args.compare_n_jobs:
        serial, serial_seconds = run_search(X_train, y_train, epochs=args.epochs, cv=args.cv, n_jobs=1,
                                            backend="loky", seed=args.seed)
        result["n_jobs_1_same_threads"] = {
            "threads_per_fit": threads,
            "search_seconds": serial_seconds,
            "speedup": serial_seconds / seconds,
            "same_best_params": serial.best_params_ == search.best_params_,
            "refit_test_accuracy": float(serial.score(X_test, y_test)),
            **score_differences(table, cv_table(serial)),
        }
        print(f"n_jobs=1 on {threads} thread(s) per fit took {serial_seconds:.0f} s: speed-up "
              f"{serial_seconds / seconds:.2f}x; identical scores: "
              f"{result['n_jobs_1_same_threads']['identical_scores']}", flush=True)
        other = serial_default_threads(args)
        result["n_jobs_1_all_cores"] = {
            "threads_per_fit": other["threads_per_fit"],
            "search_seconds": other["search_seconds"],
            "speedup": other["search_seconds"] / seconds,
            "same_best_params": other["best_params"] == search.best_params_,
            "best_params": other["best_params"],
            "refit_test_accuracy": other["refit_test_accuracy"],
            **score_differences(table, other["cv_results"]),
        }
        result["thread_ceiling"] = thread_ceiling(args.n_train, args.epochs, args.seed)
        print(f"n_jobs=1 on {other['threads_per_fit']} threads per fit took {other['search_seconds']:.0f} s: "
              f"speed-up {result['n_jobs_1_all_cores']['speedup']:.2f}x "
              f"(ceiling {result['thread_ceiling']['two_worker_ceiling']:.2f}x)", flush=True)
    write_json(args.output, result)
    png = os.path.splitext(args.output)[0] + ".png"
    heatmap(table, png, f"{args.cv}-fold CV accuracy, {args.n_train} MNIST images, {args.epochs} epochs")
    print(f"wrote {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
