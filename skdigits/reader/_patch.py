"""One digit's ink cut out of the contrast map, with MNIST's stroke width, upright."""

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

# Pages turned by less than this are left as they are.
DESKEW_DEGREES = 3.0


def digit_patch(ink, labels, stats, group):
    """The soft ink of one digit, cut out of the contrast map, with MNIST's stroke width.

    Only the pixels of the digit's own components (and a one-pixel rim for
    their anti-aliased edges) are kept, so a neighbouring digit or a speck
    inside the box does not leak in. In a thick pen (``THICK_STROKE``), the
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
