"""MNIST *training* digits as small degraded photos, read back through ``skdigits.to_mnist``.

The pretrained model (``benchmarks/pretrained.py``) is fitted on the MNIST
training images and on these: what the preprocessing makes of a digit
written small, faint, thick or thin, on ruled or squared paper, in uneven
light, blurred and JPEG-compressed. The network then learns what a digit
looks like after the preprocessing, not only as MNIST drew it.

This renderer is written apart from the benchmark's photo generator
(``benchmarks/photos.py``, which uses the *test* digits only) and draws
differently: one digit on a small card, its own ruling and lighting models.

``scene_digits`` adds what the learned reader makes of digits on the
surfaces of ``_scenes.py`` (a felt marker's merged strokes, a whiteboard's
glare washing out part of a digit, chalk, a note on a desk, form boxes):
training digits written there, found with ``find_digits(learned=True)`` and
kept where it finds as many digits as were written.

    python benchmarks/_photo_digits.py --n 30000 --output /tmp/photo_digits.npz
"""

import argparse
import multiprocessing
import sys

import cv2
import numpy as np

from _scenes import KINDS, make_scene

from skdigits import ImageError, find_digits, load_mnist, to_mnist

# Blue-ish rulings lose more red than blue; grey ones lose all channels alike.
BLUE_RULING = np.array([0.9, 0.5, 0.1])  # RGB


