"""One digit's ink cut out of the contrast map, with MNIST's stroke width, upright, and made a 28x28 image."""

import math

import cv2
import numpy as np

from ._groups import group_box
from ._paper import stroke_width

# (thin, median, thick) stroke widths, as fractions of the digit's larger side: MNIST's
# median is 0.118; strokes thinner than "thin" or thicker than "thick" are changed.
MNIST_STROKE = (0.085, 0.118, 0.3)
# Strokes thicker than this fraction of the digit's side are a thick pen, which fills
# a small digit's loops less darkly than its strokes: the lightest LOOP_FILL of the ink is dropped.
THICK_STROKE = 0.2
LOOP_FILL = 0.2
# A glare fades part of a stroke: each pixel's ink is taken relative to the strongest within
# EVEN_WINDOW of the digit's side (at least EVEN_FLOOR of the digit's strongest, so faint ink stays faint).
EVEN_WINDOW = 0.3
EVEN_FLOOR = 0.3

# MNIST's images are 28x28, each digit scaled to fit 20x20 in the middle.
MNIST_SIDE = 28
MNIST_BOX = 20
# Ink at most this fraction of the pen's contrast is not cut into a digit.
FAINT = 0.05

# Pages turned by less than this are left as they are.
DESKEW_DEGREES = 3.0


def digit_patch(ink, labels, stats, group):
    """The soft ink of one digit, cut out of the contrast map, with MNIST's stroke width.

    Only the pixels of the digit's own components (and a one-pixel rim for
    their anti-aliased edges) are kept, so a neighbouring digit or a speck
    inside the box does not leak in. Ink faded by a glare is evened out
    (``EVEN_WINDOW``). In a thick pen (``THICK_STROKE``), the
    lightest part of the ink (``LOOP_FILL``) is dropped first: the loops it
    filled in stay lighter than its strokes. Strokes thinner than MNIST's
    are thickened to its median width, thicker ones thinned to its thick ones'.
    """
    left, top, right, bottom = group_box(stats, group)
    own = np.isin(labels[top:bottom, left:right], np.asarray(group) + 1)
    side = max(bottom - top, right - left)
    width = stroke_width(own)
    low, target, high = MNIST_STROKE
    pad = int(math.ceil(max(0.0, target - width / side) * side)) + 2
    own = cv2.dilate(own.astype(np.uint8), np.ones((3, 3), np.uint8))
    patch = np.clip(ink.contrast[top:bottom, left:right] / max(ink.level, 1e-6), 0, 1) * own
    patch = cv2.copyMakeBorder(patch.astype(np.float32), pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    patch = even_out(patch, side)
    ratio = width / side
    if ratio > THICK_STROKE and patch.max() > 0:
        strokes = float(np.percentile(patch[patch > 0], 90))
        patch = np.clip((patch / strokes - LOOP_FILL) / (1 - LOOP_FILL), 0, 1)
    if ratio < low or ratio > high:
        # Thick strokes are thinned only to THICK_STROKE: a thick pen's strokes are
        # uneven, and eroded to the median the thinner parts of a digit vanish.
        change = int(round(abs((target if ratio < low else THICK_STROKE) - ratio) * side))
        if change >= 1:
            kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (change + 1, change + 1))
            patch = cv2.dilate(patch, kernel) if ratio < low else cv2.erode(patch, kernel)
    if ink.angle is not None and abs(ink.angle) > DESKEW_DEGREES:
        # The rulings show how the page is turned: turn the digit back upright.
        height, width = patch.shape
        extra = int(math.ceil(0.3 * max(height, width)))
        patch = cv2.copyMakeBorder(patch, extra, extra, extra, extra, cv2.BORDER_CONSTANT, value=0)
        turn = cv2.getRotationMatrix2D((patch.shape[1] / 2, patch.shape[0] / 2), ink.angle, 1.0)
        patch = cv2.warpAffine(patch, turn, (patch.shape[1], patch.shape[0]), flags=cv2.INTER_LINEAR)
    return patch


def even_out(patch, side):
    """``patch`` with each pixel's ink relative to the strongest near it (``EVEN_WINDOW`` of ``side``).

    Examples
    --------
    >>> import numpy as np
    >>> patch = np.zeros((40, 40), np.float32); patch[5:35, 8:12] = 0.9; patch[5:35, 28:32] = 0.4
    >>> evened = even_out(patch, 40)
    >>> float(evened[20, 10]), float(evened[20, 30]), float(evened[0, 0])
    (1.0, 1.0, 0.0)
    """
    peak = float(patch.max())
    if peak <= 0:
        return patch
    size = max(3, int(EVEN_WINDOW * side) | 1)
    near = cv2.dilate(patch, np.ones((size, size), np.uint8))  # a square: separable, fast for large digits
    return np.clip(patch / np.maximum(near, EVEN_FLOOR * peak), 0, 1)


def patch_to_mnist(patch):
    """A soft ink patch (ink high) -> 28x28 uint8: cropped, fit into 20x20, centred by mass."""
    rows, cols = np.flatnonzero(patch.max(axis=1) > FAINT), np.flatnonzero(patch.max(axis=0) > FAINT)
    if rows.size == 0:
        from ._images import NoDigitError  # the reader's errors live with the reader

        raise NoDigitError("no digit found: the ink is too faint")
    patch = patch[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    height, width = patch.shape
    scale = MNIST_BOX / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    box = cv2.resize(patch.astype(np.float32), size, interpolation=interpolation)
    return _center_by_mass(np.clip(box, 0, None).astype(np.float64) * 255)


def _center_by_mass(patch, side=MNIST_SIDE):
    total = patch.sum()
    rows, cols = np.indices(patch.shape)
    com_r, com_c = (rows * patch).sum() / total, (cols * patch).sum() / total
    # Top-left corner that puts the centre of mass at the canvas centre.
    top = int(round((side - 1) / 2 - com_r))
    left = int(round((side - 1) / 2 - com_c))
    top = min(max(top, 0), side - patch.shape[0])
    left = min(max(left, 0), side - patch.shape[1])
    canvas = np.zeros((side, side), dtype=np.float64)
    canvas[top:top + patch.shape[0], left:left + patch.shape[1]] = patch
    peak = canvas.max()
    return np.uint8(np.rint(canvas / peak * 255)) if peak > 0 else canvas.astype(np.uint8)
