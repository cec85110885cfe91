"""The benchmark scripts, run in their quick modes (the full runs live in benchmarks/results)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.model_selection import HalvingGridSearchCV, RandomizedSearchCV

from skdigits import CNNDigitClassifier, load_mnist

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")
sys.path.insert(0, BENCH)


def _script(script, *args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, os.path.join(BENCH, script), *map(str, args)],
                          capture_output=True, text=True, env=env)


def _run(script, *args):
    proc = _script(script, *args)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc.stdout


def test_baselines_quick_and_plot(tmp_path):
    out = tmp_path / "baselines.json"
    _run("baselines.py", "--quick", "--output", out)
    result = json.loads(out.read_text())
    rows = {r["estimator"]: r for r in result["rows"]}
    assert set(rows) == {"dummy", "rbf_svm", "pca_svm", "mlp", "cnn"}
    assert result["n_train"] == 3000 and all(r["n_test"] == 10000 for r in rows.values())
    assert rows["dummy"]["test_accuracy"] < 0.2
    assert rows["cnn"]["test_accuracy"] > 0.95
    assert all(r["test_accuracy"] > 0.85 for name, r in rows.items() if name != "dummy")
    for r in rows.values():
        assert r["fit_seconds"] > 0 and r["images_per_second"] > 0 and r["model_bytes"] > 0
        assert r["peak_memory_mb"] > 50
    assert {"versions", "machine", "git_revision", "timestamp"} <= set(result)
    assert (tmp_path / "baselines.png").stat().st_size > 10_000
    (tmp_path / "baselines.png").unlink()
    assert "wrote" in _run("baselines.py", "--replot", "--output", out)   # from the JSON alone
    assert (tmp_path / "baselines.png").stat().st_size > 10_000
    import pages

    lines = pages.baselines(result)
    assert any(line.startswith("| cnn |") for line in lines) and any(line.startswith("| rbf_svm |") for line in lines)


def test_theory_quick(tmp_path):
    out = tmp_path / "theory.json"
    _run("theory.py", "--quick", "--output", out)
    result = json.loads(out.read_text())
    variants = {(r["study"], r["variant"]) for r in result["rows"]}
    assert variants == {("activation", "relu"), ("activation", "sigmoid"), ("activation", "tanh"),
                        ("cost", "cross-entropy"), ("cost", "mse"), ("optimizer", "sgd"),
                        ("optimizer", "momentum"), ("optimizer", "nesterov"), ("optimizer", "adam")}
    assert set(result["picked_learning_rates"]) == {"sgd", "momentum", "nesterov", "adam"}
    for row in result["rows"]:
        assert 0.0 <= row["summary"]["mean_test_accuracy"] <= 1.0
        assert len(row["runs"][0]["history"]["loss"]) == 2
    base = next(r for r in result["rows"] if r["variant"] == "relu")
    assert base["summary"]["mean_test_accuracy"] > 0.5  # even 2 short epochs learn something
    assert (tmp_path / "theory.png").stat().st_size > 10_000
    # Redrawing reads only the JSON: it trains nothing and brings back the chart.
    (tmp_path / "theory.png").unlink()
    assert "wrote" in _run("theory.py", "--replot", "--output", out)
    assert (tmp_path / "theory.png").stat().st_size > 10_000
    import pages

    assert any(line.startswith("| optimizer | nesterov |") for line in pages.theory(result))


def test_theory_replot_without_results_says_so(tmp_path):
    missing = tmp_path / "none.json"
    proc = _script("theory.py", "--replot", "--output", missing)
    assert proc.returncode == 2 and f"{missing} does not exist" in proc.stderr
    assert not (tmp_path / "none.png").exists()


def test_theory_flags_picks_at_the_grid_edge():
    from theory import LR_GRID, grid_edge

    assert grid_edge(0.1, [0.03, 0.1, 0.3]) is None
    assert grid_edge(0.3, [0.1, 0.03, 0.3]) == "highest" and grid_edge(0.03, [0.1, 0.03, 0.3]) == "lowest"
    assert grid_edge(0.01, [0.01]) is None  # one rate (--quick): nothing was searched
    assert all(len(rates) >= 3 for rates in LR_GRID.values())


def test_grid_search_quick(tmp_path):
    out = tmp_path / "grid.json"
    _run("grid_search.py", "--quick", "--n-jobs", "2", "--output", out)
    result = json.loads(out.read_text())
    assert len(result["cv_results"]) == 9
    assert set(result["best_params"]) == {"filters", "learning_rate"}
    assert result["refit_test_accuracy"] > 0.5
    assert result["threads_per_fit"] == max(1, (os.cpu_count() or 1) // 2)
    assert (tmp_path / "grid.png").stat().st_size > 10_000


def test_grid_helpers():
    from grid_search import GRID, dispatch_order, score_differences

    ordered = dispatch_order(GRID)
    assert ordered["filters"] == [64, 32, 16] and ordered["learning_rate"] == GRID["learning_rate"]
    a = [{"filters": 16, "learning_rate": 1e-3, "mean_test_score": 0.9},
         {"filters": 32, "learning_rate": 1e-3, "mean_test_score": 0.8}]
    assert score_differences(a, a[::-1]) == {"max_score_difference": 0.0, "identical_scores": True}
    b = [dict(a[0], mean_test_score=0.85), a[1]]
    diff = score_differences(a, b)
    assert not diff["identical_scores"] and diff["max_score_difference"] == pytest.approx(0.05)


_FIT_ON_THREADS = """
import hashlib, sys
sys.path.insert(0, {bench!r})
if {use_helper}:
    from grid_search import set_fit_threads
    set_fit_threads(1)
