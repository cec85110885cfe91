"""Make the pretrained model that ships with skdigits, and its record.

Fits ``CNNDigitClassifier(random_state=SEED, augment_ink=True)`` (every other
parameter at its default; ``skdigits.model_files._model_files.PRETRAINED_PARAMS``) on the
60,000 MNIST training images, on the first 30,000 of them rendered as small
degraded photos and read back through ``to_mnist`` (``_photo_digits.photo_digits``;
``--photo-digits 0`` leaves them out) and on the next 20,000 written on the
surfaces of ``_scenes.py`` and found by the learned reader
(``_photo_digits.scene_digits``; ``--scene-digits 0`` leaves them out),
scores it on the 10,000 test images, saves it with ``skdigits.save_model`` and writes the record beside it:
command, git revision, versions, machine, seed, test accuracy, fit seconds,
epochs, file size and sha256. ``skdigits info`` and
``skdigits.pretrained_record()`` read that record.

    python benchmarks/pretrained.py
    python benchmarks/pretrained.py --n-train 2000 --epochs 1 --output /tmp/m.safetensors   # quick check
    python benchmarks/pretrained.py --resave   # the same weights, written in the current file format

``--resave`` trains nothing: it loads the model file, checks that it scores
what its record says, writes it again with ``save_model`` (when the file
format gains a field) and adds a ``resaved`` entry to the record.
"""

import argparse
import hashlib
import json
import os
import sys
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import environment, photo_digits, scene_digits, timed, use_onednn, write_json  # noqa: E402

use_onednn()

from skdigits import CNNDigitClassifier, load_mnist, load_model, save_model  # noqa: E402
from skdigits.model_files._checks import FORMAT_VERSION, tensors_sha256  # noqa: E402
from skdigits.model_files._model_files import PRETRAINED_PARAMS  # noqa: E402

PACKAGE_DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "skdigits", "data")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-train", type=int, default=None, help="train on a subset (quick checks only)")
    parser.add_argument("--epochs", type=int, default=None, help="override the default epochs (quick checks only)")
    parser.add_argument("--photo-digits", type=int, default=30000,
                        help="training digits also rendered as photos and read back (0: MNIST alone)")
    parser.add_argument("--scene-digits", type=int, default=20000,
                        help="training digits written on the surfaces of _scenes.py and read back (0: none)")
    parser.add_argument("--output", default=os.path.join(PACKAGE_DATA, "pretrained.safetensors"),
                        help="model file; the record goes beside it, same name with .json")
    parser.add_argument("--resave", action="store_true",
                        help="train nothing: write the model file at --output again in the current format")
    args = parser.parse_args(argv)
    if args.resave:
        return resave(args.output)

    provenance = environment()  # before training: the revision the model is trained from
    X_train, X_test, y_train, y_test = load_mnist(n_train=args.n_train, random_state=args.seed)
    n_mnist = len(y_train)
    none = X_train[:0], y_train[:0]
    X_photo, y_photo = photo_digits(args.photo_digits, seed=args.seed) if args.photo_digits else none
    X_scene, y_scene = scene_digits(args.scene_digits, seed=args.seed) if args.scene_digits else none
    n_photo, n_scene = len(y_photo), len(y_scene)
    if n_photo or n_scene:
        order = np.random.default_rng(args.seed).permutation(n_mnist + n_photo + n_scene)
        X_train = np.concatenate([X_train, X_photo, X_scene])[order]
        y_train = np.concatenate([y_train, y_photo, y_scene])[order]
    clf = CNNDigitClassifier(random_state=args.seed, verbose=2, **PRETRAINED_PARAMS)
    if args.epochs is not None:
        clf.set_params(epochs=args.epochs)
    _, fit_seconds = timed(clf.fit, X_train, y_train)
    accuracy = clf.score(X_test, y_test)
    clf.set_params(verbose=0)  # the progress lines were for this run, not for the model's users
    save_model(clf, args.output)
    with open(args.output, "rb") as fh:
        data = fh.read()
    record = {
        **provenance,
        "seed": args.seed,
        "params": {k: v for k, v in clf.get_params().items() if k != "callbacks"},
        "n_train": len(y_train),
        "n_train_mnist": n_mnist,
        "n_train_photo_digits": n_photo,
        "n_train_scene_digits": n_scene,
        "n_test": len(y_test),
        "test_accuracy": accuracy,
        "test_errors": int(round((1 - accuracy) * len(y_test))),
        "fit_seconds": round(fit_seconds, 1),
        "epochs_run": len(clf.history_["loss"]),
        "file": os.path.basename(args.output),
        "file_bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    print(f"test accuracy {accuracy:.4f} on {len(y_test)} images, fit {fit_seconds:.1f} s")
    write_json(os.path.splitext(args.output)[0] + ".json", record)
    return 0


def resave(path):
    """Write ``path`` again in the current file format; its weights and its record's scores stay as they are."""
    record_path = os.path.splitext(path)[0] + ".json"
    provenance = environment()  # before the file is written: the revision it is written from
    with open(record_path, encoding="utf-8") as fh:
        record = json.load(fh)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an older format's "no checksum" warning: the reason to resave
        clf = load_model(path)
    _, X_test, _, y_test = load_mnist(random_state=record["seed"])
    accuracy = clf.score(X_test, y_test)
    if accuracy != record["test_accuracy"]:
        raise SystemExit(f"{path} scores {accuracy}, its record says {record['test_accuracy']}: not resaved")
    weights = {v.path: v.numpy() for v in clf.model_.weights}
    save_model(clf, path)
    again = load_model(path)
    if tensors_sha256({v.path: v.numpy() for v in again.model_.weights}) != tensors_sha256(weights):
        raise SystemExit(f"{path}: the weights changed on resaving")
    with open(path, "rb") as fh:
        data = fh.read()
    record.update(file_bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
    record["resaved"] = {"timestamp": provenance["timestamp"], "git_revision": provenance["git_revision"],
                         "command": "python benchmarks/pretrained.py --resave", "format_version": FORMAT_VERSION,
                         "test_accuracy": accuracy}
    write_json(record_path, record)
    print(f"{path}: written in format version {FORMAT_VERSION}; test accuracy {accuracy:.4f} as recorded")
    return 0


if __name__ == "__main__":
    sys.exit(main())
