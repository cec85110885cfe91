"""The paper and the ink's contrast on it: working size, darkness, the paper's level, noise and stroke width."""

import cv2
import numpy as np

from ._components import components, labelled, touches_border

# Photos are processed with their long side near this many pixels: enough for
# a digit of 25 pixels in a picture of a written number, fast on a 12-megapixel photo.
WORK_SIDE = 1024
# Small pictures are enlarged to at least this short side: the steps work in whole
# pixels, which is too coarse on a digit 20 pixels high.
MIN_WORK_SIDE = 240
# ... but never to a long side above this (a thin strip of a picture).
MAX_ENLARGED_SIDE = 2 * WORK_SIDE
# The paper's noise is measured, and ink must stand this many noise widths above it.
NOISE_SIGMAS = 6.0
# ... or this fraction of the pen's contrast, if that is less: a dense grid raises
# the noise measured to its own level, which would hide its lines and the pen's strokes.
FLOOR_CAP = 0.25


# A light region thick enough for a disc this wide (a fraction of the picture's
# short side, and at least SHEET_PIXELS) to fit between dark pixels, held apart
# from the picture's border, is a sheet within the photo: a note on a dark desk.
# Light ink is never so thick: chalk strokes stay under 0.15, and MNIST's
# strokes, drawn 400 pixels high in 560, exceed it in 38 of the 10,000 test digits.
SHEET_THICKNESS = 0.22
SHEET_PIXELS = 80
# The light regions are measured where the picture's long side is this many pixels.
SHEET_SIDE = 128

# Paper whose weakest channel is under 1 / PAPER_TINT of its strongest is made
# neutral; warm white and cream paper are left as they are.
PAPER_TINT = 1.3
# The finer opening that finds a table's level is computed where its square is
# at most this many pixels wide: a tenth of the time at full size, as good.
TABLE_SQUARE = 31


def to_work_size(rgb):
    """(rgb at working size, factor from working coordinates back to the input's)."""
    height, width = rgb.shape[:2]
    scale = 1.0
    if max(height, width) > WORK_SIDE:
        scale = WORK_SIDE / max(height, width)
    elif min(height, width) < MIN_WORK_SIDE:
        # Here the long side is at most WORK_SIDE, so the cap still enlarges at least twice.
        scale = min(MIN_WORK_SIDE / min(height, width), MAX_ENLARGED_SIDE / max(height, width))
    if scale == 1.0:
        return rgb, 1.0
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    out = cv2.resize(rgb, size, interpolation=interpolation)
    return np.clip(out, 0, 1), 1.0 / scale


def sheet_within(gray, light):
    """Whether a light sheet (a note, a page) lies inside the picture, on a darker ground.

    ``gray`` is the picture's brightness; pixels of at least ``light`` are
    light. A sheet is a light region thick enough for a disc
    ``SHEET_THICKNESS`` of the picture's short side across (and at least
    ``SHEET_PIXELS``) to fit in it, between the dark marks written on it,
    with the discs' centres held apart from the picture's border by the
    ground around the sheet: a light wall beside a blackboard runs out of
    the picture, strokes of chalk are thin.

    >>> import numpy as np
    >>> desk = np.full((300, 400), 0.2, np.float32)
    >>> note = desk.copy(); note[60:240, 110:290] = 0.8; note[120:180, 195:205] = 0.1
    >>> bool(sheet_within(note, 0.4)), bool(sheet_within(desk, 0.4))
    (True, False)
    >>> chalk = desk.copy(); chalk[60:240, 190:210] = 0.8   # a stroke, not a sheet
    >>> bool(sheet_within(chalk, 0.4))
    False
    """
    height, width = gray.shape
    shrink = min(1.0, SHEET_SIDE / max(height, width))
    if shrink < 1.0:
        gray = cv2.resize(gray, (max(1, round(width * shrink)), max(1, round(height * shrink))),
                          interpolation=cv2.INTER_AREA)
    distance = cv2.distanceTransform((gray >= light).astype(np.uint8), cv2.DIST_L2, 5)
    radius = max(SHEET_THICKNESS * min(height, width), SHEET_PIXELS) / 2 * shrink
    _, stats = components(distance >= radius)
    return bool(len(stats)) and not touches_border(stats, gray.shape).all()


def paper_balanced(rgb):
    """The picture with a coloured paper made neutral, its brightness kept.

    Paper is not always white: a legal pad or a sticky note is yellow.
    Each channel is scaled so that the paper (the median colour of the
    brightest tenth of the picture) is grey; a pen keeps its darkness.
    Only paper of a strong colour is balanced (its weakest channel under
    ``1 / PAPER_TINT`` of its strongest): white, warm white and cream paper
    are left as they are, so that a coloured desk beside them stays apart.
    """
    samples = rgb.reshape(-1, 3)[::16]
    total = samples.sum(axis=1)
    paper = np.median(samples[total >= np.percentile(total, 90)], axis=0)
    gain = float(paper.max()) / np.maximum(paper, 0.05)
    if np.all(gain < PAPER_TINT):
        return rgb
    return np.clip(rgb * gain.astype(np.float32), 0.0, 1.0)


def darkness(rgb, light_ink):
    """Per pixel 1 - luminance: ink high, paper low; for light ink on a dark ground, the luminance itself.

    The luminance (ITU-R BT.601 weights) is brightness as the eye sees it.
    In luminance a light-blue ruling stays lighter than a thin pen's
    strokes, which the darkest channel would make as dark as each other.
    """
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    return gray if light_ink else 1.0 - gray


