"""How good and how fast is CNNDigitClassifier() with its default parameters on MNIST?

Two recipes side by side, for each seed in turn: "new", today's defaults, and
"old", the defaults before the faster recipe (14 epochs at batch 128 with a
per-epoch cosine decay, early stopping on 10% held out, no test-time
averaging), kept reachable through parameters. For each: fit on the 60,000
training images, test accuracy on the 10,000 test images (also without
test-time averaging, where the recipe has it), fit seconds and the per-epoch
curve (with any pause of the process inside an epoch, detected from the step
times). Then, in the same run:

- wrapper overhead: the same network trained by plain Keras ``model.fit`` on the
  same data, epochs and recipe as the first recipe's first seed (scored
  without test-time averaging, against the estimator's score without it);
- prediction: batch throughput through the estimator and through the Keras
  model directly, and single-image latency;
- the fit time of an RBF SVM on the same data, as the yardstick for the ratio.

    python benchmarks/accuracy.py --seeds 0 1 2 --output benchmarks/results/accuracy.json
"""

import argparse
import os
import resource
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402
from _common import best_of, environment, median_latency, timed, write_json  # noqa: E402

from skdigits import CNNDigitClassifier, load_mnist  # noqa: E402
from skdigits.estimator._input import training_datasets  # noqa: E402
from skdigits.estimator._network import (  # noqa: E402
    LOSSES,
    PREDICT_BATCH,
    OneCycle,
    auto_batch_size,
    build_cnn,
    cosine_schedule,
    make_optimizer,
)

# CNNDigitClassifier's defaults before the faster recipe, reached through parameters.
OLD_DEFAULTS = {"epochs": 14, "batch_size": 128, "learning_rate": 1e-3, "lr_schedule": "cosine",
                "validation_fraction": 0.1, "early_stopping": True, "tta": False}
RECIPES = {"new": {}, "old": OLD_DEFAULTS}


def _usage():
    """This process's CPU seconds and major page faults; the machine's idle, iowait and steal seconds."""
    times = os.times()
    with open("/proc/stat") as fh:
        ticks = [int(v) for v in fh.readline().split()[1:]]
    hz = os.sysconf("SC_CLK_TCK")
    return {
        "process_cpu_s": times.user + times.system,
        "major_faults": resource.getrusage(resource.RUSAGE_SELF).ru_majflt,
        "machine_idle_s": ticks[3] / hz,
        "machine_iowait_s": ticks[4] / hz,
        "machine_steal_s": ticks[7] / hz,
    }


class StepClock(keras.callbacks.Callback):
    """Records when each epoch and each training step ends, to find pauses.

    For each step over a second it also keeps what the process and the machine
    did meanwhile (CPU seconds used, idle / iowait / steal seconds, major page
    faults), to tell a sleeping process from a busy or a starved one.
    """

    def on_train_begin(self, logs=None):
        self.epochs, self.steps = [], []
        self._start = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.perf_counter()
        self._last = self._epoch_start
        self._step_times = []
        self._slow = []
        self._usage = _usage() if os.path.exists("/proc/stat") else None

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        step = now - self._last
        self._step_times.append(step)
        self._last = now
        if self._usage is not None:
            usage = _usage()
            if step > 1.0:
                self._slow.append({"step": batch, "seconds": step,
                                   **{k: usage[k] - self._usage[k] for k in usage}})
            self._usage = usage

    def on_epoch_end(self, epoch, logs=None):
        steps = np.array(self._step_times)
        median = float(np.median(steps))
        if epoch == 0:
            # The first step traces and compiles the training graph: slow, but not a pause.
            steps[0] = median
            self._slow = [d for d in self._slow if d["step"] != 0]
        # A step ten times slower than the median (and over a second) is a pause, not work.
        pauses = steps[(steps > 10 * median) & (steps > 1.0)]
        self.epochs.append({
            "epoch": epoch + 1,
            "seconds": time.perf_counter() - self._epoch_start,
            "median_step_ms": 1000 * median,
            "pause_seconds": float((pauses - median).sum()),
            "pauses": len(pauses),
            "slow_steps": [d for d in self._slow if d["seconds"] > 10 * median],
            **{k: float(v) for k, v in (logs or {}).items()},
        })