def render(digit, rng):
    """One MNIST digit (28x28 uint8, white on black) as a small RGB photo (uint8) of dark ink on paper."""
    size = int(rng.integers(18, 64))
    interpolation = cv2.INTER_AREA if size < 28 else cv2.INTER_LINEAR
    alpha = cv2.resize(digit.astype(np.float32) / 255, (size, size), interpolation=interpolation)
    pen = rng.random()
    if pen < 0.2:  # a thick pen
        k = max(1, int(round(size / 28 * rng.uniform(0.6, 1.6))))
        alpha = cv2.dilate(alpha, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k + 1, k + 1)))
    elif pen < 0.35 and size > 30:  # a thin one
        alpha = cv2.erode(alpha, np.ones((2, 2), np.uint8))
    alpha = np.clip(alpha, 0, 1) ** rng.uniform(0.5, 1.5)
    width, height = int(size * rng.uniform(1.6, 3.0)), int(size * rng.uniform(1.6, 2.6))
    cover = np.zeros((height, width), np.float32)
    top = int(rng.integers(size // 4, height - size - size // 8))
    left = int(rng.integers(size // 4, width - size - size // 8))
    cover[top:top + size, left:left + size] = alpha
    paper = rng.uniform(0.7, 0.97) * np.ones(3) - rng.uniform(0, 0.08, 3)
    image = np.ones((height, width, 3), np.float32) * paper
    if rng.random() < 0.6:
        image = _ruled(image, paper, size, rng)
    if rng.random() < 0.5:
        ink = rng.uniform(0, 0.25, 3)  # black to grey
    else:
        ink = np.array([rng.uniform(0, 0.2), rng.uniform(0.1, 0.3), rng.uniform(0.4, 0.8)])  # blue
    strength = cover[..., None] * rng.uniform(0.5, 1.0)
    image = image * (1 - strength) + ink * strength
    if rng.random() < 0.5:  # uneven light: a gradient each way
        across = np.linspace(rng.uniform(0.5, 1), rng.uniform(0.5, 1), width)[None, :]
        down = np.linspace(rng.uniform(0.7, 1), rng.uniform(0.7, 1), height)[:, None]
        image = image * (across * down)[..., None]
    if rng.random() < 0.5:
        image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.3, 1.0))
    image = image + rng.normal(0, rng.uniform(0, 0.03), image.shape)
    image = np.uint8(np.clip(image, 0, 1) * 255)
    if rng.random() < 0.7:
        _, data = cv2.imencode(".jpg", image[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(30, 90))])
        image = cv2.imdecode(data, cv2.IMREAD_COLOR)[:, :, ::-1]
    return image


def _ruled(image, paper, size, rng):
    """Rulings (and, 4 times in 10, the columns of squared paper) turned up to 4 degrees."""
    height, width = image.shape[:2]
    tint = BLUE_RULING if rng.random() < 0.6 else np.ones(3)
    colour = paper - rng.uniform(0.08, 0.4) * tint
    spacing, thickness = size * rng.uniform(0.4, 1.1), int(rng.integers(1, 3))
    rise = np.tan(np.radians(rng.uniform(-4, 4))) * width
    lines = np.zeros((height, width), np.float32)
    y = rng.uniform(0, spacing) - abs(rise)
    while y < height + abs(rise):
        cv2.line(lines, (0, int(y)), (width, int(y + rise)), 1.0, thickness)
        y += spacing
    if rng.random() < 0.4:
        x = rng.uniform(0, spacing)
        while x < width:
            cv2.line(lines, (int(x), 0), (int(x - rise * height / width), height), 1.0, thickness)
            x += spacing
    lines = cv2.GaussianBlur(lines, (0, 0), 0.5)[..., None]
    return image * (1 - lines) + colour * lines


def _read_back(task):
    """Render a chunk of digits with its own seed; (images, labels) of those ``to_mnist`` reads."""
    digits, digit_labels, seed = task
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for digit, label in zip(digits, digit_labels):
        try:
            images.append(to_mnist(render(digit, rng)))
        except ImageError:
            continue  # too faint to find: nothing to learn from
        labels.append(label)
    return np.array(images, dtype=np.uint8).reshape(-1, 28, 28), np.array(labels, dtype=np.uint8)


def photo_digits(n, *, seed=0, n_jobs=2):
    """The first ``n`` MNIST training digits as degraded photos read back to 28x28: (X, y).

    Digits whose photo ``to_mnist`` rejects as blank are left out, so fewer
    than ``n`` can come back. Chunks of 2,000 digits, each seeded ``seed + start``.
    """
    return _in_chunks(_read_back, 0, n, seed, n_jobs)


def _in_chunks(read_back, first, n, seed, n_jobs):
    """Training digits ``first`` to ``first + n`` given to ``read_back`` 2,000 at a time, on ``n_jobs`` processes.

    Each chunk is seeded ``seed`` plus the number of its first digit; the
    (images, labels) that come back are joined in order.
    """
    X_train, _, y_train, _ = load_mnist()
    end = first + n
    tasks = [(X_train[start:min(start + 2000, end)], y_train[start:min(start + 2000, end)], seed + start)
             for start in range(first, end, 2000)]
    if n_jobs == 1:
        parts = [read_back(task) for task in tasks]
    else:
        with multiprocessing.get_context("spawn").Pool(n_jobs) as pool:
            parts = pool.map(read_back, tasks)
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _scenes_read_back(task):
    """Write a chunk of digits, one to six at a time, on surfaces of ``KINDS``; (images, labels) of those found.

    A scene whose digits ``find_digits`` counts wrong is left out: its
    images could not be matched to their labels.
    """
    digits, digit_labels, seed = task
    rng = np.random.default_rng(seed)
    images, labels = [], []
    start = 0
    while start < len(digits):
        n = int(rng.integers(1, 7))
        chunk, chunk_labels = digits[start:start + n], digit_labels[start:start + n]
        start += n
        kind = KINDS[rng.integers(len(KINDS))]
        photo = make_scene(chunk, kind, rng, long_side=int(rng.integers(600, 1300)))
        try:
            found = find_digits(photo[:, :, ::-1], learned=True)
        except ImageError:
            continue
        if len(found.images) == len(chunk):
            images.extend(found.images)
            labels.extend(chunk_labels)
    return np.array(images, dtype=np.uint8).reshape(-1, 28, 28), np.array(labels, dtype=np.uint8)


def scene_digits(n, *, seed=0, n_jobs=2, first=30000):
    """MNIST training digits ``first`` to ``first + n`` written on the surfaces of ``_scenes``, read back: (X, y).

    Chunks of 2,000 digits, each seeded ``seed + start`` (``start`` the
    number of its first digit); fewer than ``n`` come back (scenes whose
    digits were counted wrong are left out).
    """
    return _in_chunks(_scenes_read_back, first, n, seed, n_jobs)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=30000, help="training digits to render")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--output", required=True, help=".npz with X (n, 28, 28) and y")
    args = parser.parse_args(argv)
    X, y = photo_digits(args.n, seed=args.seed, n_jobs=args.n_jobs)
    np.savez_compressed(args.output, X=X, y=y)
    print(f"{len(y)} of {args.n} training digits read back from their photos")
    return 0


if __name__ == "__main__":
    sys.exit(main())
