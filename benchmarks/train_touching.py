"""Train the reader of touching digits (``skdigits.reader._touching``) and write its record.

Lines of 1 to 8 MNIST *training* digits (the benchmarks read test digits)
are written at twice MNIST's scale: each digit's strokes made thinner or
thicker, scaled, raised or lowered a little, and either slid against the one
before until their strokes cross (three lines in five) or set a random gap
from it (their boxes overlapping or apart); the whole line then slanted,
turned, blurred, and its ink made uneven (pencil, chalk). Each line is made
the strip the reader makes of a mark (``strip``) and the network learns its
digits with CTC.

Writes ``skdigits/data/touching.safetensors`` (tensors only) and
``touching.json``: command, revision, versions, machine, seed, data, fit
seconds, and scores on lines of a seed of their own.

With ``--scenes``, photos made by ``_scenes.py`` (touching digits most) are
read as the reader reads them, by the rules and the finder, and each mark
that it would read as a line is cut out and labelled with the digits whose
ink lies in it: strips as the reader makes them, blur, pens and JPEG of real
photos included.

The shipped network was trained in one run from random weights, at the
revision its record names (``touching.json``; the strips from scenes are cut
with the finder shipped at that revision), in 26.3 minutes on the 2-core
development machine of the AVX-512 kind. On the AVX2 kind TensorFlow runs
Eigen's kernels unless told otherwise, and the steps took about six times as
long; the script now turns oneDNN's on (``_common.use_onednn``; the steps'
time with each is in ``benchmarks/results/training_kernels.json``):

    python benchmarks/train_touching.py --seed 2 --lines 80000 --scenes 12000 --steps 6000
    python benchmarks/train_touching.py --lines 2000 --steps 30 --output /tmp/touching.safetensors   # quick check

The networks made before it are in the CHANGELOG.
"""

import argparse
import multiprocessing
import os
import sys
import time

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import (  # noqa: E402
    environment, make_photo, save_tensors, start_network, use_onednn, warm_cosine, write_json)

use_onednn()

from skdigits import load_mnist  # noqa: E402
from skdigits.reader._finder import centres_in_marks, locate  # noqa: E402
from skdigits.reader._images import _rgb_and_size, dark_ink, digit_ink, rules_digits  # noqa: E402
from skdigits.reader._ink import find_ink  # noqa: E402
from skdigits.reader._touching import BLANK, FRAME, STRIP_HEIGHT, decode, line_marks, mark_patch, strip  # noqa: E402

PACKAGE_DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "skdigits", "data")
# Training strips are padded to this width (on the right, with blank paper): 8 digits fit.
WIDTH = 256
MAX_DIGITS = 8
# How often a line holds 1, 2, ..., 8 digits.
LENGTHS = np.array([0.06, 0.2, 0.16, 0.14, 0.12, 0.12, 0.1, 0.1])
# The fraction of lines whose digits are slid until their strokes cross.
SLID = 0.6
VALIDATION_SEED = 1_000_003