def fit_estimator(seed, data, recipe, params):
    X_train, X_test, y_train, y_test = data
    clock = StepClock()
    clf = CNNDigitClassifier(**params, random_state=seed, callbacks=[clock], verbose=2)
    _, fit_seconds = timed(clf.fit, X_train, y_train)
    accuracy = clf.score(X_test, y_test)
    plain = None
    if clf.tta:
        # What test-time averaging adds: the same network, one pass per image.
        plain = clf.set_params(tta=False).score(X_test, y_test)
        clf.set_params(tta=True)
    pause = sum(e["pause_seconds"] for e in clock.epochs)
    row = {
        "recipe": recipe,
        "seed": seed,
        "test_accuracy": accuracy,
        "test_accuracy_without_tta": plain,
        "fit_seconds": fit_seconds,
        "fit_seconds_without_pauses": fit_seconds - pause,
        "pause_seconds": pause,
        "epochs_run": len(clock.epochs),
        "curve": clock.epochs,
    }
    print(f"{recipe} recipe, seed {seed}: test accuracy {accuracy:.4f}, fit {fit_seconds:.0f} s "
          f"({pause:.0f} s of pauses), {len(clock.epochs)} epochs", flush=True)
    return clf, row


def fit_plain_keras(clf, seed, data):
    """The estimator's network and training recipe, written directly in Keras."""
    X_train, X_test, y_train, y_test = data
    keras.utils.set_random_seed(seed)
    X = X_train.reshape(len(X_train), -1).astype(np.float32)
    Y = np.eye(10, dtype=np.float32)[y_train]
    order = np.random.default_rng(seed).permutation(len(X))
    X, Y = X[order], Y[order]
    p = clf.get_params()
    start = time.perf_counter()
    mean, std = float(X.mean(dtype=np.float64)), float(X.std(dtype=np.float64))
    model = build_cnn(clf.image_shape_, 10, filters=p["filters"], conv_blocks=p["conv_blocks"],
                      kernel_size=p["kernel_size"], dense_units=p["dense_units"], dropout=p["dropout"],
                      activation=p["activation"], augment=p["augment"], pixel_mean=mean, pixel_std=std)
    model.compile(optimizer=make_optimizer(p["optimizer"], p["learning_rate"]), loss=LOSSES[p["loss"]],
                  metrics=["accuracy"])
    callbacks = []
    if p["lr_schedule"] == "one_cycle":
        callbacks.append(OneCycle(p["learning_rate"], p["epochs"]))
    elif p["lr_schedule"] == "cosine":
        callbacks.append(keras.callbacks.LearningRateScheduler(cosine_schedule(p["learning_rate"], p["epochs"])))
    if p["early_stopping"]:
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_loss", patience=p["n_iter_no_change"],
                                                       restore_best_weights=True))
    batch_size = p["batch_size"]
    if batch_size == "auto":
        batch_size = auto_batch_size(int(len(X) * (1.0 - p["validation_fraction"])))
    # The same input pipeline as the estimator's: Keras's own one for arrays
    # pauses at epoch boundaries (see skdigits/estimator/_input.py).
    train, validation = training_datasets(X, Y, batch_size=batch_size,
                                          validation_fraction=p["validation_fraction"], seed=seed)
    history = model.fit(train, validation_data=validation, epochs=p["epochs"], callbacks=callbacks, verbose=2)
    seconds = time.perf_counter() - start
    proba = model.predict(X_test.reshape(len(X_test), -1).astype(np.float32), batch_size=PREDICT_BATCH, verbose=0)
    accuracy = float(np.mean(proba.argmax(axis=1) == y_test))
    print(f"plain Keras: test accuracy {accuracy:.4f}, fit {seconds:.0f} s", flush=True)
    return {"fit_seconds": seconds, "test_accuracy": accuracy, "epochs_run": len(history.history["loss"])}


def summary(rows):
    accuracies = [r["test_accuracy"] for r in rows]
    fits = [r["fit_seconds"] for r in rows]
    return {
        "mean_test_accuracy": float(np.mean(accuracies)),
        "min_test_accuracy": float(np.min(accuracies)),
        "mean_fit_seconds": float(np.mean(fits)),
        "max_fit_seconds": float(np.max(fits)),
        "mean_fit_seconds_without_pauses": float(np.mean([r["fit_seconds_without_pauses"] for r in rows])),
    }


