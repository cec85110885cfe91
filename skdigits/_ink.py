"""Finding the pen strokes in a photo: paper, rulings, shadows, clutter and specks apart.

Each step is a small function on arrays (OpenCV does the image processing);
``find_digits`` calls them in order. The picture is first brought to a
working size, then:

1. ``darkness``: the darkest colour channel, so that blue, black and red
   pens all count as dark on white paper (light-on-dark pictures are inverted).
2. ``paper_level`` and ``contrast``: the paper's brightness under every pixel,
   estimated by a grey closing wider than the strokes, and each pixel's
   darkness relative to it. Dividing by the local paper cancels shadows and
   lighting gradients. The stroke width is measured on a first pass, so the
   closing is as narrow as the pen allows and follows shadow edges closely.
3. ``ruling_level``: straight lines that cross much of the picture (ruled and
   squared paper) are found with a Hough transform on the faint marks; their
   contrast tells how dark the rulings are, and ink must be darker than that.
4. ``ink_mask``: hysteresis thresholding: pixels well above the rulings and
   the paper's noise seed the strokes, which grow through weaker neighbours
   (the anti-aliased edges of the pen) but never through ruling-dark pixels.
5. ``digit_groups``: connected components; those that touch the picture's
   border (page edge, table, a shadow's rim) or lie off the page, and specks
   far smaller than the strokes, are dropped; what is left is grouped into
   digits by horizontal overlap and ordered left to right.
"""

import math

import cv2
import numpy as np

# Photos are processed with their long side near this many pixels: enough for
# a digit of 25 pixels in a picture of a written number, fast on a 12-megapixel photo.
WORK_SIDE = 1024
# Small pictures (an MNIST digit, a thumbnail) are enlarged to at least this
# short side, so that the morphology below has room.
MIN_WORK_SIDE = 160
# The paper's noise is measured, and ink must stand this many noise widths above it.
NOISE_SIGMAS = 6.0


def to_work_size(rgb):
    """(rgb at working size, factor from working coordinates back to the input's)."""
    height, width = rgb.shape[:2]
    scale = 1.0
    if max(height, width) > WORK_SIDE:
        scale = WORK_SIDE / max(height, width)
    elif min(height, width) < MIN_WORK_SIDE:
        scale = MIN_WORK_SIDE / min(height, width)
    if scale == 1.0:
        return rgb, 1.0
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    out = cv2.resize(rgb, size, interpolation=interpolation)
    return np.clip(out, 0, 1), 1.0 / scale


def darkness(rgb, light_ink):
    """Per pixel 1 - (darkest channel): ink high, paper low; inverted pictures first made dark-on-light."""
    if light_ink:
        rgb = 1.0 - rgb
    return 1.0 - rgb.min(axis=2)