def paper_level(dark, window, table=True):
    """The paper's darkness under each pixel: a grey opening of ``dark`` wider than the strokes.

    Computed on a copy reduced so the window is about 9 pixels, then
    enlarged: the strokes are erased, the edges of shadows kept. With
    ``table``, the level of a table beside the page is sharpened to its
    edge (see ``_table_level``); not for light ink on a dark ground,
    whose thick strokes can fill the picture to its border.
    """
    height, width = dark.shape
    factor = max(1.0, window / 9.0)
    small = cv2.resize(dark, (max(1, round(width / factor)), max(1, round(height / factor))),
                       interpolation=cv2.INTER_AREA)
    side = int(min(max(3, round(window / factor) | 1), 2 * (min(small.shape) // 2) + 1))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (side, side))
    # No smoothing after the opening: it keeps a shadow's edge as sharp as it is.
    paper = cv2.morphologyEx(small, cv2.MORPH_OPEN, kernel)
    paper = cv2.resize(paper, (width, height), interpolation=cv2.INTER_LINEAR)
    return _table_level(dark, paper, 4 * factor) if table else paper


def _table_level(dark, paper, side):
    """``paper`` raised to the level of a table (the floor, a desk) beside the page.

    ``paper_level`` opens a reduced copy, and enlarged again its level
    rises over a few pixels where the picture steps from the page to a
    darker table: just outside the page, the table is darker than the
    level under it, and the page's edge comes out as a line of ink, taken
    for a 1 or, in a picture of one digit, for the digit. A second grey
    opening with a square ``side`` wide (wider than any pen stroke) holds
    the step where it is. Only regions it raises that reach the picture's
    border are taken: a table reaches it, a thick digit in the page does not.
    """
    height, width = dark.shape
    side = int(round(side)) | 1
    if side < 3:
        return paper
    ratio = min(1.0, TABLE_SQUARE / side)
    if ratio < 1.0:
        small = cv2.resize(dark, (max(1, round(width * ratio)), max(1, round(height * ratio))),
                           interpolation=cv2.INTER_AREA)
        fine = _open_in_picture(small, int(round(side * ratio)) | 1)
        fine = cv2.resize(fine, (width, height), interpolation=cv2.INTER_LINEAR)
    else:
        fine = _open_in_picture(dark, side)
    raised = (fine > paper + 0.02).astype(np.uint8)
    n, labels, stats, _ = labelled(raised, connectivity=8)
    touching = touches_border(stats, dark.shape)
    touching[0] = False
    if not touching.any():
        return paper
    return np.where(touching[labels], np.maximum(paper, fine), paper)


def _open_in_picture(dark, side):
    """Grey opening with a square ``side`` wide that does not reach beyond the picture.

    Beyond the border is taken as blank paper: a mark as wide as half the
    square, cut by the picture's side, is not kept as if it went on outside.
    """
    return cv2.morphologyEx(dark, cv2.MORPH_OPEN, np.ones((side, side), np.uint8),
                            borderType=cv2.BORDER_CONSTANT, borderValue=0)


def contrast(dark, paper):
    """How much darker than its local paper each pixel is, relative to the paper's brightness."""
    brightness = np.maximum(1.0 - paper, 0.05)
    return np.clip((dark - paper) / brightness, 0.0, 1.0)


def noise_level(values):
    """Median and robust spread of mostly-paper values, from below the median only.

    Ink and rulings only ever add contrast, so the values under the median
    are paper alone even where a dense grid covers a third of the page; the
    distance from the median down to the 16th percentile is one standard
    deviation of the paper's noise. A grid covering more than half of the
    page raises the median to its own level: ``find_ink`` caps the
    threshold made from these at ``FLOOR_CAP`` of the pen's contrast.
    Estimated on every 16th pixel: plenty for two statistics, and 16 times
    cheaper.
    """
    values = values.ravel()[::16]
    low, median = np.percentile(values, [15.87, 50.0])
    return float(median), float(median - low)


def stroke_width(mask):
    """Typical stroke width in pixels of a binary mask: twice its area over its outline's length.

    A strip of width w and length L has area wL and an outline of about 2L.
    Unlike the distance transform's ridge, this does not swell on a thick,
    blobby digit whose few ridge points all lie at the centres of its blobs.
    """
    area = int(np.count_nonzero(mask))
    if area == 0:
        return 0.0
    # A zero border: a mask that is ink everywhere still has an outline.
    contours, _ = cv2.findContours(np.pad(mask, 1).astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    return 2.0 * area / max(_outline_length(contours), 1.0)


def _outline_length(contours):
    """The summed length of closed contours, as ``cv2.arcLength`` measures each.

    Computed over all of them at once: a noise picture's one mark can have a
    million holes, and a Python call per contour would cost seconds.
    """
    if len(contours) == 1:
        return cv2.arcLength(contours[0], True)
    points = np.concatenate(contours).reshape(-1, 2).astype(np.float64)
    ends = np.cumsum([len(contour) for contour in contours]) - 1
    following = np.arange(1, len(points) + 1)
    following[ends] = np.concatenate([[0], ends[:-1] + 1])  # each contour closes on its first point
    return float(np.hypot(*(points[following] - points).T).sum())