def prediction_figures(clf, X_test):
    flat = X_test.reshape(len(X_test), -1).astype(np.float32)
    one, one_flat = X_test[:1], flat[:1]
    n = len(X_test)
    est = best_of(lambda: clf.predict(X_test))
    direct = best_of(lambda: clf.model_.predict(flat, batch_size=PREDICT_BATCH, verbose=0))
    direct_default = best_of(lambda: clf.model_.predict(flat, verbose=0))
    figures = {
        "batch_images_per_second": n / est,
        "keras_model_predict_images_per_second": n / direct,
        "keras_model_predict_default_batch_images_per_second": n / direct_default,
        "batch_throughput_ratio_estimator_to_keras": direct / est,
        "single_image_predict_ms": 1000 * median_latency(lambda: clf.predict(one)),
        "single_image_predict_proba_ms": 1000 * median_latency(lambda: clf.predict_proba(one)),
        "single_image_keras_predict_ms": 1000 * median_latency(lambda: clf.model_.predict(one_flat, verbose=0), n=30),
        "single_image_keras_predict_on_batch_ms": 1000 * median_latency(lambda: clf.model_.predict_on_batch(one_flat)),
    }
    for key, value in figures.items():
        print(f"{key}: {value:.2f}", flush=True)
    return figures


def svm_fit_seconds(data):
    from sklearn.svm import SVC

    X_train, _, y_train, _ = data
    X = X_train.reshape(len(X_train), -1) / 255.0
    _, seconds = timed(SVC(C=10, gamma="scale").fit, X, y_train)
    print(f"RBF SVM (C=10, gamma='scale') fit: {seconds:.0f} s", flush=True)
    return seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--recipes", nargs="+", choices=list(RECIPES), default=list(RECIPES),
                        help="which defaults to fit (default: both, new first)")
    parser.add_argument("--epochs", type=int, help="override every recipe's epochs (for quick trials only)")
    parser.add_argument("--n-train", type=int, help="stratified training subset (default: all 60,000)")
    parser.add_argument("--no-keras", action="store_true", help="skip the plain-Keras comparison")
    parser.add_argument("--no-svm", action="store_true", help="skip the SVM yardstick")
    parser.add_argument("--output", default="benchmarks/results/accuracy.json")
    args = parser.parse_args(argv)

    recipes = {name: dict(RECIPES[name], **({"epochs": args.epochs} if args.epochs else {}))
               for name in args.recipes}
    data = load_mnist(n_train=args.n_train, random_state=0)
    result = {**environment(), "n_train": len(data[2]), "n_test": len(data[3]), "seeds": args.seeds,
              "default_params": CNNDigitClassifier().get_params(),
              "recipes": {name: CNNDigitClassifier(**params).get_params() for name, params in recipes.items()},
              "runs": []}
    for params in [result["default_params"], *result["recipes"].values()]:
        params["callbacks"] = None
    first = None
    # Seed by seed, the recipes in turn: a slow spell of the machine falls on both.
    for seed in args.seeds:
        for name, params in recipes.items():
            clf, row = fit_estimator(seed, data, name, params)
            result["runs"].append(row)
            first = first or clf
            write_json(args.output, result)  # keep what is done if a later fit is interrupted
    result["summary"] = {name: summary([r for r in result["runs"] if r["recipe"] == name]) for name in recipes}
    if {"new", "old"} <= set(recipes):
        new, old = result["summary"]["new"], result["summary"]["old"]
        result["summary"]["fit_ratio_new_to_old"] = new["mean_fit_seconds"] / old["mean_fit_seconds"]
    result["prediction"] = prediction_figures(first, data[1])
    if not args.no_keras:
        plain = fit_plain_keras(first, args.seeds[0], data)
        plain["recipe"] = args.recipes[0]
        plain["estimator_fit_seconds_same_seed"] = result["runs"][0]["fit_seconds"]
        same = result["runs"][0]
        plain["estimator_test_accuracy_same_seed"] = (
            same["test_accuracy"] if same["test_accuracy_without_tta"] is None else same["test_accuracy_without_tta"])
        plain["fit_ratio_estimator_to_keras"] = result["runs"][0]["fit_seconds"] / plain["fit_seconds"]
        result["plain_keras"] = plain
    if not args.no_svm:
        svm = svm_fit_seconds(data)
        result["svm"] = {"fit_seconds": svm, **{
            f"mean_fit_ratio_{name}_cnn_to_svm": result["summary"][name]["mean_fit_seconds"] / svm
            for name in recipes}}
    for name in recipes:
        print(name, {k: round(v, 4) for k, v in result["summary"][name].items()})
    if "fit_ratio_new_to_old" in result["summary"]:
        print(f"fit time, new / old: {result['summary']['fit_ratio_new_to_old']:.3f}")
    write_json(args.output, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