def paper_level(dark, window):
    """The paper's darkness under each pixel: a grey opening of ``dark`` wider than the strokes.

    Computed on a copy reduced so the window is about 9 pixels, then
    smoothed and enlarged: the paper changes slowly, the strokes are erased.
    """
    height, width = dark.shape
    factor = max(1.0, window / 9.0)
    small = cv2.resize(dark, (max(1, round(width / factor)), max(1, round(height / factor))),
                       interpolation=cv2.INTER_AREA)
    side = int(min(max(3, round(window / factor) | 1), 2 * (min(small.shape) // 2) + 1))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (side, side))
    paper = cv2.morphologyEx(small, cv2.MORPH_OPEN, kernel)
    paper = cv2.blur(paper, (side, side))
    return cv2.resize(paper, (width, height), interpolation=cv2.INTER_LINEAR)


def contrast(dark, paper):
    """How much darker than its local paper each pixel is, relative to the paper's brightness."""
    brightness = np.maximum(1.0 - paper, 0.05)
    return np.clip((dark - paper) / brightness, 0.0, 1.0)


def noise_level(values):
    """A robust spread (scaled median absolute deviation) of the mostly-paper values."""
    median = float(np.median(values))
    return median, 1.4826 * float(np.median(np.abs(values - median)))


def stroke_width(mask):
    """Typical stroke width in pixels of a binary mask, from its distance transform."""
    if not mask.any():
        return 0.0
    distance = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 3)
    # The distance peaks at the stroke's centre line at half its width.
    ridge = distance[(distance > 0) & (distance >= cv2.dilate(distance, np.ones((3, 3), np.uint8)))]
    return 2.0 * float(np.median(ridge)) if ridge.size else 1.0


def ruling_level(con, weak, min_length):
    """Contrast of the long straight lines (rulings) among the weak marks, or 0 when there are none.

    Returns
    -------
    level : float
        The median contrast along lines longer than ``min_length`` that are
        fainter than half the strongest ink.
    angle : float or None
        Median angle in degrees of the near-horizontal rulings (the page's tilt).
    """
    lines = cv2.HoughLinesP(weak.astype(np.uint8), 1, np.pi / 360, threshold=max(10, int(min_length // 2)),
                            minLineLength=int(min_length), maxLineGap=max(3, int(min_length // 20)))
    if lines is None:
        return 0.0, None
    strongest = float(np.percentile(con[weak], 99)) if weak.any() else 1.0
    levels, angles = [], []
    for x0, y0, x1, y1 in lines.reshape(-1, 4)[:200]:
        n = int(max(abs(x1 - x0), abs(y1 - y0))) + 1
        xs = np.linspace(x0, x1, n).round().astype(int)
        ys = np.linspace(y0, y1, n).round().astype(int)
        along = con[ys, xs]
        level = float(np.median(along))
        if level > 0.5 * strongest:
            continue  # as dark as the pen: a long pen stroke, not a ruling
        levels.append(level)
        angle = math.degrees(math.atan2(y1 - y0, x1 - x0))
        if abs(angle) < 30:
            angles.append(angle)
    if not levels:
        return 0.0, None
    return float(np.median(levels)), (float(np.median(angles)) if angles else None)


def ink_mask(con, low, high):
    """Hysteresis threshold: components of ``con > low`` that hold a pixel ``> high``."""
    weak = (con > low).astype(np.uint8)
    n, labels = cv2.connectedComponents(weak, connectivity=8)
    strong = np.zeros(n, dtype=bool)
    strong[np.unique(labels[con > high])] = True
    strong[0] = False
    return strong[labels]


def off_page(paper):
    """Where the picture shows something other than paper (a table, the floor): far darker than the page.

    Shadows on the page darken it by a fraction; what is under half as bright
    as the page's paper is taken as something else.
    """
    brightness = 1.0 - paper
    page = float(np.percentile(brightness, 90))
    return brightness < 0.45 * page


class Ink:
    """What ``find_ink`` found: the contrast map, the ink mask and the levels used."""

    def __init__(self, con, mask, level, scale, angle):
        self.contrast = con
        self.mask = mask
        self.level = level
        self.scale = scale
        self.angle = angle


def find_ink(rgb, light_ink):
    """Contrast map and ink mask of a float RGB picture in [0, 1], at working size.

    Returns
    -------
    ink : Ink
        ``contrast`` and ``mask`` at working size, ``level`` (the pen's
        contrast), ``scale`` (working -> input coordinates), ``angle`` (the
        rulings' tilt in degrees, or None).
    """
    rgb, scale = to_work_size(rgb)
    dark = darkness(rgb, light_ink)
    short = min(dark.shape)
    # First pass with a window wide enough for any pen on this picture.
    con = contrast(dark, paper_level(dark, short / 4))
    median, spread = noise_level(con)
    floor = max(median + NOISE_SIGMAS * spread, 0.04)
    top = float(np.percentile(con, 99.8))
    if top <= floor:
        return Ink(con, np.zeros_like(con, dtype=bool), top, scale, None)
    width = stroke_width(ink_mask(con, max(floor, 0.5 * top), max(floor, 0.7 * top)))
    # Second pass: a window a few strokes wide follows shadows and gradients closely.
    window = min(short / 4, max(9.0, 4.0 * width))
    paper = paper_level(dark, window)
    con = contrast(dark, paper)
    median, spread = noise_level(con)
    floor = max(median + NOISE_SIGMAS * spread, 0.04)
    weak = con > floor
    rulings, angle = ruling_level(con, weak, min_length=0.4 * min(con.shape[1], con.shape[0] * 1.5))
    level = float(np.percentile(con[weak], 99)) if weak.any() else 0.0
    # Grow the strokes through their anti-aliased edges, never through ruling-dark pixels,
    # and always keep the pen's core.
    low = min(max(floor, 1.3 * rulings + 0.03, 0.3 * level), 0.5 * level)
    high = max(low, 0.6 * level)
    mask = ink_mask(con, low, high)
    mask &= ~off_page(paper)
    return Ink(con, mask, level, scale, angle)


def components(mask):
    """Connected components of a mask as (label image, stats rows [x, y, w, h, area])."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    return labels, stats[1:]


def digit_groups(mask, min_height_ratio=0.3):
    """Group the ink into digits, left to right.

    Drops components that touch the picture's border (unless nothing else is
    left) and specks whose height is under ``min_height_ratio`` of the
    tallest stroke's and that lie away from every larger stroke; joins the
    rest by horizontal overlap.

    Returns
    -------
    labels : ndarray of int
        Component labels (0 is background; component i has label i + 1).
    stats : ndarray of shape (n_components, 5)
        Each component's x, y, width, height and area.
    groups : list of list of int
        Component indices of each digit, ordered left to right.
    """
    labels, stats = components(mask)
    if len(stats) == 0:
        return labels, stats, []
    height, width = mask.shape
    x, y, w, h = stats[:, 0], stats[:, 1], stats[:, 2], stats[:, 3]
    border = (x == 0) | (y == 0) | (x + w >= width) | (y + h >= height)
    keep = np.flatnonzero(~border)
    if keep.size == 0:
        keep = np.arange(len(stats))
    tall = h[keep].max()
    big = keep[h[keep] >= min_height_ratio * tall]
    small = keep[h[keep] < min_height_ratio * tall]
    members = list(big)
    # A small piece belongs to a digit if it lies within the digit's box, grown by a third of its height.
    for i in small:
        for j in big:
            margin = h[j] / 3
            if (x[i] + w[i] >= x[j] - margin and x[i] <= x[j] + w[j] + margin
                    and y[i] + h[i] >= y[j] - margin and y[i] <= y[j] + h[j] + margin
                    and stats[i, 4] >= 0.02 * stats[j, 4]):
                members.append(i)
                break
    members.sort(key=lambda i: x[i])
    groups = []
    for i in members:
        for group in groups:
            left = min(x[g] for g in group)
            right = max(x[g] + w[g] for g in group)
            overlap = min(right, x[i] + w[i]) - max(left, x[i])
            if overlap >= 0.5 * min(w[i], right - left):
                group.append(i)
                break
        else:
            groups.append([i])
    groups.sort(key=lambda group: min(x[g] for g in group))
    return labels, stats, groups


def group_box(stats, group):
    """(left, top, right, bottom) of a group of components, in working coordinates."""
    x, y, w, h = (stats[group, k] for k in range(4))
    return int(x.min()), int(y.min()), int((x + w).max()), int((y + h).max())


# MNIST's strokes are 0.095 to 0.174 of the digit's larger side (10th to 90th
# percentile, measured on 500 test digits); thinner or thicker pens are brought
# to its median, 0.127.
MNIST_STROKE = (0.09, 0.127, 0.19)


def digit_patch(ink, labels, stats, group):
    """The soft ink of one digit, cut out of the contrast map, with MNIST's stroke width.

    Only the pixels of the digit's own components (and a one-pixel rim for
    their anti-aliased edges) are kept, so a neighbouring digit or a speck
    inside the box does not leak in.
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
    if ratio < low or ratio > high:
        change = int(round(abs(target - ratio) * side))
        if change >= 1:
            kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (change + 1, change + 1))
            patch = cv2.dilate(patch, kernel) if ratio < low else cv2.erode(patch, kernel)
    return patch
