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


def _run(script, *args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, os.path.join(BENCH, script), *map(str, args)],
                          capture_output=True, text=True, env=env)
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
    printed = _run("plot.py", out)
    assert "baselines.md" in printed
    table = (tmp_path / "baselines.md").read_text()
    assert "| cnn |" in table and "| rbf_svm |" in table
    assert (tmp_path / "baselines.png").stat().st_size > 10_000


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
    assert "| optimizer | nesterov |" in (tmp_path / "theory.md").read_text()
    assert (tmp_path / "theory.png").stat().st_size > 10_000


def test_grid_search_quick(tmp_path):
    out = tmp_path / "grid.json"
    _run("grid_search.py", "--quick", "--n-jobs", "2", "--output", out)
    result = json.loads(out.read_text())
    assert len(result["cv_results"]) == 9
    assert set(result["best_params"]) == {"filters", "learning_rate"}
    assert result["refit_test_accuracy"] > 0.5
    assert (tmp_path / "grid.png").stat().st_size > 10_000


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
    search = HalvingGridSearchCV(CNNDigitClassifier(epochs=1, random_state=0),
                                 {"filters": [8, 16], "learning_rate": [1e-3, 3e-3]},
                                 cv=2, factor=2, min_resources=100, random_state=0)
    search.fit(*small)
    assert search.n_iterations_ >= 2 and search.best_score_ > 0.2
