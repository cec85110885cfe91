import os
import pickle
import subprocess
import sys

import joblib
import keras
import numpy as np
import pytest
from conftest import FAST
from scikeras.wrappers import BaseWrapper, KerasClassifier
from sklearn.base import ClassifierMixin, clone, is_classifier
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import (
    GridSearchCV,
    StratifiedKFold,
    check_cv,
    cross_val_score,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import get_tags

from skdigits import CNNDigitClassifier

# --- scikit-learn sees a classifier -------------------------------------------------


def test_scikeras_alone_is_not_seen_as_a_classifier():
    # Why CNNDigitClassifier is built on BaseWrapper with ClassifierMixin first,
    # not on scikeras's KerasClassifier(BaseWrapper, ClassifierMixin).
    assert not is_classifier(KerasClassifier())


def test_base_classes_in_scikit_learns_order():
    mro = CNNDigitClassifier.__mro__
    assert mro.index(ClassifierMixin) < mro.index(BaseWrapper)
    assert KerasClassifier not in mro


def test_is_a_classifier():
    clf = CNNDigitClassifier()
    assert is_classifier(clf)
    tags = get_tags(clf)
    assert tags.estimator_type == "classifier"
    assert tags.classifier_tags is not None and tags.target_tags.required
    y = np.arange(30) % 3
    assert isinstance(check_cv(3, y, classifier=is_classifier(clf)), StratifiedKFold)


@pytest.mark.slow
def test_cross_val_score_stratifies_string_labels(digits):
    X_train, _, y_train, _ = digits
    # Sorted labels: without stratification a fold would miss classes entirely.
    order = np.argsort(y_train, kind="stable")
    X, y = X_train[order][:600], np.array([f"digit {d}" for d in y_train[order][:600]])
    scores = cross_val_score(CNNDigitClassifier(**FAST), X, y, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.8


# --- it learns ------------------------------------------------------------------


@pytest.mark.slow
def test_learns_sklearn_digits(digits, fitted_digits):
    _, X_test, _, y_test = digits
    assert fitted_digits.score(X_test, y_test) > 0.93
    assert fitted_digits.image_shape_ == (8, 8) and fitted_digits.n_features_in_ == 64
    np.testing.assert_array_equal(fitted_digits.classes_, np.arange(10))


@pytest.mark.slow
def test_learns_raw_mnist_without_a_scaler(mnist_small):
    X_train, X_test, y_train, y_test = mnist_small
    clf = CNNDigitClassifier(epochs=4, batch_size=64, random_state=0).fit(X_train, y_train)
    assert clf.image_shape_ == (28, 28) and clf.n_features_in_ == 784
    assert clf.pixel_std_ > 50  # learned from raw 0..255 pixels
    assert clf.score(X_test, y_test) > 0.93
    assert set(clf.history_) >= {"loss", "accuracy", "val_loss", "val_accuracy"}


@pytest.mark.slow
def test_default_network_clears_a_floor(mnist_small):
    # The defaults (network, augmentation, schedule, early stopping) on 3,000 images:
    # a broken default scores near 0.1; a working one clears 0.95 in a minute or so.
    X_train, X_test, y_train, y_test = mnist_small
    clf = CNNDigitClassifier(random_state=0).fit(X_train, y_train)
    assert clf.score(X_test, y_test) > 0.95


@pytest.mark.slow
def test_standard_scaler_in_a_pipeline(digits):
    X_train, X_test, y_train, y_test = digits
    pipe = make_pipeline(StandardScaler(), CNNDigitClassifier(**FAST)).fit(X_train, y_train)
    assert pipe.score(X_test, y_test) > 0.85


def test_predict_proba_is_consistent(digits, fitted_digits):
    _, X_test, _, _ = digits
    proba = fitted_digits.predict_proba(X_test)
    assert proba.shape == (len(X_test), 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    assert proba.min() >= 0
    np.testing.assert_array_equal(
        fitted_digits.classes_[proba.argmax(axis=1)], fitted_digits.predict(X_test)
    )


def test_input_layouts_agree(digits, fitted_digits):
    _, X_test, _, _ = digits
    X = X_test[:20]
    expected = fitted_digits.predict_proba(X)
    for layout in (X.reshape(-1, 8, 8), X.reshape(-1, 8, 8, 1), X.tolist(), X.astype(np.uint8)):
        np.testing.assert_allclose(fitted_digits.predict_proba(layout), expected, rtol=1e-5)


@pytest.mark.slow
def test_string_labels_and_a_subset_of_digits(digits):
    X_train, X_test, y_train, y_test = digits
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])
    keep, keep_test = np.isin(y_train, [3, 7, 8]), np.isin(y_test, [3, 7, 8])
    clf = CNNDigitClassifier(**FAST).fit(X_train[keep], names[y_train[keep]])
    np.testing.assert_array_equal(clf.classes_, ["eight", "seven", "three"])
    pred = clf.predict(X_test[keep_test])
    assert set(pred) <= {"eight", "seven", "three"}
    assert np.mean(pred == names[y_test[keep_test]]) > 0.9
    assert clf.predict_proba(X_test[:5]).shape == (5, 3)


@pytest.mark.slow
def test_mse_loss_and_sgd_variants_train(digits):
    X_train, X_test, y_train, y_test = digits
    clf = CNNDigitClassifier(loss="mse", optimizer="nesterov", learning_rate=0.05, **FAST)
    assert clf.fit(X_train, y_train).score(X_test, y_test) > 0.8
    assert keras.losses.get(clf.model_.loss).__name__ == "mean_squared_error"


# --- parameters -----------------------------------------------------------------


@pytest.mark.parametrize(
    "name, expected",
    [
        ("momentum", dict(cls=keras.optimizers.SGD, momentum=0.9, nesterov=False)),
        ("nesterov", dict(cls=keras.optimizers.SGD, momentum=0.9, nesterov=True)),
        ("sgd", dict(cls=keras.optimizers.SGD, momentum=0.0, nesterov=False)),
        ("adam", dict(cls=keras.optimizers.Adam)),
        ("rmsprop", dict(cls=keras.optimizers.RMSprop)),
    ],
)
def test_optimizer_names(digits, name, expected):
    X_train, _, y_train, _ = digits
    clf = CNNDigitClassifier(optimizer=name, learning_rate=0.01, epochs=1, random_state=0)
    opt = clf.fit(X_train[:200], y_train[:200]).model_.optimizer
    assert type(opt) is expected.pop("cls")
    for key, value in expected.items():
        assert getattr(opt, key) == value


def test_routed_parameters_reach_keras(digits):
    X_train, _, y_train, _ = digits
    seen = []

    class Count(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(epoch)

    clf = CNNDigitClassifier(
        optimizer="momentum", optimizer__momentum=0.5, epochs=2, callbacks=[Count()],
        early_stopping=False, random_state=0,
    )
    assert clf.get_params()["optimizer__momentum"] == 0.5
    clf.fit(X_train[:200], y_train[:200])
    assert clf.model_.optimizer.momentum == 0.5
    assert seen == [0, 1]
    assert clone(clf).get_params()["optimizer__momentum"] == 0.5


@pytest.mark.slow
def test_architecture_follows_parameters(digits):
    X_train, _, y_train, _ = digits
    clf = CNNDigitClassifier(filters=6, dense_units=20, kernel_size=5, activation="tanh", epochs=1, random_state=0)
    model = clf.fit(X_train[:100], y_train[:100]).model_
    assert [model.get_layer(f"conv{i}").filters for i in (1, 2, 3)] == [6, 12, 24]
    assert model.get_layer("conv1").kernel_size == (5, 5)
    assert model.get_layer("dense").units == 20
    acts = {
        layer.activation.__name__
        for layer in model.layers
        if isinstance(layer, (keras.layers.Activation, keras.layers.Conv2D))
    }
    assert acts == {"tanh"}
    assert model.output_shape == (None, 10)
    two = CNNDigitClassifier(conv_blocks=2, epochs=1, random_state=0).fit(X_train[:100], y_train[:100]).model_
    assert {layer.name for layer in two.layers if isinstance(layer, keras.layers.Conv2D)} == {"conv1", "conv2"}


def test_clone_and_set_params():
    clf = CNNDigitClassifier(filters=16, learning_rate=3e-3)
    copy = clone(clf)
    assert copy.get_params() == clf.get_params() and copy is not clf
    copy.set_params(filters=64, learning_rate=1e-4, optimizer__beta_1=0.8)
    assert (copy.filters, copy.learning_rate, copy.optimizer__beta_1) == (64, 1e-4, 0.8)
    assert clf.filters == 16
    with pytest.raises(ValueError, match="Invalid parameter"):
        clf.set_params(no_such_param=1)


@pytest.mark.slow
def test_validation_and_early_stopping(digits):
    X_train, _, y_train, _ = digits
    clf = CNNDigitClassifier(epochs=30, early_stopping=True, n_iter_no_change=1, learning_rate=0.05,
                             random_state=0)
    clf.fit(X_train, y_train)
    n_epochs = len(clf.history_["loss"])
    assert len(clf.history_["val_accuracy"]) == n_epochs
    # Stopped as soon as validation loss failed to improve once, well before 30 epochs.
    val = clf.history_["val_loss"]
    assert n_epochs < 30 and val[-1] >= min(val[:-1])
    no_val = CNNDigitClassifier(epochs=2, validation_fraction=0.0, early_stopping=False, random_state=0)
    assert "val_loss" not in no_val.fit(X_train, y_train).history_


@pytest.mark.slow
def test_grid_search_over_filters_and_learning_rate(digits):
    X_train, X_test, y_train, y_test = digits
    grid = {"filters": [8, 16], "learning_rate": [1e-3, 1e-2]}
    search = GridSearchCV(CNNDigitClassifier(epochs=6, random_state=0), grid, cv=2, n_jobs=2)
    search.fit(X_train[:600], y_train[:600])
    assert set(search.best_params_) == {"filters", "learning_rate"}
    assert search.cv_results_["mean_test_score"].shape == (4,)
    # Chance is 0.1; six epochs on 300 images per fold reach far above it.
    assert search.best_score_ > 0.6
    assert search.score(X_test, y_test) > 0.6


# --- reproducibility and persistence ----------------------------------------------

_CHILD = """
import sys, numpy as np
from sklearn.datasets import load_digits
from skdigits import CNNDigitClassifier
X, y = load_digits(return_X_y=True)
clf = CNNDigitClassifier(epochs=2, batch_size=64, random_state=7).fit(X[:500], y[:500])
np.save(sys.argv[1], clf.predict_proba(X[500:600]))
"""


@pytest.mark.slow
def test_reproducible_in_one_process_and_across_processes(tmp_path, digits):
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    fit = lambda: CNNDigitClassifier(epochs=2, batch_size=64, random_state=7).fit(X[:500], y[:500])  # noqa: E731
    first, second = fit().predict_proba(X[500:600]), fit().predict_proba(X[500:600])
    np.testing.assert_array_equal(first, second)
    out = tmp_path / "child.npy"
    # Results depend on the kernel thread count: the child must size its pools as this
    # process did, whatever thread variables earlier tests (Dask's nannies) left behind.
    import tensorflow as tf

    env = {k: v for k, v in os.environ.items() if k not in ("SKDIGITS_NUM_THREADS", "OMP_NUM_THREADS")}
    if tf.config.threading.get_intra_op_parallelism_threads():
        env["SKDIGITS_NUM_THREADS"] = str(tf.config.threading.get_intra_op_parallelism_threads())
    subprocess.run([sys.executable, "-c", _CHILD, str(out)], check=True, env=env)
    np.testing.assert_array_equal(np.load(out), first)
    other = CNNDigitClassifier(epochs=2, batch_size=64, random_state=8).fit(X[:500], y[:500])
    assert not np.array_equal(other.predict_proba(X[500:600]), first)


_SEEDED_THEN_UNSEEDED = """
import numpy as np
from tensorflow.python.framework import config
from skdigits import CNNDigitClassifier
X = np.random.default_rng(0).random((40, 64)); y = np.arange(40) % 2
CNNDigitClassifier(epochs=1, random_state=0).fit(X, y)
CNNDigitClassifier(epochs=1).fit(X, y)
print("determinism", config.is_op_determinism_enabled())
"""


@pytest.mark.slow
def test_unseeded_fit_after_a_seeded_fit_in_a_fresh_process():
    # Only a fresh process shows it: scikeras's seeded context must not leave
    # TensorFlow's op determinism on, which makes unseeded shuffles fail.
    env = {k: v for k, v in os.environ.items() if k != "TF_DETERMINISTIC_OPS"}
    out = subprocess.run(
        [sys.executable, "-c", _SEEDED_THEN_UNSEEDED], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-2:] == ["determinism", "False"]


@pytest.mark.slow
def test_pickle_joblib_and_keras_format(tmp_path, digits, fitted_digits):
    _, X_test, _, _ = digits
    expected = fitted_digits.predict_proba(X_test)
    restored = pickle.loads(pickle.dumps(fitted_digits))
    np.testing.assert_array_equal(restored.predict_proba(X_test), expected)
    joblib.dump(fitted_digits, tmp_path / "clf.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "clf.joblib").predict_proba(X_test), expected)
    fitted_digits.model_.save(tmp_path / "net.keras")
    net = keras.models.load_model(tmp_path / "net.keras")
    np.testing.assert_allclose(net.predict(X_test.astype(np.float32), verbose=0), expected, rtol=1e-5, atol=1e-7)


@pytest.mark.slow
def test_thread_budget_limits_tensorflow_pools():
    code = (
        "import tensorflow as tf; import numpy as np; from skdigits import CNNDigitClassifier;"
        "X = np.random.default_rng(0).random((40, 64)); y = np.arange(40) % 2;"
        "CNNDigitClassifier(epochs=1, random_state=0).fit(X, y);"
        "print(tf.config.threading.get_intra_op_parallelism_threads(),"
        " tf.config.threading.get_inter_op_parallelism_threads())"
    )
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split()[-2:] == ["1", "1"]


# --- bad input ------------------------------------------------------------------


def _digits_small(digits):
    X_train, _, y_train, _ = digits
    return X_train[:60], y_train[:60]


BAD_FIT_INPUT = [
    ("nan", lambda X, y: (np.where(np.eye(*X.shape) > 0, np.nan, X), y), ValueError, "NaN"),
    ("inf", lambda X, y: (np.where(np.eye(*X.shape) > 0, np.inf, X), y), ValueError, "infinity"),
    ("not square", lambda X, y: (np.zeros((len(y), 783)), y), ValueError, "783 features.*not a square"),
    ("empty", lambda X, y: (X[:0], y[:0]), ValueError, "0 sample"),
    ("length mismatch", lambda X, y: (X, y[:-1]), ValueError, "inconsistent numbers of samples"),
    ("one class", lambda X, y: (X, np.zeros_like(y)), ValueError, "at least 2 classes"),
    ("continuous y", lambda X, y: (X, y + 0.5), ValueError, "Unknown label type: continuous"),
    ("strings in X", lambda X, y: (np.full(X.shape, "dark"), y), TypeError, "numeric"),
    ("5-D", lambda X, y: (np.zeros((len(y), 8, 8, 1, 1)), y), ValueError, "5 dimensions"),
    ("RGB", lambda X, y: (np.zeros((len(y), 8, 8, 3)), y), ValueError, "3 channels"),
    ("1-D X", lambda X, y: (X[:, 0], y), ValueError, "Expected 2D array"),
]


@pytest.mark.parametrize("case, make, error, match", BAD_FIT_INPUT, ids=[c[0] for c in BAD_FIT_INPUT])
def test_bad_fit_input(digits, case, make, error, match):
    X, y = make(*_digits_small(digits))
    clf = CNNDigitClassifier(epochs=1)
    with pytest.raises(error, match=match):
        clf.fit(X, y)
    assert not hasattr(clf, "model_")  # rejected before TensorFlow saw it


BAD_PARAMS = [
    (dict(epochs=-1), ValueError, "epochs must be >= 1"),
    (dict(epochs=2.5), TypeError, "epochs must be an integer"),
    (dict(batch_size=0), ValueError, "batch_size must be >= 1"),
    (dict(learning_rate=-0.01), ValueError, "learning_rate must be > 0"),
    (dict(filters=0), ValueError, "filters must be >= 1"),
    (dict(conv_blocks=0), ValueError, "conv_blocks must be >= 1"),
    (dict(conv_blocks=2.0), TypeError, "conv_blocks must be an integer"),
    (dict(dropout=1.0), ValueError, "dropout must be >= 0 and < 1"),
    (dict(activation="softplus"), ValueError, "activation must be one of"),
    (dict(optimizer="adagrad"), ValueError, "optimizer must be one of"),
    (dict(loss="hinge"), ValueError, "loss must be one of"),
    (dict(kernel_size=(3, 3, 3)), ValueError, "kernel_size"),
    (dict(image_shape=(0, 5)), ValueError, "image_shape"),
    (dict(validation_fraction=0.0, early_stopping=True), ValueError, "early_stopping=True needs"),
    (dict(tta="yes"), TypeError, "tta must be True or False"),
    (dict(augment_ink=1), TypeError, "augment_ink must be True or False"),
    (dict(dense_unit=5), TypeError, "Unknown parameter 'dense_unit'"),
]


@pytest.mark.parametrize("params, error, match", BAD_PARAMS, ids=[str(p[0]) for p in BAD_PARAMS])
def test_bad_parameters(digits, params, error, match):
    X, y = _digits_small(digits)
    clf = CNNDigitClassifier(**params)  # construction never validates (clone relies on it)
    with pytest.raises(error, match=match):
        clf.fit(X, y)
    assert not hasattr(clf, "model_")


def test_not_fitted():
    clf = CNNDigitClassifier()
    for method in (clf.predict, clf.predict_proba):
        with pytest.raises(NotFittedError):
            method(np.zeros((2, 64)))
    with pytest.raises(NotFittedError):
        clf.score(np.zeros((2, 64)), [0, 1])


def test_bad_predict_input(digits, fitted_digits):
    with pytest.raises(ValueError, match="X has 784 features, but CNNDigitClassifier is expecting 64"):
        fitted_digits.predict(np.zeros((2, 784)))
    with pytest.raises(ValueError, match="images of 28x28 pixels.*fitted on 8x8"):
        fitted_digits.predict(np.zeros((2, 28, 28)))
    with pytest.raises(ValueError, match="NaN"):
        fitted_digits.predict_proba(np.full((1, 64), np.nan))
    with pytest.raises(ValueError, match="0 sample"):
        fitted_digits.predict(np.zeros((0, 64)))


@pytest.mark.slow
def test_non_square_images_with_image_shape(rng):
    X = rng.random((80, 4 * 6))
    y = (X[:, :12].sum(axis=1) > X[:, 12:].sum(axis=1)).astype(int)
    clf = CNNDigitClassifier(image_shape=(4, -1), epochs=1, random_state=0).fit(X, y)
    assert clf.image_shape_ == (4, 6)
    with pytest.raises(ValueError, match="does not fit image_shape"):
        CNNDigitClassifier(image_shape=(5, 5), epochs=1).fit(X, y)


@pytest.mark.slow
def test_warm_start_continues_the_same_network(digits):
    X_train, X_test, y_train, y_test = digits
    clf = CNNDigitClassifier(epochs=2, batch_size=64, random_state=0).fit(X_train, y_train)
    network, first = clf.model_, clf.score(X_test, y_test)
    kernel = clf.model_.get_layer("conv1").get_weights()[0].copy()
    clf.set_params(warm_start=True, epochs=3).fit(X_train, y_train)
    assert clf.model_ is network
    assert not np.allclose(kernel, clf.model_.get_layer("conv1").get_weights()[0])
    assert clf.score(X_test, y_test) > first
    # Without warm_start, fit starts again from a new network.
    assert clf.set_params(warm_start=False).fit(X_train, y_train).model_ is not network


@pytest.mark.slow
def test_warm_start_refuses_new_shapes_and_labels(digits):
    X_train, _, y_train, _ = digits
    with pytest.raises(TypeError, match="warm_start must be True or False, got 'yes'"):
        CNNDigitClassifier(warm_start="yes").fit(X_train, y_train)
    clf = CNNDigitClassifier(epochs=1, warm_start=True, random_state=0).fit(X_train, y_train)
    with pytest.raises(ValueError, match="has 63 features, but CNNDigitClassifier is expecting 64"):
        clf.fit(X_train[:, :63], y_train)
    with pytest.raises(ValueError, match="fitted on 8x8 images"):
        clf.fit(np.zeros((20, 9, 9)), y_train[:20])
    with pytest.raises(ValueError, match=r"labels \[10\] not seen .* warm_start cannot add labels"):
        clf.fit(X_train[:20], np.where(y_train[:20] == 3, 10, y_train[:20]))


@pytest.mark.slow
def test_partial_fit_streams_mnist_in_chunks(mnist_small):
    from skdigits import load_mnist

    X_train, _, y_train, _ = load_mnist(n_train=10000, random_state=0)
    _, X_test, _, y_test = mnist_small
    clf = CNNDigitClassifier(random_state=0)
    for start in range(0, len(X_train), 2000):
        clf.partial_fit(X_train[start:start + 2000], y_train[start:start + 2000], classes=np.arange(10))
    assert len(clf.history_["loss"]) == 5 and "val_loss" not in clf.history_
    assert clf.history_["loss"][-1] < clf.history_["loss"][0]
    assert clf.score(X_test, y_test) > 0.93
    # The pixel scale is learned on the first call only.
    mean = clf.pixel_mean_
    clf.partial_fit(X_train[:2000] / 255.0, y_train[:2000])
    assert clf.pixel_mean_ == mean


@pytest.mark.slow
def test_partial_fit_errors(digits):
    X_train, _, y_train, _ = digits
    clf = CNNDigitClassifier(random_state=0)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clf.partial_fit(X_train, y_train)
    with pytest.raises(ValueError, match=r"y holds labels \[9\] that are not in classes"):
        clf.partial_fit(X_train[y_train > 7], y_train[y_train > 7], classes=[0, 1, 2, 3, 4, 5, 6, 7, 8])
    with pytest.raises(ValueError, match="classes must hold at least 2 labels"):
        clf.partial_fit(X_train[y_train == 1], y_train[y_train == 1], classes=[1])
    # A batch of one class is fine once the classes are known.
    clf.partial_fit(X_train[y_train == 1], y_train[y_train == 1], classes=range(10))
    assert list(clf.classes_) == list(range(10)) and clf.predict(X_train[:3]).shape == (3,)
    with pytest.raises(ValueError, match=r"classes \[0, 1\] differ from those of the first call"):
        clf.partial_fit(X_train, y_train, classes=[0, 1])
    with pytest.raises(ValueError, match=r"labels \[12\] not seen .* partial_fit cannot add labels"):
        clf.partial_fit(X_train[:5], [12, 1, 1, 1, 1])
    with pytest.raises(ValueError, match="has 10 features, but CNNDigitClassifier is expecting 64"):
        clf.partial_fit(X_train[:5, :10], y_train[:5])
    # It carries on from a pickle and from fit.
    again = pickle.loads(pickle.dumps(clf)).partial_fit(X_train, y_train)
    assert len(again.history_["loss"]) == 2


def test_one_cycle_schedule_warms_up_then_decays_to_zero():
    from skdigits.estimator._network import OneCycle

    schedule = OneCycle(0.01, epochs=4, warmup=0.25)
    assert schedule.rate(0.0) == pytest.approx(0.001)
    assert schedule.rate(0.125) == pytest.approx(0.0055)
    assert schedule.rate(0.25) == pytest.approx(0.01)
    assert schedule.rate(0.625) == pytest.approx(0.005)
    assert schedule.rate(1.0) == pytest.approx(0.0, abs=1e-12)
    rates = [schedule.rate(t / 100) for t in range(25, 101)]
    assert all(a >= b for a, b in zip(rates, rates[1:]))


@pytest.mark.slow
def test_one_cycle_and_auto_batch_fit(digits):
    X_train, X_test, y_train, y_test = digits

    class Rates(keras.callbacks.Callback):
        """The learning rate each step ran at."""

        def on_train_batch_end(self, batch, logs=None):
            self.seen = getattr(self, "seen", []) + [float(self.model.optimizer.learning_rate.numpy())]

    rates = Rates()
    clf = CNNDigitClassifier(epochs=4, batch_size="auto", learning_rate=8e-3, lr_schedule="one_cycle",
                             callbacks=[rates], random_state=0).fit(X_train, y_train)
    # 1,347 images less 10% held out: "auto" takes the smallest batch, 32, so 38 steps an epoch.
    assert len(rates.seen) == 4 * 38
    assert max(rates.seen) == pytest.approx(8e-3, rel=0.05) and rates.seen[-1] < 1e-4
    assert clf.score(X_test, y_test) > 0.95


@pytest.mark.parametrize("n, batch", [(100, 32), (3_200, 32), (20_000, 200), (54_000, 512), (600_000, 512)])
def test_auto_batch_size(n, batch):
    from skdigits.estimator._network import auto_batch_size

    assert auto_batch_size(n) == batch


@pytest.mark.parametrize("value, error", [("big", ValueError), (0, ValueError), (2.5, TypeError)])
def test_bad_batch_size(digits, value, error):
    X_train, _, y_train, _ = digits
    with pytest.raises(error, match="batch_size"):
        CNNDigitClassifier(batch_size=value).fit(X_train, y_train)


def test_shifted_views_repeat_the_edge():
    from skdigits.estimator._network import shifted_views

    X = np.arange(24, dtype=np.float32).reshape(2, 12)  # two 3x4 images
    views = shifted_views(X, (3, 4)).reshape(5, 2, 3, 4)
    np.testing.assert_array_equal(views[0], X.reshape(2, 3, 4))
    np.testing.assert_array_equal(views[1, 0], [[0, 0, 1, 2], [4, 4, 5, 6], [8, 8, 9, 10]])  # one pixel right
    np.testing.assert_array_equal(views[2, 1], [[13, 14, 15, 15], [17, 18, 19, 19], [21, 22, 23, 23]])  # left
    np.testing.assert_array_equal(views[3, 0], [[0, 1, 2, 3], [0, 1, 2, 3], [4, 5, 6, 7]])  # down
    np.testing.assert_array_equal(views[4, 0], [[4, 5, 6, 7], [8, 9, 10, 11], [8, 9, 10, 11]])  # up


@pytest.mark.slow
def test_tta_averages_the_network_over_shifted_views(mnist_small, mnist_model, monkeypatch):
    from skdigits.estimator._network import predict_in_batches

    _, X_test, _, _ = mnist_small
    X = X_test[:50]
    assert mnist_model.tta  # the default
    shifted = [
        np.concatenate([X[:, :, :1], X[:, :, :-1]], axis=2),  # one pixel right, the edge column repeated
        np.concatenate([X[:, :, 1:], X[:, :, -1:]], axis=2),  # left
        np.concatenate([X[:, :1], X[:, :-1]], axis=1),  # down
        np.concatenate([X[:, 1:], X[:, -1:]], axis=1),  # up
    ]
    views = [predict_in_batches(mnist_model.model_, v.reshape(len(X), -1).astype(np.float32)).astype(np.float64)
             for v in [X] + shifted]
    expected = np.mean(views, axis=0)
    averaged = mnist_model.predict_proba(X)
    np.testing.assert_allclose(averaged, expected / expected.sum(axis=1, keepdims=True), rtol=1e-5, atol=1e-7)
    # In chunks of other sizes (the last one padded), the same numbers.
    import skdigits.estimator._network

    monkeypatch.setattr(skdigits.estimator._network, "PREDICT_BATCH", 7)
    np.testing.assert_allclose(mnist_model.predict_proba(X), averaged, rtol=1e-5, atol=1e-7)
    try:
        # A prediction-time switch: no refit, one pass over the image alone.
        single = mnist_model.set_params(tta=False).predict_proba(X)
        np.testing.assert_allclose(single, views[0] / views[0].sum(axis=1, keepdims=True), rtol=1e-5, atol=1e-7)
        assert np.abs(single - averaged).max() > 1e-4
        with pytest.raises(TypeError, match="tta must be True or False"):
            mnist_model.set_params(tta="yes").predict(X)
    finally:
        mnist_model.set_params(tta=True)


def test_random_ink_thickens_thins_and_blurs_in_training_only():
    import keras

    from skdigits.estimator._layers import RandomInk

    images = np.zeros((2, 12, 12, 1), np.float32)
    images[:, 3:9, 5:7] = 1.0  # a bar two pixels wide
    assert np.array_equal(np.asarray(RandomInk(thicken=1.0, seed=0)(images, training=False)), images)
    thick = np.asarray(RandomInk(thicken=1.0, thin=0.0, blur=0.0, seed=0)(images, training=True))
    thin = np.asarray(RandomInk(thicken=0.0, thin=1.0, blur=0.0, seed=0)(images, training=True))
    blurred = np.asarray(RandomInk(thicken=0.0, thin=0.0, blur=1.0, seed=0)(images, training=True))
    assert thick[0, 5].sum() == 4 and thick[0, 2, 4:8].sum() == 4   # a pixel more on every side
    assert thin[0, 5].sum() == 1 and thin[0].sum() == 5              # one pixel less across and along
    assert 0 < blurred[0, 5, 4] < 1 and blurred[0].sum() == pytest.approx(images[0].sum())
    # Each image draws its own change: with even odds, a batch mixes them.
    mixed = np.asarray(RandomInk(thicken=0.5, thin=0.0, blur=0.0, seed=1)(np.repeat(images, 32, 0), training=True))
    assert 0 < sum(m.sum() > images[0].sum() for m in mixed) < 64
    assert keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(RandomInk(blur=0.2))).blur == 0.2


@pytest.mark.slow
def test_augment_ink_trains_a_network_with_the_layer(mnist_small):
    X_train, X_test, y_train, y_test = mnist_small
    clf = CNNDigitClassifier(augment_ink=True, epochs=2, batch_size=64, random_state=0).fit(X_train, y_train)
    assert "augment_ink" in [layer.name for layer in clf.model_.layers]
    assert clf.score(X_test, y_test) > 0.9
    # Inactive when predicting: the same answer twice.
    np.testing.assert_array_equal(clf.predict_proba(X_test[:20]), clf.predict_proba(X_test[:20]))
    plain = CNNDigitClassifier(epochs=1, random_state=0).fit(X_train[:200], y_train[:200])
    assert "augment_ink" not in [layer.name for layer in plain.model_.layers]


def test_tta_is_skipped_on_tiny_images(digits, fitted_digits):
    _, X_test, _, _ = digits
    on = fitted_digits.predict_proba(X_test[:20])
    try:
        np.testing.assert_array_equal(fitted_digits.set_params(tta=False).predict_proba(X_test[:20]), on)
    finally:
        fitted_digits.set_params(tta=True)


@pytest.mark.parametrize("tta", [True, False])
def test_an_image_gets_the_same_probabilities_whatever_shares_its_batch(pretrained, tta):
    from skdigits import load_mnist

    X = load_mnist(n_test=150, random_state=0)[1]
    pretrained.set_params(tta=tta)
    try:
        together = pretrained.predict_proba(X)
        alone = np.concatenate([pretrained.predict_proba(X[i:i + 1]) for i in range(0, 150, 11)])
        order = np.random.default_rng(0).permutation(150)
        shuffled = pretrained.predict_proba(X[order])
        first = pretrained.predict_proba(X[:70])  # full chunks and a padded one
    finally:
        pretrained.set_params(tta=True)
    np.testing.assert_array_equal(alone, together[::11])
    np.testing.assert_array_equal(shuffled, together[order])
    np.testing.assert_array_equal(first, together[:70])
