"""Make the "no digit here" model that ships with skdigits, and its record.

The reader's rules find marks that look like digits; on a blank whiteboard
its frame, on an empty form its boxes, on a sticky note its edge. This
script teaches a small CNN to tell the 28x28 images the reader makes of
real digits from those it makes of anything else:

- digits: the images the reader finds in photos of numbers written with
  MNIST *training* digits (every condition of ``photos.py``, ``_scenes.py``
  included, keeping only photos where it found as many marks as digits),
  and MNIST training images themselves;
- not digits: what it finds in photos of every condition with nothing written.

``CNNDigitClassifier(filters=16)`` is fitted on both, blanks weighted up
to the digits' count, and saved with ``save_model``; the record beside it
holds the command, revision, seed, counts, fit time and, on photos made
with MNIST *test* digits and other seeds, the share of blank photos' images
it rejects and of digits' images it refuses at ``skdigits._rejector.THRESHOLD``.

    python benchmarks/train_rejector.py
    python benchmarks/train_rejector.py --scenes 200 --output /tmp/r.safetensors   # quick check
"""

import argparse
import concurrent.futures
import hashlib
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import environment, write_json  # noqa: E402
from photos import SURFACES, make_photo  # noqa: E402

from skdigits import CNNDigitClassifier, ImageError, find_digits, load_mnist, save_model  # noqa: E402
from skdigits._rejector import THRESHOLD  # noqa: E402

PACKAGE_DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "skdigits", "data")
CONDITIONS = SURFACES + ("clean", "ruled", "squared", "shadow", "tilt", "specks", "all")
# Photos per task given to a worker process.
BATCH = 40


def _images(task):
    """The reader's images in one batch of photos: (images, condition of each)."""
    seed, split, with_digits = task
    rng = np.random.default_rng(seed)
    X, y = _DATA[split]
    images, conditions = [], []
    for k in range(BATCH):
        condition = CONDITIONS[(seed + k) % len(CONDITIONS)]
        n = int(rng.integers(1, 6)) if with_digits else 0
        photo = make_photo(X[rng.integers(len(y), size=n)], condition, rng)
        try:
            found = find_digits(photo[:, :, ::-1], single=n == 1, reject=False)
        except ImageError:
            continue
        if with_digits and len(found.images) != n:
            continue  # the reader split or joined digits: which image is which is not known
        images.extend(found.images)
        conditions.extend([condition] * len(found.images))
    return images, conditions


def _start(seed):
    global _DATA
    X_train, X_test, y_train, y_test = load_mnist(random_state=seed)
    _DATA = {"train": (X_train, y_train), "test": (X_test, y_test)}


def collect(tasks, seed, jobs):
    """{(split, with_digits): (images, conditions)} over ``tasks``."""
    out = {}
    with concurrent.futures.ProcessPoolExecutor(jobs, initializer=_start, initargs=(seed,)) as pool:
        for (_, split, with_digits), (images, conditions) in zip(tasks, pool.map(_images, tasks)):
            got = out.setdefault((split, with_digits), ([], []))
            got[0].extend(images)
            got[1].extend(conditions)
    return {key: (np.array(images, np.uint8).reshape(-1, 28, 28), np.array(conditions))
            for key, (images, conditions) in out.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scenes", type=int, default=4800, help="blank photos to learn from (a quarter as many "
                        "photos of numbers; as many of each again, with test digits, to score)")
    parser.add_argument("--mnist", type=int, default=6000, help="MNIST training images among the digits")
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    parser.add_argument("--output", default=os.path.join(PACKAGE_DATA, "rejector.safetensors"))
    args = parser.parse_args(argv)

    provenance = environment()
    blanks, numbers = max(1, args.scenes // BATCH), max(1, args.scenes // BATCH // 4)
    # Seeds of their own per split and kind, none shared with photos.py's benchmark runs (seed 0).
    tasks = [(100_000 + s, "train", False) for s in range(blanks)] + \
            [(200_000 + s, "train", True) for s in range(numbers)] + \
            [(300_000 + s, "test", False) for s in range(blanks)] + \
            [(400_000 + s, "test", True) for s in range(numbers)]
    start = time.perf_counter()
    data = collect(tasks, args.seed, args.jobs)
    collect_seconds = time.perf_counter() - start
    mnist = load_mnist(n_train=args.mnist, random_state=args.seed)[0]
    digits, other = np.concatenate([data["train", True][0], mnist]), data["train", False][0]
    X = np.concatenate([digits, other])
    y = np.array(["digit"] * len(digits) + ["none"] * len(other))
    weight = np.where(y == "none", len(digits) / max(1, len(other)), 1.0)
    model = CNNDigitClassifier(filters=16, random_state=args.seed, verbose=0)
    start = time.perf_counter()
    model.fit(X, y, sample_weight=weight)
    fit_seconds = time.perf_counter() - start

    none = list(model.classes_).index("none")
    scores = {}
    for name, key in (("blank_images_rejected", ("test", False)), ("digit_images_refused", ("test", True))):
        images, conditions = data[key]
        rejected = model.predict_proba(images)[:, none] > THRESHOLD
        scores[name] = float(rejected.mean())
        scores[name + "_by_condition"] = {c: float(rejected[conditions == c].mean()) for c in np.unique(conditions)}
        scores["n_" + name.split("_")[0] + "_images"] = len(images)
    _, X_test, _, _ = load_mnist(random_state=args.seed)
    scores["mnist_test_refused"] = float((model.predict_proba(X_test)[:, none] > THRESHOLD).mean())

    save_model(model, args.output)
    with open(args.output, "rb") as file:
        digest = hashlib.sha256(file.read()).hexdigest()
    record = {
        **provenance,
        "command": "python benchmarks/train_rejector.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "file": os.path.basename(args.output),
        "sha256": digest,
        "seed": args.seed,
        "params": {"filters": 16},
        "threshold": THRESHOLD,
        "train": {"digit_images": len(digits), "of_which_mnist": len(mnist), "blank_images": len(other),
                  "blank_photos": blanks * BATCH, "number_photos": numbers * BATCH},
        "collect_seconds": collect_seconds,
        "fit_seconds": fit_seconds,
        "held_out": scores,
    }
    write_json(os.path.splitext(args.output)[0] + ".json", record)
    print(f"blank photos' images rejected {scores['blank_images_rejected']:.3f}, digits' images refused "
          f"{scores['digit_images_refused']:.4f}, MNIST test refused {scores['mnist_test_refused']:.4f}; "
          f"fit {fit_seconds:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
