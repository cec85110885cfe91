"""Train the reader's learned stage, the finder (``skdigits.reader._finder``), and write its record.

Scenes are made from MNIST *training* digits only (the benchmarks read test
digits): every condition of ``photos.py`` (notebook photos, and the surfaces of
``_scenes.py``: pencil, marker, a note on a desk, whiteboard, chalk, touching
digits, form boxes), the web page's 280x280 pad and raw MNIST images; 0 to 8
digits each, a sixth of them blank. Two digits in five are first re-stroked:
their skeleton drawn again with a round pen of one width and turned a little,
as a pen or a mouse draws (a "1" is then a straight, even line, which the
finder must not take for a ruling or a box). Each scene is read by the rules
(``find_ink``) exactly as the reader reads a picture, and the finder learns,
from the contrast map the rules made, which ink is a digit's (from where the
generator put each digit) and where each digit's centre is.

Writes ``skdigits/data/finder.safetensors`` (tensors only) and
``finder.json``: command, revision, versions, machine, seed, data, fit
seconds, and scores on scenes of a seed of their own.

The shipped finder was trained in one run from random weights, at the
revision its record names (``finder.json``; a run at another revision makes
other scenes), in 34.5 minutes on the 2-core development machine of the AVX-512 kind. On the
AVX2 kind TensorFlow runs Eigen's kernels unless told otherwise, and the steps took about three
times as long; the script now turns oneDNN's on (``_common.use_onednn``; the steps' time with each
is in ``benchmarks/results/training_kernels.json``):

    python benchmarks/train_finder.py --seed 1 --scenes 7000 --steps 5600 --restroked 0.6 \
        --pad-lines 2.0 --pad-numbers 2.0
    python benchmarks/train_finder.py --scenes 300 --steps 50 --output /tmp/finder.safetensors   # quick check

``--pad-lines`` draws a straight "1" alone on the pad and ``--pad-numbers``
two or three digits on it, a straight "1" among them (``pad_number``): without
them a "1" drawn with the mouse beside a "7" reads as a margin line. The
finders made before it, and the recipes tried and not kept, are in the
CHANGELOG.
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
    CONDITIONS, PAD, SURFACES, environment, make_photo, print_words, save_tensors, start_network, use_onednn,
    warm_cosine, write_json)

use_onednn()

from skdigits import load_mnist  # noqa: E402
from skdigits.reader._finder import finder_input  # noqa: E402
from skdigits.reader._images import _rgb_and_size, dark_ink, rules_digits  # noqa: E402
from skdigits.reader._ink import find_ink  # noqa: E402

PACKAGE_DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "skdigits", "data")
SOURCES = CONDITIONS + SURFACES + ("pad", "mnist", "pad_line", "pad_number")
# The surfaces the rules alone read worst come up two to four times as often (touching digits most).
# "pad_line" (a straight "1" on the pad) is drawn only when asked (--pad-lines): last, at weight 0, it
# leaves the draws of the stages trained without it as they were; so does "pad_number" (--pad-numbers).
WEIGHTS = np.array([1.0] * len(CONDITIONS) + [1.0, 1.5, 2.0, 2.0, 1.0, 4.0, 2.5] + [1.0, 0.5, 0.0, 0.0])
# Training crops, in grid pixels a side (the finder's input); the maps are half of it.
CROP = 224
# The fraction of digits re-stroked (``restroke``).
RESTROKED = 0.4
# The fraction of photos given printed words beside their digits (``print_words``; --printed).
PRINTED = 0.0
VALIDATION_SEED = 1_000_003


def scene(index, seed, digits):
    """One training example: (grid, ink target, centre target) at the finder's scale, uint8/float16."""
    rng = np.random.default_rng([seed, index])
    source = SOURCES[rng.choice(len(SOURCES), p=WEIGHTS / WEIGHTS.sum())]
    n = 0 if rng.random() < 1 / 6 else (1 if rng.random() < 0.3 else int(rng.integers(2, 9)))
    if source in ("pad", "mnist", "pad_line"):
        n = 0 if n == 0 else 1
    elif source == "pad_number":
        n = 0 if n == 0 else 3
    chosen = digits[rng.integers(len(digits), size=n)]
    if source != "mnist":
        chosen = np.stack([restroke(d, rng) if rng.random() < RESTROKED else d for d in chosen]) if n else chosen
    if source == "pad":
        picture, which = pad_drawing(chosen[0] if n else None, rng)
    elif source == "pad_line":
        picture, which = pad_line(rng) if n else pad_drawing(None, rng)
    elif source == "pad_number":
        picture, which = pad_number(chosen, rng) if n else pad_drawing(None, rng)
    elif source == "mnist":
        picture = chosen[0] if n else np.zeros((28, 28), np.uint8)
        which = (picture > 127).astype(np.uint8)
    else:
        photo, which = make_photo(chosen, source, rng, long_side=int(rng.choice([700, 900, 900, 1200])), truth=True)
        # A stream of its own, so that the scenes of stages trained without printed words stay as they were.
        words = np.random.default_rng([seed, index, 7])
        if source != "chalk" and words.random() < PRINTED:
            photo = print_words(photo, which, words)
        picture = photo[:, :, ::-1]
    rgb, factor, _ = _rgb_and_size(picture)
    ink = find_ink(rgb, light_ink=not dark_ink(rgb))
    measured, faint = rules_digits(ink, factor, single=False)
    grid, size, scale = finder_input(ink.contrast, ink.level, ink.mask | faint,
                                     jitter=float(np.exp(rng.uniform(-0.25, 0.25))), measured=measured)
    height, width = ink.contrast.shape
    which = cv2.resize(which, (width, height), interpolation=cv2.INTER_NEAREST)
    half = ((size[0] + 1) // 2, (size[1] + 1) // 2)
    on_ink = cv2.resize((which > 0).astype(np.float32), half, interpolation=cv2.INTER_AREA) > 0
    zone = np.zeros((grid.shape[0] // 2, grid.shape[1] // 2), np.uint8)
    zone[:half[1], :half[0]] = cv2.dilate(on_ink.astype(np.uint8), np.ones((3, 3), np.uint8))
    heat = np.zeros(zone.shape, np.float32)
    yy, xx = np.mgrid[0:heat.shape[0], 0:heat.shape[1]]
    for k in range(1, int(which.max()) + 1):
        rows, cols = np.nonzero(which == k)
        if rows.size < 4:
            continue
        # The centre of the digit's box, in half-grid cells (cell c covers grid pixels 2c and 2c + 1).
        cx = round(((cols.min() + cols.max() + 1) / 2 * scale - 1) / 2)
        cy = round(((rows.min() + rows.max() + 1) / 2 * scale - 1) / 2)
        # As wide as the digit and as high: a narrow "1" beside a wide digit keeps a peak of its own.
        sx = max(0.8, 0.1 * (cols.max() - cols.min() + 1) * scale / 2)
        sy = max(0.8, 0.1 * (rows.max() - rows.min() + 1) * scale / 2)
        heat = np.maximum(heat, np.exp(-(xx - cx) ** 2 / (2 * sx ** 2) - (yy - cy) ** 2 / (2 * sy ** 2)))
    return _crop(grid, zone, heat, rng), source, n


def restroke(digit, rng):
    """An MNIST digit drawn again along its skeleton with a round pen of one width.

    Half of them are first made upright (their slant, from the image's
    moments, sheared away: a "1" becomes vertical, as a mouse draws it on the
    page's pad); the others are turned up to 12 degrees. Pens from 3 to 11
    pixels on an 84-pixel digit: a "1" up to 20 times as long as it is wide.
    """
    if rng.random() < 0.5:
        moments = cv2.moments(digit.astype(np.float32))
        if abs(moments["mu02"]) > 1e-2:
            skew = moments["mu11"] / moments["mu02"]
            shear = np.float32([[1, skew, -0.5 * 28 * skew], [0, 1, 0]])
            digit = cv2.warpAffine(digit, shear, (28, 28), flags=cv2.WARP_INVERSE_MAP | cv2.INTER_LINEAR)
        angle = 0.0
    else:
        angle = rng.uniform(-12, 12)
    big = (cv2.resize(digit.astype(np.float32) / 255, (84, 84), interpolation=cv2.INTER_CUBIC) > 0.45).astype(np.uint8)
    cross = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
    skeleton = np.zeros_like(big)
    while big.any():  # the morphological skeleton: what each erosion leaves that an opening would remove
        skeleton |= big & (1 - cv2.dilate(cv2.erode(big, cross), cross))
        big = cv2.erode(big, cross)
    width = int(rng.integers(3, 12))
    stroke = cv2.dilate(skeleton, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (width, width))).astype(np.float32)
    turn = cv2.getRotationMatrix2D((42, 42), angle, 1.0)
    stroke = cv2.GaussianBlur(cv2.warpAffine(stroke, turn, (84, 84)), (0, 0), 0.8)
    return np.uint8(np.clip(cv2.resize(stroke, (28, 28), interpolation=cv2.INTER_AREA) * 280, 0, 255))


def pad_drawing(digit, rng):
    """A digit drawn on the web page's pad, black on white, 100 to 240 pixels high anywhere on it: (picture, truth)."""
    picture = np.full((PAD, PAD), 255, np.uint8)
    which = np.zeros((PAD, PAD), np.uint8)
    if digit is not None:
        size = int(rng.integers(100, 241))
        x, y = (int(v) for v in rng.integers(0, PAD - size + 1, size=2))
        ink = cv2.resize(digit, (size, size), interpolation=cv2.INTER_CUBIC)
        picture[y:y + size, x:x + size] = 255 - ink
        which[y:y + size, x:x + size] = ink > 127
    return picture, which


def pad_line(rng):
    """A "1" as a mouse draws it on the pad: one straight, even stroke, at times with a flag or a foot."""
    canvas = np.zeros((PAD, PAD), np.uint8)
    length, width = int(rng.integers(110, 231)), int(rng.integers(5, 29))
    lean = np.tan(np.deg2rad(rng.uniform(-8, 8)))
    top = int(rng.integers(10, PAD - length - 9))
    x0 = int(rng.integers(50, PAD - 50))
    x1 = int(np.clip(round(x0 + lean * length), 20, PAD - 20))
    cv2.line(canvas, (x0, top), (x1, top + length), 255, width, cv2.LINE_AA)
    if rng.random() < 0.3:
        cv2.line(canvas, (x0, top), (x0 - length // 4, top + length // 5), 255, width, cv2.LINE_AA)
    if rng.random() < 0.15:
        cv2.line(canvas, (x1 - length // 5, top + length), (x1 + length // 5, top + length), 255, width, cv2.LINE_AA)
    return 255 - canvas, (canvas > 127).astype(np.uint8)


def pad_number(digits, rng):
    """Two or three digits side by side on the pad, one of them a straight "1" as the mouse draws it: (picture, truth).

    A "1" drawn as one even line beside another digit looks like a page's
    margin line beside a digit, which is not a digit; here it is one.
    """
    k = int(rng.integers(2, len(digits) + 1))
    size = int(rng.integers(80, PAD // k + 1))
    top = int(rng.integers(0, PAD - size + 1))
    line_at = int(rng.integers(k))
    canvas = np.zeros((PAD, PAD), np.uint8)
    which = np.zeros((PAD, PAD), np.uint8)
    for i in range(k):
        if i == line_at or rng.random() < 0.2:
            piece = np.zeros((size, size), np.uint8)
            lean = int(round(np.tan(np.deg2rad(rng.uniform(-8, 8))) * 0.7 * size))
            width = max(2, int(round(size * rng.uniform(0.03, 0.12))))
            cv2.line(piece, (size // 2 + lean // 2, int(0.15 * size)), (size // 2 - lean // 2, int(0.85 * size)),
                     255, width, cv2.LINE_AA)
        else:
            piece = cv2.resize(digits[i], (size, size), interpolation=cv2.INTER_CUBIC)
        x = i * (PAD // k) + int(rng.integers(0, PAD // k - size + 1))
        region = canvas[top:top + size, x:x + size]
        np.maximum(region, piece, out=region)
        which[top:top + size, x:x + size][piece > 127] = i + 1
    return 255 - canvas, which


def _crop(grid, zone, heat, rng):
    """The example cut or padded to CROP x CROP grid pixels; a larger picture is cut where its digits are."""
    out_grid = np.zeros((CROP, CROP), np.float16)
    out_zone = np.zeros((CROP // 2, CROP // 2), np.uint8)
    out_heat = np.zeros((CROP // 2, CROP // 2), np.float16)
    h2, w2 = zone.shape
    top = left = 0
    if h2 > CROP // 2 or w2 > CROP // 2:
        rows, cols = np.nonzero(heat > 0.5)
        cy, cx = (rows.mean(), cols.mean()) if rows.size else (h2 / 2, w2 / 2)
        top = int(np.clip(cy - CROP // 4 + rng.integers(-CROP // 8, CROP // 8 + 1), 0, max(0, h2 - CROP // 2)))
        left = int(np.clip(cx - CROP // 4 + rng.integers(-CROP // 8, CROP // 8 + 1), 0, max(0, w2 - CROP // 2)))
    part = zone[top:top + CROP // 2, left:left + CROP // 2]
    out_zone[:part.shape[0], :part.shape[1]] = part
    out_heat[:part.shape[0], :part.shape[1]] = heat[top:top + CROP // 2, left:left + CROP // 2]
    g = grid[2 * top:2 * top + CROP, 2 * left:2 * left + CROP]
    out_grid[:g.shape[0], :g.shape[1]] = g
    return out_grid, out_zone, out_heat


def _work(args):
    index, seed = args
    return scene(index, seed, _DIGITS)


_DIGITS = None


def _init(digits):
    global _DIGITS
    _DIGITS = digits
    cv2.setNumThreads(1)


def make_set(count, seed, digits, jobs):
    """``count`` examples of seed ``seed``: arrays (grids, zones, heats), and the source and digit count of each."""
    with multiprocessing.get_context("fork").Pool(jobs, initializer=_init, initargs=(digits,)) as pool:
        results = pool.map(_work, [(i, seed) for i in range(count)], chunksize=16)
    grids = np.stack([r[0][0] for r in results])
    zones = np.stack([r[0][1] for r in results])
    heats = np.stack([r[0][2] for r in results])
    return grids, zones, heats, [r[1] for r in results], [r[2] for r in results]


def losses():
    """The training loss: cross-entropy of the ink map plus CenterNet's focal loss on the centre heatmap."""
    from keras import ops

    def loss(y_true, y_pred):
        zone, heat = y_true[..., 0], y_true[..., 1]
        logit_zone, logit_heat = y_pred[..., 0], y_pred[..., 1]
        ink = ops.mean(ops.binary_crossentropy(zone, logit_zone, from_logits=True), axis=(1, 2))
        p = ops.clip(ops.sigmoid(logit_heat), 1e-4, 1 - 1e-4)
        peak = ops.cast(heat >= 0.999, "float32")
        focal = -(peak * (1 - p) ** 2 * ops.log(p) + (1 - peak) * (1 - heat) ** 4 * p ** 2 * ops.log(1 - p))
        count = ops.maximum(ops.sum(peak, axis=(1, 2)), 1.0)
        return 10.0 * ink + ops.sum(focal, axis=(1, 2)) / count

    return loss


def scores(model, grids, zones, heats, sources, counts):
    """What the finder gets right on examples: ink IoU, exact digit counts, blanks with no centre."""
    from skdigits.reader._finder import INK_PROBABILITY, peaks

    out = 1 / (1 + np.exp(-model.predict(grids[..., None].astype(np.float32), batch_size=32, verbose=0)))
    inter = union = 0
    right, blank_right, blanks, by_source = [], 0, 0, {}
    for k in range(len(grids)):
        zone, heat = out[k, ..., 0] >= INK_PROBABILITY, out[k, ..., 1]
        inter += np.sum(zone & (zones[k] > 0))
        union += np.sum(zone | (zones[k] > 0))
        found = int(peaks(heat).sum())
        truth = int(np.sum(heats[k] >= 0.999))
        ok = found == truth
        right.append(ok)
        by_source.setdefault(sources[k], []).append(ok)
        if counts[k] == 0:
            blanks += 1
            blank_right += found == 0
    return {"ink_iou": float(inter / max(union, 1)), "digit_count_right": float(np.mean(right)),
            "blank_no_centre": float(blank_right / max(blanks, 1)), "n": len(grids),
            "digit_count_right_by_source": {s: float(np.mean(v)) for s, v in sorted(by_source.items())}}


def main(argv=None):
    global PRINTED, RESTROKED, WEIGHTS  # read by the scene-making workers, which fork from here
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scenes", type=int, default=8000, help="training scenes")
    parser.add_argument("--validation", type=int, default=600, help="scenes to score the finder on")
    parser.add_argument("--steps", type=int, default=6000, help="training steps of --batch examples")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    parser.add_argument("--init", metavar="SAFETENSORS",
                        help="start from these weights (a finder file with its .json record beside it) "
                             "instead of random ones: a second stage of training")
    parser.add_argument("--restroked", type=float, default=RESTROKED, help="fraction of digits re-stroked")
    parser.add_argument("--pad-lines", type=float, default=0.0, metavar="WEIGHT",
                        help="weight of scenes of a straight 1 on the pad (the other sources weigh 0.5 to 4)")
    parser.add_argument("--pad-numbers", type=float, default=0.0, metavar="WEIGHT",
                        help="weight of scenes of two or three digits on the pad, a straight 1 among them")
    parser.add_argument("--touching", type=float, default=4.0, metavar="WEIGHT",
                        help="weight of scenes of digits that touch (the other sources weigh 0.5 to 2.5)")
    parser.add_argument("--printed", type=float, default=PRINTED, metavar="FRACTION",
                        help="fraction of photos given printed words beside their digits (not a digit)")
    parser.add_argument("--output", default=os.path.join(PACKAGE_DATA, "finder.safetensors"),
                        help="the finder's tensors; the record goes beside it, same name with .json")
    args = parser.parse_args(argv)
    if args.touching < 0 or args.pad_lines < 0 or args.pad_numbers < 0:
        parser.error("--touching, --pad-lines and --pad-numbers are weights: 0 or more")
    if not 0 <= args.printed <= 1:
        parser.error("--printed is a fraction: from 0 to 1")

    provenance = environment()
    RESTROKED = args.restroked
    PRINTED = args.printed
    WEIGHTS = np.concatenate([WEIGHTS[:-2], [args.pad_lines, args.pad_numbers]])
    WEIGHTS[SOURCES.index("touching")] = args.touching
    X_train, _, _, _ = load_mnist()
    start = time.perf_counter()
    train = make_set(args.scenes, args.seed, X_train, args.jobs)
    check = make_set(args.validation, VALIDATION_SEED + args.seed, X_train, args.jobs)
    made = time.perf_counter() - start
    print(f"{args.scenes} + {args.validation} scenes made in {made:.0f} s", flush=True)

    import keras

    from skdigits.reader._finder import read_finder_tensors
    from skdigits.reader._finder_network import build_finder, finder_tensors

    model, stage = start_network(build_finder, args.seed, args.init, read_finder_tensors)
    schedule = warm_cosine(args.learning_rate, args.steps)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss=losses())
    x = train[0][..., None]
    y = np.stack([train[1].astype(np.float16), train[2]], axis=-1)
    epochs = max(1, round(args.steps / (len(x) // args.batch)))
    start = time.perf_counter()
    history = model.fit(x, y, batch_size=args.batch, epochs=epochs, shuffle=True, verbose=2)
    fit_seconds = time.perf_counter() - start
    result = scores(model, *check)
    print(result, flush=True)

    checksum = save_tensors(finder_tensors(model), args.output, "finder")
    record = {
        **provenance,
        "seed": args.seed,
        "data": {"train_scenes": args.scenes, "validation_scenes": args.validation,
                 "digits": "MNIST training images", "sources": list(SOURCES),
                 "source_weights": (WEIGHTS / WEIGHTS.sum()).round(4).tolist(), "crop": CROP,
                 "printed_words": args.printed,
                 "seconds_to_make": round(made, 1)},
        "training": {"steps": epochs * -(-len(x) // args.batch), "epochs": epochs, "batch": args.batch,
                     "learning_rate": args.learning_rate, "fit_seconds": round(fit_seconds, 1),
                     "final_loss": float(history.history["loss"][-1])},
        "validation": result,
        # A second stage starts from the first's weights: its record, with its own command and revision.
        "initialised_from": stage,
        "parameters": int(model.count_params()),
        "tensors_sha256": checksum,
    }
    write_json(os.path.splitext(args.output)[0] + ".json", record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