from sklearn.datasets import load_digits
from skdigits import CNNDigitClassifier
X, y = load_digits(return_X_y=True)
clf = CNNDigitClassifier(epochs=2, random_state=0).fit(X[:600], y[:600])
print("HASH", hashlib.sha256(clf.predict_proba(X[600:]).tobytes()).hexdigest())
"""


def test_kernel_threads_alone_decide_the_results():
    # What --compare-n-jobs relies on: a fit on one kernel thread gives the same
    # numbers whether independent operations share one thread (a joblib worker)
    # or run side by side on all the cores (set_fit_threads in the main process).
    hashes = []
    for use_helper in (False, True):
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", SKDIGITS_NUM_THREADS="1")
        code = _FIT_ON_THREADS.format(bench=BENCH, use_helper=use_helper)
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
        assert proc.returncode == 0, proc.stderr[-3000:]
        hashes.append(proc.stdout.split("HASH")[-1].strip())
    assert len(hashes[0]) == 64 and hashes[0] == hashes[1]


def test_dask_cluster_finds_what_joblib_finds():
    from grid_search import run_search

    X, _, y, _ = load_mnist(n_train=300, random_state=0)
    grid = {"filters": [8, 16], "learning_rate": [1e-3]}
    local, _ = run_search(X, y, grid=grid, epochs=1, cv=2, n_jobs=2, backend="loky")
    on_dask, _ = run_search(X, y, grid=grid, epochs=1, cv=2, backend="dask")
    assert on_dask.best_params_ == local.best_params_
    np.testing.assert_array_equal(on_dask.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"])


@pytest.fixture(scope="module")
def small():
    X, _, y, _ = load_mnist(n_train=400, random_state=1)
    return X, y


def test_randomized_search(small):
    X, y = small
    search = RandomizedSearchCV(CNNDigitClassifier(epochs=2, random_state=0),
                                {"filters": [8, 16, 32], "learning_rate": [1e-3, 3e-3]},
                                n_iter=2, cv=2, random_state=0)
    search.fit(*small)
    assert len(search.cv_results_["params"]) == 2 and search.best_score_ > 0.15


def test_halving_grid_search(small):
    # Two candidates halve to one: two rounds (100 then 200 images), the fewest fits that still halve.
    search = HalvingGridSearchCV(CNNDigitClassifier(epochs=3, batch_size=32, random_state=0),
                                 {"filters": [8, 16], "learning_rate": [3e-3]},
                                 cv=2, factor=2, min_resources=100, random_state=0)
    search.fit(*small)
    assert list(search.n_resources_) == [100, 200] and list(search.n_candidates_) == [2, 1]
    assert search.best_score_ > 0.2


def test_photos_quick(tmp_path):
    out = tmp_path / "photos.json"
    figure = tmp_path / "photos.png"
    printed = _run("photos.py", "--n-single", 4, "--n-number", 2, "--n-blank", 2, "--n-large", 1, "--n-pad", 3,
                   "--conditions", "clean", "all", "all-but-pen", "note", "--output", out, "--examples", figure)
    result = json.loads(out.read_text())
    assert set(result["conditions"]) == {"clean", "all", "all-but-pen", "note"}
    clean = result["conditions"]["clean"]
    assert clean["n_single"] == 4 and clean["n_number"] == 2 and clean["n_blank"] == 2
    assert clean["blank_no_digit_single"] == 1.0 and clean["single_refused"] == 0.0
    assert clean["single_accuracy"] == 1.0 and 0 < clean["preprocess_ms_median"] < 1000
    low, high = clean["single_ci95"]   # four out of four: still far from certain
    assert 0.4 < low < 0.6 and high == pytest.approx(1.0)
    assert result["large_jpeg"]["n"] == 1 and result["large_jpeg"]["preprocess_ms_median"] > 0
    assert result["pad_drawing"]["n"] == 3 and result["pad_drawing"]["rules_only_ms_median"] > 0
    assert result["learned"] is False  # the default reading: the rules alone
    assert {"versions", "machine", "git_revision", "timestamp", "seed"} <= set(result)
    assert "clean: single" in printed and figure.stat().st_size > 10_000


def test_photos_other_quick(tmp_path):
    out = tmp_path / "other.json"
    printed = _run("photos_other.py", "--n-single", 3, "--n-number", 3, "--output", out)
    result = json.loads(out.read_text())
    assert result["results"]["single"]["n"] == 3 and result["results"]["number"]["n"] == 3
    assert sum(rows["number"]["n"] for rows in result["results"]["by_lines"].values()) == 3
    assert 0 < result["results"]["read_ms_median"] < 5000
    assert {"versions", "machine", "git_revision", "timestamp", "seed"} <= set(result)
    assert " number: " in printed


def test_second_photo_generator_uses_test_digits_only_and_keeps_digits_readable():
    import inspect

    import photos_other

    source = inspect.getsource(photos_other)
    assert "X_test" in source and "X_train" not in source and "y_train" not in source
    _, X, _, _ = load_mnist(n_test=8, random_state=0)
    rng = np.random.default_rng(0)
    for k in range(4):
        photo, (paper, lines) = photos_other.make_photo(X[k:k + 2], rng)
        assert photo.dtype == np.uint8 and photo.shape[2] == 3 and paper in photos_other.PAPERS
        assert lines in photos_other.STYLES and min(photo.shape[:2]) >= 2 * 28


def test_all_at_once_can_leave_one_condition_out():
    from _photos import make_photo
    from photos import main

    _, X, _, _ = load_mnist(n_test=3, random_state=0)
    for seed in range(3):
        # Low resolution shrinks the photo to digits 25 to 40 pixels high; left out, the photo keeps its size.
        assert max(make_photo(X, "all", np.random.default_rng(seed)).shape[:2]) < 400
        assert max(make_photo(X, "all-but-pen", np.random.default_rng(seed)).shape[:2]) < 400
        assert max(make_photo(X, "all-but-lowres", np.random.default_rng(seed)).shape[:2]) >= 600
    with pytest.raises(SystemExit):   # the paper is ruled or squared in any case
        main(["--conditions", "all-but-ruled", "--output", "unused.json"])


def test_scenes_of_every_surface_with_and_without_digits():
    import cv2
    from _scenes import KINDS, make_scene

    _, X, _, _ = load_mnist(n_test=3, random_state=0)
    for kind in KINDS:
        for digits in (X, X[:1], X[:0]):
            photo = make_scene(digits, kind, np.random.default_rng(0))
            assert photo.dtype == np.uint8 and photo.shape == (675, 900, 3)
    for seed in range(3):
        # Touching digits touch: the largest dark mark holds nearly all of the ink of the three.
        photo = make_scene(X, "touching", np.random.default_rng(seed))
        ink = (cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY) < 128).astype(np.uint8)
        _, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
        assert stats[1:, 4].max() > 0.95 * ink.sum()


def test_scenes_say_where_each_digit_lies():
    from _scenes import KINDS
    from _photos import CONDITIONS, make_photo

    _, X, _, _ = load_mnist(n_test=3, random_state=0)
    for condition in CONDITIONS + KINDS:
        photo, which = make_photo(X, condition, np.random.default_rng(1), truth=True)
        assert which.shape == photo.shape[:2] and set(np.unique(which)) == {0, 1, 2, 3}
        # The photo is the one made without truth: the benchmarks' photos stay what they were.
        assert (photo == make_photo(X, condition, np.random.default_rng(1))).all()
        # Digit k lies left of digit k + 1 (each one's mean column).
        columns = [np.nonzero(which == k)[1].mean() for k in (1, 2, 3)]
        assert columns == sorted(columns)


def test_wilson_interval():
    from _common import wilson_interval

    # With no success the upper bound is z^2 / (n + z^2).
    assert wilson_interval(0, 10) == pytest.approx([0.0, 1.96 ** 2 / (10 + 1.96 ** 2)])
    assert wilson_interval(54, 60) == pytest.approx([0.7985, 0.9534], abs=1e-4)
    assert wilson_interval(276, 300)[1] - wilson_interval(276, 300)[0] < 0.07
    assert wilson_interval(0, 0) is None


def test_photo_generator_uses_test_digits_only():
    import inspect

    import _photos
    import photos

    source = inspect.getsource(photos)
    assert "make_photo" in inspect.getsource(_photos) and "X_train" not in inspect.getsource(_photos)
    assert "X_test" in source and "X_train" not in source and "y_train" not in source


def test_photo_digits_are_training_digits_read_back():
    from _photo_digits import photo_digits, render

    from skdigits import load_pretrained

    X_train, _, y_train, _ = load_mnist()
    photo = render(X_train[0], np.random.default_rng(0))
    assert photo.dtype == np.uint8 and photo.ndim == 3 and photo.shape[2] == 3
    assert min(photo.shape[:2]) >= 18 * 1.6 - 1   # a card around a digit 18 to 64 pixels high
    X, y = photo_digits(40, n_jobs=1)
    assert X.shape[1:] == (28, 28) and X.dtype == np.uint8 and 30 <= len(y) <= 40
    assert len({image.tobytes() for image in X}) == len(X)
    # The labels are the first 40 training labels, in order, less those of photos left out ...
    rest = iter(y_train[:40].tolist())
    assert all(label in rest for label in y.tolist())
    # ... and each is its own photo's digit (not shifted by one left out): the images read as such.
    assert (load_pretrained().predict(X) == y).mean() > 0.85


def test_scene_digits_are_training_digits_found_on_surfaces():
    from _photo_digits import scene_digits

    from skdigits import load_pretrained

    X_train, _, y_train, _ = load_mnist()
    X, y = scene_digits(30, n_jobs=1, first=100)
    assert X.shape[1:] == (28, 28) and X.dtype == np.uint8 and 15 <= len(y) <= 30
    # Training digits 100 to 129, in order, less the scenes counted wrong ...
    rest = iter(y_train[100:130].tolist())
    assert all(label in rest for label in y.tolist())
    # ... each image its own digit (a scene is kept whole or not at all, so nothing is shifted).
    assert (load_pretrained().predict(X) == y).mean() > 0.85


def test_pretrained_quick(tmp_path):
    out = tmp_path / "m.safetensors"
    _run("pretrained.py", "--n-train", 300, "--epochs", 1, "--photo-digits", 60, "--scene-digits", 12,
         "--output", out)
    record = json.loads((tmp_path / "m.json").read_text())
    assert record["n_train_mnist"] == 300 and 45 <= record["n_train_photo_digits"] <= 60
    assert 4 <= record["n_train_scene_digits"] <= 12
    assert record["n_train"] == 300 + record["n_train_photo_digits"] + record["n_train_scene_digits"]
    assert record["epochs_run"] == 1
    assert record["file_bytes"] == out.stat().st_size and 0 < record["test_accuracy"] <= 1


def test_serve_load_quick(tmp_path):
    out = tmp_path / "load.json"
    printed = _run("serve_load.py", "--requests", 60, "--warmup", 5, "--bad-every", 6, "--output", out)
    result = json.loads(out.read_text())
    summary = result["summary"]
    assert summary["requests"] == 60 and summary["good_requests"] == 50
    assert summary["failed_good_requests"] == 0 and summary["bad_requests_without_their_4xx"] == 0
    assert summary["correct_predictions"] >= 45 and summary["p50_ms"] > 0
    # The seven kinds of bad request went out, each answered with its own 4xx.
    assert {"not an image", "empty", "truncated", "blank canvas", "wrong content type", "wrong method",
            "too large"} <= set(summary["by_kind"])
    assert result["cpu_ms_per_request"]["server"] > 0 and result["healthy_after"]
    assert "correct predictions/s" in printed


def test_serve_load_beside_hostile_clients(tmp_path):
    out = tmp_path / "hostile.json"
    printed = _run("serve_load.py", "--requests", 40, "--warmup", 5, "--bad-every", 0, "--hostile", 1,
                   "--output", out)
    result = json.loads(out.read_text())
    assert result["beside_hostile"]["requests"] == 40 and result["beside_hostile"]["failed_good_requests"] == 0
    assert result["hostile"]["dots"]["sent"] >= 1 and set(result["hostile"]["dots"]["statuses"]) == {"422"}
    assert result["p99_ratio_beside_hostile"] > 0 and "beside 1 hostile client(s) (dots)" in printed


def test_hostile_inputs_quick(tmp_path):
    out = tmp_path / "hostile_inputs.json"
    _run("hostile_inputs.py", "--flips", 3, "--distorted", 12, "--output", out)
    result = json.loads(out.read_text())
    assert result["machine"]["kind"] in ("AVX-512", "AVX2", "other")
    for path in ("rules", "finder"):  # every distorted photo read or refused with ImageError, none failed
        counts = result["distorted_photos"][path]
        assert counts["failed"] == [] and counts["read"] + counts["refused"] == 12 and counts["read"] >= 6
    assert all(row["cpu_seconds"] < 2.0 for row in result["pictures"])
    assert all(not row["outcome"].startswith("read") for row in result["pictures"] if "16-bit" not in row["picture"])
    assert result["server_memory"]["status"] == 200 and result["server_memory"]["peak_rise_mb"] < 500
    assert all(row["outcome"].startswith("ModelFileError") for row in result["model_files"][:-1])
    assert result["model_files"][-1]["refused"] == 3
    assert all(row["exit_status"] == 1 and "Traceback" not in row["stderr"] for row in result["npy_files"])


def test_startup_quick(tmp_path):
    out = tmp_path / "startup.json"
    printed = _run("startup.py", "--repeat", 1, "--n-images", 300, "--output", out)
    result = json.loads(out.read_text())
    commands = result["commands"]
    assert set(commands) == {"skdigits predict (onnx)", "import tensorflow", "skdigits predict --runtime keras"}
    # The ONNX path never imports TensorFlow: it cannot take as long, nor as much memory.
    assert commands["skdigits predict (onnx)"]["median_seconds"] < commands["import tensorflow"]["median_seconds"]
    assert commands["skdigits predict (onnx)"]["median_peak_mb"] < commands["import tensorflow"]["median_peak_mb"]
    assert result["serve_start"]["stderr_of_last"] == ""
    assert {"onnx, tta=True", "onnx, tta=False", "keras, cost of averaging"} <= set(result["averaging"])
    # Five views of each image are five passes' work: never cheaper than one pass, in every round.
    for runtime in ("onnx", "keras"):
        cost = result["averaging"][f"{runtime}, cost of averaging"]
        assert len(cost["throughput_ratio_by_round"]) == 7 and min(cost["throughput_ratio_by_round"]) > 1
        assert cost["throughput_ratio"] == pytest.approx(np.median(cost["throughput_ratio_by_round"]))
    assert "x the TensorFlow import" in printed


def test_tree_cpu_seconds_counts_the_children():
    import subprocess
    import time

    from serve_load import tree_cpu_seconds

    child = subprocess.Popen([sys.executable, "-c", "import time\nt = time.process_time()\n"
                              "while time.process_time() - t < 0.5: pass\ntime.sleep(30)"])
    try:
        deadline = time.monotonic() + 20
        while tree_cpu_seconds(child.pid) < 0.4 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert tree_cpu_seconds(child.pid) >= 0.4
        assert tree_cpu_seconds(os.getpid()) >= tree_cpu_seconds(child.pid)  # the child is in this tree
    finally:
        child.kill()
        child.wait()


@pytest.mark.parametrize("option", ["--touching", "--pad-lines", "--pad-numbers"])
def test_train_finder_refuses_a_negative_weight(option):
    proc = _script("train_finder.py", option, -1)
    assert proc.returncode == 2 and "weights: 0 or more" in proc.stderr


def test_train_touching_quick(tmp_path):
    from skdigits.reader._touching import expected_shapes, read_touching_tensors

    out = tmp_path / "new folder" / "touching.safetensors"  # made by the script, not lost at the end
    _run("train_touching.py", "--lines", 300, "--validation", 60, "--steps", 4, "--scenes", 12, "--output", out)
    record = json.loads((tmp_path / "new folder" / "touching.json").read_text())
    # oneDNN's kernels on either kind of machine, unless the user chose.
    assert record["tf_enable_onednn_opts"] == os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1")
    assert record["data"]["digits"] == "MNIST training images" and record["training"]["steps"] == 4
    assert record["data"]["scenes"] == 12 and record["data"]["strips_from_scenes"] >= 0
    assert record["validation"]["lines"] == 60 and 0 <= record["validation"]["lines_read"] <= 1
    assert {"versions", "machine", "git_revision", "seed"} <= set(record)
    assert set(read_touching_tensors(out, record["tensors_sha256"])) == set(expected_shapes())
    proc = _script("train_touching.py", "--steps", 0)
    assert proc.returncode == 2 and "--steps must be at least 1" in proc.stderr
    proc = _script("train_touching.py", "--scenes", -1)
    assert proc.returncode == 2 and "--scenes must be 0 or more" in proc.stderr


def test_training_kernels_runs_each_setting_and_compares_it_with_onednn(tmp_path, monkeypatch):
    """The orchestration alone (each run is ``train_*.py``, tested above): the settings each script
    runs under, in turns, and the ratios. A real run trains twelve networks for a quarter of an hour."""
    import training_kernels

    calls, real_run = [], subprocess.run
    seconds = {("1", None): [10.0, 12.0], ("1", "AVX2"): [13.0, 18.0], ("0", None): [25.0, 24.0]}

    def fake_run(command, **options):
        if command[0] != sys.executable:
            return real_run(command, **options)  # git, for the results' provenance
        env = options["env"]
        setting = (env.get("TF_ENABLE_ONEDNN_OPTS"), env.get("ONEDNN_MAX_CPU_ISA"))
        calls.append((os.path.basename(command[1]), *setting))
        fit = seconds[setting][sum(c[1:] == setting for c in calls) - 1]
        folder = os.path.dirname(command[command.index("--output") + 1])
        with open(os.path.join(folder, "network.json"), "w") as fh:
            json.dump({"training": {"fit_seconds": fit, "final_loss": 1.0}}, fh)
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE")  # the user's own: not passed on unasked
    monkeypatch.setattr(training_kernels, "tensorflow_default", lambda: "0")
    monkeypatch.setattr(training_kernels.subprocess, "run", fake_run)
    out = tmp_path / "kernels.json"
    assert training_kernels.main(["--steps", "10", "--networks", "finder", "--output", str(out)]) == 0
    result = json.loads(out.read_text())
    # Two rounds, the second in the reverse order.
    assert calls == [("train_finder.py", "1", None), ("train_finder.py", "1", "AVX2"), ("train_finder.py", "0", None),
                     ("train_finder.py", "0", None), ("train_finder.py", "1", "AVX2"), ("train_finder.py", "1", None)]
    runs = result["networks"]["finder"]["runs"]
    assert runs["eigen"]["to_onednn_by_round"] == [2.5, 2.0] and runs["eigen"]["to_onednn"] == 2.25
    assert runs["onednn_avx2"]["to_onednn"] == pytest.approx((1.3 + 1.5) / 2) and runs["onednn"]["to_onednn"] == 1.0
    assert runs["eigen"]["seconds_per_step"] == 2.45 and result["tensorflow_default_onednn"] is False
    import pages

    assert "| finder | Eigen | 2.450 | 2.25x (2.00-2.50x) |" in pages.training_kernels(result)
    with pytest.raises(SystemExit):
        training_kernels.main(["--rounds", "0"])


def test_pad_numbers_hold_a_straight_one_beside_other_digits():
    import cv2
    import train_finder

    def is_line(piece):
        """A straight, even line: a single mark that fills most of its turned box."""
        _, (w, h), _ = cv2.minAreaRect(np.argwhere(piece).astype(np.float32))
        return cv2.connectedComponents(np.uint8(piece))[0] == 2 and piece.sum() >= 0.85 * w * h

    X_train, _, _, _ = load_mnist(n_train=400, n_test=10, random_state=0)
    rng = np.random.default_rng(0)
    for _ in range(20):
        picture, which = train_finder.pad_number(X_train[rng.integers(400, size=3)], rng)
        assert picture.shape == which.shape == (train_finder.PAD, train_finder.PAD)
        assert which.max() in (2, 3) and set(np.unique(which)) == set(range(which.max() + 1))
        # Each digit is its own piece of ink, drawn where its label is (digits never overlap).
        assert (picture[which > 0] < 128).all()
        # One of them is a straight "1".
        assert any(is_line(which == k) for k in range(1, which.max() + 1))


def test_touching_lines_run_together_and_keep_their_digits(monkeypatch):
    import cv2
    import train_touching

    X_train, _, y_train, _ = load_mnist(n_train=400, n_test=10, random_state=0)
    monkeypatch.setattr(train_touching, "SLID", 1.0)
    lengths = []
    for index in range(40):
        line, digits = train_touching.example(index, 0, X_train, y_train)
        assert line.shape == (train_touching.STRIP_HEIGHT, train_touching.WIDTH) and line.dtype == np.uint8
        assert set(digits.tolist()) <= set(y_train.tolist())
        lengths.append(len(digits))
    assert set(lengths) >= {1, 2, 3, 4}
    # Before the line is blurred and its ink made uneven (which can break a stroke), slid digits are one mark.
    rng = np.random.default_rng(0)
    marks = [cv2.connectedComponents(np.uint8(train_touching.line(X_train[rng.integers(400, size=n)], rng) > 0.5))[0] - 1
             for n in rng.integers(2, 9, size=30)]
    assert np.mean(np.asarray(marks) == 1) >= 0.8


def test_scene_strips_are_the_reader_s_lines_labelled_with_their_digits(monkeypatch):
    import train_touching

    X_train, _, y_train, _ = load_mnist(n_train=400, n_test=10, random_state=0)
    monkeypatch.setattr(train_touching, "SCENE_KINDS", ("touching",))
    strips = [s for index in range(6) for s in train_touching.scene_strips(index, 0, X_train, y_train)]
    assert len(strips) >= 3  # touching digits run into marks the reader reads as lines
    for line, digits in strips:
        assert line.shape == (train_touching.STRIP_HEIGHT, train_touching.WIDTH) and line.max() > 200
        assert 1 <= len(digits) <= 8 and set(digits.tolist()) <= set(range(10))
    assert np.mean([len(d) >= 2 for _, d in strips]) >= 0.5