def glyph(digit, rng):
    """One digit's ink at twice MNIST's scale, cropped to it: thinner or thicker, scaled, float32 in [0, 1]."""
    ink = cv2.resize(digit.astype(np.float32) / 255, (56, 56), interpolation=cv2.INTER_CUBIC).clip(0, 1)
    change = rng.choice([-2, -1, 0, 0, 1, 2, 3, 4])
    if change:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (abs(change) + 1,) * 2)
        changed = cv2.dilate(ink, kernel) if change > 0 else cv2.erode(ink, kernel)
        if (changed > 0.5).sum() > 20:  # a thin digit eroded to nothing stays as it was
            ink = changed
    size = rng.uniform(0.85, 1.1)
    ink = cv2.resize(ink, None, fx=size * rng.uniform(0.85, 1.15), fy=size, interpolation=cv2.INTER_LINEAR)
    rows, cols = np.flatnonzero(ink.max(axis=1) > 0.1), np.flatnonzero(ink.max(axis=0) > 0.1)
    return ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def line(digits, rng):
    """The ink (float32, ink high) of ``digits`` written left to right, touching or not."""
    glyphs = [glyph(d, rng) for d in digits]
    height = max(g.shape[0] for g in glyphs)
    canvas = np.zeros((2 * height, sum(g.shape[1] for g in glyphs) + 4 * height), np.float32)
    slid = rng.random() < SLID
    right = np.full(canvas.shape[0], -1)  # per row, the rightmost ink so far (-1: none)
    x = height
    for k, g in enumerate(glyphs):
        y = height // 2 + (height - g.shape[0]) // 2 + int(rng.uniform(-0.08, 0.08) * height)
        y = min(max(y, 0), canvas.shape[0] - g.shape[0])
        rows = slice(y, y + g.shape[0])
        if k:
            ink = g > 0.5
            first = np.where(ink.any(axis=1), ink.argmax(axis=1), g.shape[1])
            ends = right[rows]
            if slid:
                # The place where the glyph's left ink first meets the line's right ink, row by row,
                # then a little further: strokes cross, not just meet.
                meet = np.max(np.where((ends >= 0) & (first < g.shape[1]), ends - first + 1, -10 ** 6))
                x = meet if meet > -10 ** 6 else int(right.max()) + 1
                x -= int(rng.integers(0, max(1, height // 12) + 1))
            else:
                x = int(right.max()) + 1 + int(rng.uniform(-0.25, 0.15) * height)
            x = max(x, 0)
        region = canvas[rows, x:x + g.shape[1]]
        np.maximum(region, g[:, :region.shape[1]], out=region)
        ink_cols = np.where((g > 0.5).any(axis=1), g.shape[1] - 1 - np.argmax((g > 0.5)[:, ::-1], axis=1), -1)
        right[rows] = np.maximum(right[rows], np.where(ink_cols >= 0, x + ink_cols, -1))
    return canvas


def finish(canvas, rng):
    """The line slanted, turned, blurred, its ink made uneven."""
    h, w = canvas.shape
    canvas = cv2.copyMakeBorder(canvas, h // 4, h // 4, h // 2, h // 2, cv2.BORDER_CONSTANT, value=0)
    h, w = canvas.shape
    shear = rng.uniform(-0.3, 0.3) if rng.random() < 0.5 else 0.0
    turn = cv2.getRotationMatrix2D((w / 2, h / 2), rng.uniform(-5, 5), 1.0)
    turn[0, 1] += shear
    turn[0, 2] -= shear * h / 2
    canvas = cv2.warpAffine(canvas, turn, (w, h), flags=cv2.INTER_LINEAR)
    if rng.random() < 0.5:
        canvas = cv2.GaussianBlur(canvas, (0, 0), rng.uniform(0.5, 1.5))
    if rng.random() < 0.3:
        grain = cv2.resize(rng.uniform(0.4, 1.0, (h // 3 + 1, w // 3 + 1)).astype(np.float32), (w, h))
        canvas = canvas * grain
    return np.clip(canvas, 0, 1) ** rng.uniform(0.7, 1.4)


def example(index, seed, digits, labels):
    """One training example: (strip uint8 (STRIP_HEIGHT, WIDTH), its digits)."""
    rng = np.random.default_rng([seed, index])
    while True:
        n = int(rng.choice(MAX_DIGITS, p=LENGTHS / LENGTHS.sum())) + 1
        chosen = rng.integers(len(digits), size=n)
        out, _, _ = strip(finish(line(digits[chosen], rng), rng))
        if out.shape[1] <= WIDTH:
            padded = np.zeros((STRIP_HEIGHT, WIDTH), np.uint8)
            padded[:, :out.shape[1]] = np.round(out * 255)
            return padded, labels[chosen]


# Surfaces of the scenes (``--scenes``): touching digits most, the others where marks can hold two digits too.
SCENE_KINDS = ("touching", "touching", "touching", "marker", "note", "whiteboard", "boxes", "pencil", "chalk")


def scene_strips(index, seed, digits, labels):
    """The strips of one photo's marks that hold two or more of the finder's centres, read as the reader reads them.

    A photo of 2 to 8 digits is made by ``_scenes.py``; its ink is found by the
    rules and the finder, and each mark that the reader would read as a line
    (``line_marks``) is cut out (``mark_patch``) and labelled with the digits
    whose ink lies mostly in it. Returns a list of (strip, digits).
    """
    rng = np.random.default_rng([seed, index])
    kind = SCENE_KINDS[rng.integers(len(SCENE_KINDS))]
    chosen = rng.integers(len(digits), size=int(rng.integers(2, 9)))
    photo, which = make_photo(digits[chosen], kind, rng, truth=True)
    rgb, factor, _ = _rgb_and_size(photo[:, :, ::-1])
    ink = find_ink(rgb, light_ink=not dark_ink(rgb))
    measured, faint = rules_digits(ink, factor, single=False)
    found = locate(ink.contrast, ink.level, ink.mask | faint, measured)
    marks = centres_in_marks(digit_ink(ink, found), found.centres)
    height, width = ink.contrast.shape
    which = cv2.resize(which, (width, height), interpolation=cv2.INTER_NEAREST)
    out = []
    for mark in sorted(line_marks(marks)):
        inside = which[marks[0] == mark]
        held = [k for k in range(1, len(chosen) + 1) if (inside == k).sum() >= 0.5 * max((which == k).sum(), 1)]
        if not held:
            continue
        line, _, _ = strip(mark_patch(ink, marks[0], marks[1], mark))
        if line.shape[1] <= WIDTH:
            padded = np.zeros((STRIP_HEIGHT, WIDTH), np.uint8)
            padded[:, :line.shape[1]] = np.round(line * 255)
            # The generators number the digits left to right.
            out.append((padded, labels[chosen[np.asarray(held) - 1]]))
    return out


def _work(args):
    return example(*args, _DIGITS, _LABELS)


def _scene_work(args):
    return scene_strips(*args, _DIGITS, _LABELS)


def _init(digits, labels):
    global _DIGITS, _LABELS
    _DIGITS, _LABELS = digits, labels


def make_set(count, seed, digits, labels, jobs, scenes=0):
    """``count`` lines and the strips of ``scenes`` photos: strips (n, STRIP_HEIGHT, WIDTH) uint8, targets (n, 9)."""
    with multiprocessing.Pool(jobs, initializer=_init, initargs=(digits, labels)) as pool:
        made = pool.map(_work, [(i, seed) for i in range(count)], chunksize=256)
        for strips in pool.map(_scene_work, [(i, seed) for i in range(scenes)], chunksize=16):
            made.extend(strips)
    count = len(made)
    strips = np.stack([s for s, _ in made]) if made else np.zeros((0, STRIP_HEIGHT, WIDTH), np.uint8)
    targets = np.zeros((count, 1 + MAX_DIGITS), np.int32)
    for i, (_, ds) in enumerate(made):
        targets[i, 0] = len(ds)
        targets[i, 1:1 + len(ds)] = ds
    return strips, targets


def ctc_loss(y_true, y_pred):
    """CTC of the columns' logits against (length, digits...) rows."""
    from keras import ops

    y_true = ops.cast(y_true, "int32")
    frames = ops.full((ops.shape(y_pred)[0],), ops.shape(y_pred)[1], dtype="int32")
    return ops.ctc_loss(y_true[:, 1:], y_pred, y_true[:, 0], frames, mask_index=BLANK)


def scores(model, strips, targets):
    """Lines read exactly, and by number of digits; digits counted right."""
    import keras

    logits = model.predict(strips[..., None].astype(np.float32) / 255, batch_size=256, verbose=0)
    proba = np.asarray(keras.ops.softmax(logits, axis=-1))
    right, count = np.zeros(MAX_DIGITS + 1), np.zeros(MAX_DIGITS + 1)
    counted = 0
    for p, t in zip(proba, targets):
        read = [int(q.argmax()) for q, _, _ in decode(p)]
        truth = t[1:1 + t[0]].tolist()
        right[t[0]] += read == truth
        count[t[0]] += 1
        counted += len(read) == len(truth)
    return {"lines_read": round(float(right.sum() / count.sum()), 4),
            "by_length": {str(n): round(float(right[n] / count[n]), 4) for n in range(1, MAX_DIGITS + 1)
                          if count[n]},
            "digits_counted": round(counted / len(targets), 4), "lines": int(count.sum())}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lines", type=int, default=150_000, help="training lines")
    parser.add_argument("--validation", type=int, default=3000, help="lines to score the network on")
    parser.add_argument("--steps", type=int, default=6000, help="training steps of --batch lines")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    parser.add_argument("--scenes", type=int, default=0,
                        help="photos made by _scenes.py whose marks of two or more digits, found by the rules "
                             "and the finder as the reader finds them, train with the lines (a tenth as many score)")
    parser.add_argument("--init", metavar="SAFETENSORS",
                        help="start from these weights (a file with its .json record beside it): a second stage")
    parser.add_argument("--output", default=os.path.join(PACKAGE_DATA, "touching.safetensors"),
                        help="the network's tensors; the record goes beside it, same name with .json")
    args = parser.parse_args(argv)
    for name in ("lines", "validation", "steps", "batch"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.scenes < 0:
        parser.error("--scenes must be 0 or more")

    provenance = environment()
    X_train, _, y_train, _ = load_mnist()
    start = time.perf_counter()
    train = make_set(args.lines, args.seed, X_train, y_train, args.jobs, scenes=args.scenes)
    check = make_set(args.validation, VALIDATION_SEED + args.seed, X_train, y_train, args.jobs)
    check_scenes = make_set(0, VALIDATION_SEED + args.seed, X_train, y_train, args.jobs, scenes=args.scenes // 10) \
        if args.scenes >= 10 else None
    made = time.perf_counter() - start
    print(f"{len(train[0])} strips ({args.lines} lines, the rest from {args.scenes} scenes) + "
          f"{args.validation} lines made in {made:.0f} s", flush=True)

    import keras

    from skdigits.reader._touching import read_touching_tensors
    from skdigits.reader._touching_network import build_touching, touching_tensors

    model, stage = start_network(build_touching, args.seed, args.init, read_touching_tensors)
    schedule = warm_cosine(args.learning_rate, args.steps)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss=ctc_loss)
    lines = batches(keras, *train, args.batch, args.steps, args.seed)
    start = time.perf_counter()
    history = model.fit(lines, epochs=1, verbose=2)
    fit_seconds = time.perf_counter() - start
    result = scores(model, *check)
    if check_scenes is not None and len(check_scenes[0]):
        result["scene_strips"] = scores(model, *check_scenes)
    print(result, flush=True)

    checksum = save_tensors(touching_tensors(model), args.output, "touching")
    write_json(os.path.splitext(args.output)[0] + ".json", {
        **provenance,
        "seed": args.seed,
        "data": {"train_lines": args.lines, "validation_lines": args.validation,
                 "digits": "MNIST training images", "lengths": (LENGTHS / LENGTHS.sum()).round(4).tolist(),
                 "slid_until_touching": SLID, "strip": [STRIP_HEIGHT, WIDTH], "frame": FRAME,
                 "scenes": args.scenes, "scene_kinds": list(SCENE_KINDS) if args.scenes else [],
                 "strips_from_scenes": len(train[0]) - args.lines,
                 "seconds_to_make": round(made, 1)},
        "training": {"steps": args.steps, "batch": args.batch, "learning_rate": args.learning_rate,
                     "fit_seconds": round(fit_seconds, 1), "final_loss": float(history.history["loss"][-1])},
        "validation": result,
        # A second stage starts from the first's weights: its record, with its own command and revision.
        "initialised_from": stage,
        "parameters": int(model.count_params()),
        "tensors_sha256": checksum,
    })
    return 0


def batches(keras, strips, targets, batch, steps, seed):
    """A Keras ``PyDataset`` of ``steps`` batches drawn in a shuffled order (the strips stay uint8 until used)."""
    order = np.random.default_rng(seed).permutation(len(strips))

    class Lines(keras.utils.PyDataset):
        def __len__(self):
            return steps

        def __getitem__(self, index):
            take = order[np.arange(index * batch, (index + 1) * batch) % len(order)]
            return strips[take][..., None].astype(np.float32) / 255, targets[take]

    return Lines()


if __name__ == "__main__":
    sys.exit(main())
