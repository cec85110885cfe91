"""Finding the pen strokes in a photo: paper, rulings, shadows, clutter and specks apart.

Each step is a small function on arrays (OpenCV does the image processing);
``find_ink`` and ``digit_groups`` call them in order. The picture is first
brought to a working size, then:

1. ``darkness``: one minus the luminance, so that light-blue rulings stay
   lighter than blue, black and red pens (light-on-dark pictures are inverted).
2. ``off_page``: wide regions that reach the border along much of their
   extent there and are nearly black, or darker than the paper and of
   another colour (a table, the floor), hold no ink (dark ink on light
   paper only: on a dark ground, what is darker than it is the ink).
3. ``paper_level`` and ``contrast``: the paper's brightness under every pixel,
   a grey opening a quarter of the picture wide (wider than any stroke; an
   opening keeps a shadow's edge where it is), and each pixel's darkness
   relative to it: dividing by the local paper cancels shadows and gradients.
4. ``pen_level``: the contrast of the strokes' cores, from the darkest marks
   inside the picture.
5. ``find_rulings``: lines drawn across the whole page with paper on both
   sides, not the table (ruled and squared paper), found by a Hough
   transform (at half size; not run when the marks lie too far inside the
   picture for any line to cross the page; run again on what the rulings
   found leave, joined across their bands, for the lines of a dense grid it
   missed: on a small picture at full size),
   each segment moved onto the middle of its marks and followed across the
   page (to its edge, or to a darker table; where nothing shows the page's
   edge, three or more parallel lines are still rulings); on them only
   what is clearly darker than the ruling stays ink.
6. ``ink_mask``: hysteresis thresholding: the strokes' cores seed the ink,
   which grows through the strokes' anti-aliased edges. Marks that reach
   the table (step 2) are the page's own edge and are dropped.
7. ``digit_groups``: connected components; those touching the picture's
   border are dropped, the rest joined into digits by horizontal overlap,
   small pieces given to the digit beside them or dropped as specks. In a
   number, ``join_broken`` joins two pieces of one digit broken by a faint
   stretch, ``edge_digits`` takes back a first or last digit that touches
   the picture's side, and ``faint_digits`` looks for a digit written too
   faintly for the thresholds where one may be missing (between and beside
   the others, beyond the ends along the row's slope).
8. ``digit_patch``: one digit's ink, its stroke width brought to MNIST's,
   turned upright when the rulings show the page is turned.
"""

import math

import cv2
import numpy as np

# Photos are processed with their long side near this many pixels: enough for
# a digit of 25 pixels in a picture of a written number, fast on a 12-megapixel photo.
WORK_SIDE = 1024
# Small pictures (an MNIST digit, a thumbnail, a number of 25-pixel digits) are
# enlarged to at least this short side. The steps below work in whole pixels (a
# one-pixel rim, stroke widths changed a pixel at a time), which is too coarse on a
# digit 20 pixels high: numbers of such digits were read 2 points better at 240
# than at 160, and no better at 320 or 400 (600 photos, benchmarks/photos.py "all").
MIN_WORK_SIDE = 240
# ... but never to a long side above this (a thin strip of a picture).
MAX_ENLARGED_SIDE = 2 * WORK_SIDE
# The paper's noise is measured, and ink must stand this many noise widths above it.
NOISE_SIGMAS = 6.0
# ... or this fraction of the pen's contrast, if that is less: a dense grid
# that covers more than half of the page raises the noise measured to its own
# level (0.55 to 0.64 of the pen's, seen on photos of squared paper), and then
# neither its lines are found nor, at times, the pen's strokes.
FLOOR_CAP = 0.25
# Angle step of the ruling search. The angles reported come from the lines'
# end points, not from this step, and a finer one found the same rulings on our
# photos while costing a third of the time of reading a 280x280 drawing.
HOUGH_THETA = math.pi / 180
# A ruling is drawn across the page: marked on at least this fraction of its line
# through the page, from its first marked pixel to its last, which lie at least
# RULING_SPAN of that line apart.
RULING_COVER = 0.85
RULING_SPAN = 0.5
# A stretch that ends within this fraction of its line's length from the page's border runs to it.
RULING_EDGE = 0.05
# A ruling's stretch ends at marks that have more marked than unmarked pixels
# within this fraction of the picture's height plus width along the line.
RULING_DENSE_REACH = 0.01
# How many times the Hough transform looks for rulings (see find_rulings); a search
# that finds no new ruling ends it. On a dense grid turned by 3 degrees (280x900
# pixels, lines 28 apart; tests/test_ink.py), searched at half size every time,
# 66%, 92% and 96% of the grid was found after one, two and three searches, no more
# after a fourth; with the later searches at full size, as on a picture this small,
# 66% and then 96%. A large picture is searched at half size every time.
RULING_SEARCHES = 4
# Pictures whose short side is at least this many pixels are searched for lines at
# half size. Smaller ones (down to MIN_WORK_SIDE) only in the first search: at half
# size the lines of a grid a few pixels apart merge, and a small photo of squared
# paper had its rulings of one direction found, those of the other never; but a
# 280x280 drawing with no ruling is searched once, and at full size that search
# was a third of the time spent finding its ink.
HOUGH_HALF_SIZE = 480
# A ruling is erased as wide as it is at this fraction of its own contrast
# (at 0.5, its full width at half maximum), and a pixel each side.
RULING_HALF = 0.5


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


# Paper whose weakest channel is under 1 / PAPER_TINT of its strongest is made
# neutral; warm white and cream paper are left as they are.
PAPER_TINT = 1.3


def paper_balanced(rgb):
    """The picture with a coloured paper made neutral, its brightness kept.

    Paper is not always white: a legal pad or a sticky note is yellow.
    Each channel is scaled so that the paper (the median colour of the
    brightest tenth of the picture) is grey; a pen keeps its darkness.
    When darkness was read from the darkest channel, yellow paper read as
    dark as a grey desk beside it (blue is low on it), and the desk was
    not found off the page: on 300 photos of numbers from a generator of
    our own (not the benchmark's), balancing coloured paper read 12 more
    than not balancing, and balancing white, warm white and cream paper
    too (their weakest channel within ``PAPER_TINT`` of the strongest) 6
    fewer, so those are left alone. In luminance (``darkness``) yellow is
    light already: 1,300 photos of ours read the same with and without;
    the balance is kept for paper of stronger colours.
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
    The darkest channel, used before, makes every pen dark, but a
    light-blue ruling too: in red, it is half as dark as a blue pen, and
    a thin pen's faint digits were as light as the rulings; in luminance
    it is two-fifths as dark. Measured on 1,300 photos of our own (not
    the benchmark's): 1,216 read right against 1,203 with the darkest channel.
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


# The finer opening that finds a table's level is computed where its square is
# at most this many pixels wide: a tenth of the time at full size, as good.
TABLE_SQUARE = 31


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
    n, labels, stats, _ = _labelled(raised, connectivity=8)
    touching = _touches_border(stats, dark.shape)
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


def find_rulings(con, weak, min_length, page, paper=None):
    """The long straight lines (ruled or squared paper) among the weak marks.

    Lines are found by a probabilistic Hough transform. A ruling is a
    line drawn across the whole page (``page``) with paper on both sides;
    lines that are mostly paper (digits in a row, a digit's stroke) or
    beside ink (a stroke's edge) are left alone. Each ruling is drawn
    into the mask as wide as it is at half its own contrast
    (``RULING_HALF``), and a pixel each side.

    Returns
    -------
    levels : ndarray of float32
        On each ruling's pixels, that ruling's median contrast; 0 elsewhere.
    level : float
        The rulings' median contrast (0 when there are none).
    angle : float or None
        Median angle in degrees of the near-horizontal rulings (the page's tilt).
    """
    mask = np.zeros(con.shape, dtype=np.float32)
    if _too_far_in(weak, page):
        return mask, 0.0, None
    levels, angles = [], []
    # The probabilistic Hough transform misses some lines of a dense grid (each line
    # it finds takes its pixels from the others): each further search runs on what the
    # rulings found so far leave.
    search, gap = weak, max(3, int(min_length // 20))
    for _ in range(RULING_SEARCHES):
        found = len(levels)
        bands = []   # per ruling found in this search: its direction and the width of its band
        half = min(con.shape) >= (HOUGH_HALF_SIZE if levels else MIN_WORK_SIDE)
        lines = _hough(search, min_length, gap, half)
        if lines is None:
            break
        # Lines not drawn across the page (marks that happen to line up, a stroke of a digit) are left.
        refined = _refined(weak, lines)
        cover, stretches, loose = _crossings(weak, page, refined, paper)
        ruled = cover >= RULING_COVER
        # Where a desk as light as the paper lies beyond the page, nothing shows that a
        # line ends at the page's edge: unless it is one of several parallel lines.
        maybe = np.flatnonzero(~ruled & (loose >= RULING_COVER))
        if maybe.size:
            widths = np.array([_segment_thickness(weak, line) for line in refined[maybe]])
            ruled[maybe[_parallel_family(refined[maybe], widths)]] = True
        for line, ends in zip(refined[ruled], stretches[ruled]):
            # Along and across the line where it was moved to: a Hough segment found
            # at half size can lie a pixel beside a thin ruling, and one a degree off
            # lies on the ruling's edge at its ends, and sees the ruling beside it.
            xs, ys, dx, dy = _along(line, con.shape)
            level = float(np.median(con[ys, xs]))
            thickness = _line_thickness(weak, xs, ys, dx, dy)
            if _beside(con, xs, ys, dx, dy, thickness / 2 + 3) > 0.5 * level:
                continue  # not paper on both sides: the edge of a pen stroke
            if _beside(~page, xs, ys, dx, dy, thickness / 2 + 6) > 0:
                continue  # off the page on one side: the page's own edge, or its shadow
            levels.append(level)
            angle = math.degrees(math.atan2(dy, dx))
            if abs(angle) < 30:
                angles.append(angle)
            # Over its whole stretch: the Hough segment can be a part of it. Only as wide
            # as the line is at half its contrast, not as wide as its faint blurred rim:
            # on the mask, a pen lighter than halfway from the ruling to the pen's level
            # is erased, and a band much wider than the line cut a thin pen's faint digits apart.
            width = _line_thickness(con, xs, ys, dx, dy, above=RULING_HALF * level)
            drawn = np.zeros_like(mask)
            cv2.line(drawn, (int(ends[0]), int(ends[1])), (int(ends[2]), int(ends[3])), level, thickness=width + 2)
            np.maximum(mask, drawn, out=mask)
            bands.append((dx, dy, width + 2))
            # The rulings erased from the next search leave gaps as wide as their bands in the lines crossing them.
            gap = max(gap, max(thickness, width + 2) + 4)
        if len(levels) == found:
            break
        search = _bridged(weak & (mask == 0), mask > 0, bands)
    if not levels:
        return mask, 0.0, None
    return mask, float(np.median(levels)), (float(np.median(angles)) if angles else None)


def _bridged(marks, erased, bands):
    """``marks`` joined again across the erased bands of rulings, along the lines crossing them.

    On a dense grid the rulings' bands take most of each crossing line:
    what the next search sees of it are dashes between the bands, too few
    of its pixels for the Hough transform to find it. The marks are closed
    with a line across each direction of rulings, as long as their widest
    band and a pixel more each side, and only the erased pixels so filled
    are added.
    """
    if not bands:
        return marks
    joined, as_bytes = marks.copy(), marks.astype(np.uint8)
    bands = np.array(bands, dtype=np.float64)
    # Each ruling's direction, pointing right (near-horizontal ones) or down (near-vertical ones).
    lengthwise = np.abs(bands[:, 0]) >= np.abs(bands[:, 1])
    sign = np.where(lengthwise, np.sign(bands[:, 0]), np.sign(bands[:, 1]))
    sign[sign == 0] = 1
    for family in (lengthwise, ~lengthwise):
        if not family.any():
            continue
        dx, dy = np.median(bands[family, :2] * sign[family, None], axis=0)
        norm = math.hypot(dx, dy)
        half = int(bands[family, 2].max() // 2) + 2
        # A line across the rulings, (-dy, dx), through the kernel's centre.
        kernel = np.zeros((2 * half + 1, 2 * half + 1), np.uint8)
        ax, ay = -dy / norm * half, dx / norm * half
        cv2.line(kernel, (int(round(half - ax)), int(round(half - ay))), (int(round(half + ax)), int(round(half + ay))), 1, 1)
        closed = cv2.morphologyEx(as_bytes, cv2.MORPH_CLOSE, kernel).astype(bool)
        joined |= closed & erased
    return joined


def _hough(marks, min_length, gap, half):
    """Up to 300 segments (x0, y0, x1, y1) of the probabilistic Hough transform, or None.

    With ``half``, the search runs at half size, where a pixel is marked
    if any of the four it stands for is: a quarter of the pixels to vote,
    and a ruling's line is found as well. The segments found are only
    approximately placed; ``_refined`` moves them onto their marks.
    """
    factor = 2 if half else 1
    if factor > 1:
        height, width = (marks.shape[0] // 2) * 2, (marks.shape[1] // 2) * 2
        # Four strided views or'ed: several times faster than a reshaped any().
        marks = marks[:height:2, :width:2] | marks[1:height:2, :width:2] | marks[:height:2, 1:width:2] \
            | marks[1:height:2, 1:width:2]
    lines = cv2.HoughLinesP(marks.astype(np.uint8), 1, HOUGH_THETA, threshold=max(10, int(min_length / factor // 2)),
                            minLineLength=int(min_length / factor), maxLineGap=max(2, int(round(gap / factor))))
    if lines is None:
        return None
    return lines.reshape(-1, 4)[:300] * factor


def _parallel_family(lines, widths, members=3, degrees=2.0):
    """Which lines lie in a family of at least ``members`` parallel lines, each clear of the next.

    Ruled and squared paper are such families; pen strokes are not, nor is
    a page's edge. Lines are parallel within ``degrees``, and clear of one
    another when further apart than the marks are wide across them
    (``widths``) and two pixels more: the Hough transform finds several
    segments in one thick stroke, a few pixels apart.
    """
    if len(lines) < members:
        return np.zeros(len(lines), dtype=bool)
    x0, y0, x1, y1 = lines.T.astype(np.float64)
    theta = np.arctan2(y1 - y0, x1 - x0) % math.pi
    normal_x, normal_y = -np.sin(theta), np.cos(theta)
    family = np.zeros(len(lines), dtype=bool)
    for k in range(len(lines)):
        turn = np.abs(theta - theta[k])
        alike = np.minimum(turn, math.pi - turn) <= math.radians(degrees)
        offsets = np.sort(x0[alike] * normal_x[k] + y0[alike] * normal_y[k])
        family[k] = 1 + np.count_nonzero(np.diff(offsets) > np.max(widths[alike]) + 2) >= members
    return family


def _segment_thickness(weak, line):
    """Median width of the marks across a segment (x0, y0, x1, y1)."""
    return _line_thickness(weak, *_along(line, weak.shape))


def _along(line, shape):
    """The pixels (xs, ys) of a segment (x0, y0, x1, y1) in a picture of ``shape``, and its direction (dx, dy)."""
    x0, y0, x1, y1 = (float(v) for v in line)
    length = max(math.hypot(x1 - x0, y1 - y0), 1e-9)
    t = np.linspace(0.0, 1.0, int(length) + 1)
    xs = np.clip(np.rint(x0 + t * (x1 - x0)).astype(int), 0, shape[1] - 1)
    ys = np.clip(np.rint(y0 + t * (y1 - y0)).astype(int), 0, shape[0] - 1)
    return xs, ys, (x1 - x0) / length, (y1 - y0) / length


def _refined(weak, lines, reach=4, samples=32):
    """Lines (x0, y0, x1, y1) moved onto the middle of the marks along them, as floats.

    The Hough transform's segments are a degree or so off the lines they
    lie on, and a ruling is followed across the whole page from them: a
    thin ruling under perspective is left a few pixels to one side at the
    far end. Across the segment at ``samples`` points, the centre of the
    marks within ``reach`` pixels is taken, and a straight line fitted
    through those centres by least squares. Points where nothing, or all,
    of the cross-section is marked (a stroke, a crossing ruling) are left out.
    """
    x0, y0, x1, y1 = (lines[:, k, None].astype(np.float64) for k in range(4))
    length = np.maximum(np.hypot(x1 - x0, y1 - y0), 1e-9)
    nx, ny = -(y1 - y0) / length, (x1 - x0) / length
    s = np.linspace(0.0, 1.0, samples)[None, :]
    offsets = np.arange(-reach, reach + 1, dtype=np.float64)
    height, width = weak.shape
    qx = np.clip(np.rint((x0 + s * (x1 - x0))[:, :, None] + nx[:, :, None] * offsets), 0, width - 1).astype(int)
    qy = np.clip(np.rint((y0 + s * (y1 - y0))[:, :, None] + ny[:, :, None] * offsets), 0, height - 1).astype(int)
    marks = weak[qy, qx]
    count = marks.sum(axis=2)
    used = ((count > 0) & (count < offsets.size)).astype(np.float64)
    centre = (marks * offsets).sum(axis=2) / np.maximum(count, 1)
    # Weighted least squares of centre = a + b * s over the points used.
    n, sum_s, sum_c = used.sum(1), (used * s).sum(1), (used * centre).sum(1)
    sum_ss, sum_sc = (used * s * s).sum(1), (used * s * centre).sum(1)
    det = n * sum_ss - sum_s ** 2
    fit = (n >= samples // 4) & (det > 1e-9)
    det = np.where(fit, det, 1.0)
    a = np.where(fit, (sum_ss * sum_c - sum_s * sum_sc) / det, 0.0)
    b = np.where(fit, (n * sum_sc - sum_s * sum_c) / det, 0.0)
    nx, ny = nx[:, 0], ny[:, 0]
    return np.stack([x0[:, 0] + nx * a, y0[:, 0] + ny * a, x1[:, 0] + nx * (a + b), y1[:, 0] + ny * (a + b)], axis=1)


def _too_far_in(weak, page):
    """Whether the marks lie so far inside the picture that no line through it is a ruling.

    A ruling's line is marked on ``RULING_COVER`` of a stretch of at least
    ``RULING_SPAN`` of the page it crosses. A line through the whole
    picture runs at least the marks' margin to the nearest edge at both of
    its ends before reaching them, and is no longer than the picture's
    diagonal: when twice the margin is more than what that leaves unmarked
    of the diagonal, the Hough search can be skipped, its answer known. A
    small drawing in the middle of a blank canvas is such a picture. Only
    where the whole picture is page (nothing is off it, which would shorten lines).
    """
    if not page.all():
        return False
    rows, cols = np.flatnonzero(weak.any(axis=1)), np.flatnonzero(weak.any(axis=0))
    if rows.size == 0:
        return True
    height, width = weak.shape
    # A pixel less: the line is sampled at rounded positions.
    margin = min(rows[0], cols[0], height - 1 - rows[-1], width - 1 - cols[-1]) - 1
    return 2 * margin > (1 - RULING_COVER * RULING_SPAN) * math.hypot(height, width)


def _crossings(weak, page, lines, paper=None):
    """Per line (x0, y0, x1, y1): how much of the page the whole line through it crosses is marked, and where.

    Rulings are drawn across the whole page; a line that only runs along a
    digit's stroke is paper once it leaves the digit. The page is not
    always known: a grey desk beside it is not told from a shadow, and
    there a ruling ends where the paper does. So a line is measured over
    a stretch between two of its marks: the fraction of that stretch that
    is marked, or 0 unless the stretch spans at least ``RULING_SPAN`` of
    the line's length through the page and, at each end, reaches the
    page's border or something darker than the paper (``paper``, the
    paper's darkness under each pixel, is 0.1 higher beyond that end than
    along the stretch). A long stroke ends on paper. Two stretches are
    measured, and the better kept: from the first mark to the last, and
    between the first and last marks where the line is mostly marked (a
    table's texture beyond the page's end marks a pixel here and there,
    and taking those in leaves a ruling too little marked).

    Returns the fractions, per line the kept stretch's ends (x0, y0, x1,
    y1), and the fractions measured whatever lies beyond the ends.
    """
    height, width = weak.shape
    x0, y0, x1, y1 = (lines[:, k, None].astype(np.float64) for k in range(4))
    length = np.maximum(np.hypot(x1 - x0, y1 - y0), 1e-9)
    t = np.linspace(-1.0, 1.0, 2 * (height + width))[None, :] * (height + width)
    xs = np.rint(x0 + t * (x1 - x0) / length).astype(int)
    ys = np.rint(y0 + t * (y1 - y0) / length).astype(int)
    inside = (xs >= 0) & (xs < width) & (ys >= 0) & (ys < height)
    xs, ys = np.where(inside, xs, 0), np.where(inside, ys, 0)
    on_page = inside & page[ys, xs]
    hits = on_page & weak[ys, xs]
    reach = max(4, int(RULING_DENSE_REACH * (height + width)))
    seen = np.pad(np.cumsum(hits, axis=1), ((0, 0), (1, 0)))
    ahead = np.minimum(np.arange(hits.shape[1]) + reach + 1, hits.shape[1])
    behind = np.maximum(np.arange(hits.shape[1]) - reach, 0)
    dense = hits & (seen[:, ahead] - seen[:, behind] > reach)
    best, loose = np.zeros(len(lines)), np.zeros(len(lines))
    ends = np.zeros((len(lines), 4), dtype=int)
    rows = np.arange(len(lines))
    for marks in (hits, dense):
        first = np.argmax(marks, axis=1)
        last = marks.shape[1] - 1 - np.argmax(marks[:, ::-1], axis=1)
        cover, spanning = _stretch_cover(on_page, seen, paper, xs, ys, marks.any(axis=1), first, last)
        better = (cover > best) | ((best == 0) & (spanning > loose))
        best, loose = np.maximum(cover, best), np.maximum(spanning, loose)
        ends[better] = np.stack([xs[rows, first], ys[rows, first], xs[rows, last], ys[rows, last]], axis=1)[better]
    return best, ends, loose


def _stretch_cover(on_page, seen, paper, xs, ys, measured, first, last):
    """The marked fraction of each line's stretch from ``first`` to ``last``.

    Returns it twice: 0 where the stretch is no ruling's, and 0 only where
    it spans too little of the page (whatever lies beyond its ends).
    """
    rows = np.arange(len(first))
    total = on_page.sum(axis=1)
    counted = np.cumsum(on_page, axis=1)
    stretch = counted[rows, last] - counted[rows, first] + 1
    measured = measured & (stretch >= RULING_SPAN * total)
    spans = measured.copy()
    for k in np.flatnonzero(measured & (stretch < (1.0 - 2 * RULING_EDGE) * total)):
        level = None
        for beyond in (slice(0, first[k]), slice(last[k] + 1, None)):
            outside = np.flatnonzero(on_page[k, beyond]) + (beyond.start or 0)
            if outside.size <= RULING_EDGE * total[k]:
                continue  # the stretch runs to the page's border
            if paper is not None and level is None:
                along = on_page[k].copy()
                along[:first[k]] = along[last[k] + 1:] = False
                level = np.median(paper[ys[k, along], xs[k, along]])
            if paper is None or np.median(paper[ys[k, outside], xs[k, outside]]) < level + 0.1:
                measured[k] = False  # it ends on paper: a stroke, not a ruling
                break
    marked = seen[rows, last + 1] - seen[rows, first]
    fraction = marked / np.maximum(stretch, 1)
    return np.where(measured, fraction, 0.0), np.where(spans, fraction, 0.0)


def _beside(con, xs, ys, dx, dy, distance):
    """Median over 16 points along a line of the darker of the two points ``distance`` away across it."""
    height, width = con.shape
    pick = np.linspace(0, len(xs) - 1, 16).astype(int)
    sides = []
    for sign in (-1, 1):
        px = np.clip(np.rint(xs[pick] - sign * dy * distance).astype(int), 0, width - 1)
        py = np.clip(np.rint(ys[pick] + sign * dx * distance).astype(int), 0, height - 1)
        sides.append(con[py, px])
    return float(np.median(np.maximum(*sides)))


def _line_thickness(weak, xs, ys, dx, dy, reach=12, above=None):
    """Median width of ``weak`` across a line, sampled at 16 points along it.

    The width is that of the run of marks through the line (or through a
    pixel beside it, where the line falls between pixels), not all the
    marks within ``reach``: on a dense grid the next ruling lies closer
    than that, and counted in, it made a ruling 2 pixels wide measure 4
    to 11, erased as wide, with the digits' strokes crossing it.

    With ``above``, ``weak`` is a contrast map, and the width is where it
    exceeds ``above``: only the sampled pixels are compared, not the picture.
    """
    height, width = weak.shape
    pick = np.linspace(0, len(xs) - 1, 16).astype(int)
    offsets = np.arange(-reach, reach + 1)
    px = np.clip(np.rint(xs[pick, None] - dy * offsets[None, :]).astype(int), 0, width - 1)
    py = np.clip(np.rint(ys[pick, None] + dx * offsets[None, :]).astype(int), 0, height - 1)
    across = weak[py, px] if above is None else weak[py, px] > above
    runs = [_run_through(across, reach + shift) for shift in (-1, 0, 1)]
    return int(np.median(np.maximum.reduce(runs)))


def _run_through(across, at):
    """Per row of ``across`` (bool), the length of the run of True through column ``at`` (0 where it is False)."""
    before, after = across[:, at::-1], across[:, at:]
    n_before = np.where(before.all(axis=1), before.shape[1], np.argmin(before, axis=1))
    n_after = np.where(after.all(axis=1), after.shape[1], np.argmin(after, axis=1))
    return np.maximum(n_before + n_after - 1, 0)


def ink_mask(con, low, high):
    """Hysteresis threshold: components of ``con > low`` that hold a pixel ``> high``."""
    return _holding(con > low, con > high)


def _holding(mask, seeds):
    """The connected components of ``mask`` that hold a pixel of ``seeds``."""
    n, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    held = np.zeros(n, dtype=bool)
    held[np.unique(labels[seeds])] = True
    held[0] = False
    return held[labels]


# A pixel differs in colour from the paper when one of its channels is this far
# (in intensity, 0..1) from the paper's colour at its brightness. Read right on
# 660 all-at-once numbers of benchmarks/photos.py, the test at full size: 597,
# 602, 601, 596 and 591 at 0.06, 0.07, 0.08, 0.09 and 0.1 (599 with the chroma
# test used before); at half size, as below, 604 at 0.08.
OTHER_COLOUR = 0.08


def off_page(rgb, dark):
    """Where the picture shows something other than the page: a table, the floor, a wall.

    Such regions reach the picture's border, are wide (an opening erases
    rulings and pen strokes) and are either nearly black, or darker than the
    paper and of another colour than it. Darkness alone does not tell: a
    deep shadow on the page can be as dark as a grey table. Colour alone does
    not either: paper can be yellow (a legal pad, a sticky note, warm light).
    A shadow darkens the paper without changing its colour, so each pixel is
    compared with the lit paper's colour brought to its own brightness.
    """
    bright = 1.0 - cv2.blur(dark, (5, 5))
    page = float(np.percentile(bright.ravel()[::16], 90))
    dim = bright < 0.85 * page
    if not _on_border(dim):
        return np.zeros(dark.shape, dtype=bool)  # nothing darker than the paper reaches the border
    samples = rgb.reshape(-1, 3)[::64]
    lit = (bright >= 0.9 * page).ravel()[::64]
    paper = np.median(samples[lit] if lit.any() else samples, axis=0)
    # Only wide regions count (see the opening below): measured at half size, it costs a quarter.
    height, width = dark.shape
    half = cv2.resize(rgb, (max(1, width // 2), max(1, height // 2)), interpolation=cv2.INTER_AREA)
    channels = cv2.split(half)
    shade = cv2.add(cv2.add(*channels[:2]), channels[2]) * (1.0 / max(3.0 * float(paper.mean()), 1e-3))
    colour = None
    for channel, value in zip(channels, paper):
        apart = cv2.absdiff(channel, shade * float(value))
        colour = apart if colour is None else cv2.max(colour, apart)
    colour = cv2.resize(cv2.blur(colour, (3, 3)), (width, height), interpolation=cv2.INTER_LINEAR)
    candidates = (bright < 0.2 * page) | ((colour > OTHER_COLOUR) & dim)
    if not _on_border(candidates):
        # The opening only takes pixels away: nothing there can reach the border after it.
        return np.zeros(dark.shape, dtype=bool)
    side = max(3, min(dark.shape) // 80 * 2 + 1)
    candidates = cv2.morphologyEx(candidates.astype(np.uint8), cv2.MORPH_OPEN,
                                  cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (side, side)))
    n, labels, stats, _ = _labelled(candidates, connectivity=8)
    touching = _touches_border(stats, dark.shape)
    touching[0] = False
    # What lies off the page fills the picture's edge along its whole extent there
    # (a band, a corner); a thick coloured digit that reaches the edge only touches it.
    for k in np.flatnonzero(touching):
        x, y, w, h = stats[k, :4]
        touching[k] = _along_border(labels[y:y + h, x:x + w] == k, x, y, dark.shape) >= 0.5
    return touching[labels]


def _along_border(piece, x, y, shape):
    """How much of a mark lies along the picture's border.

    The largest fraction of the mark's extent along a side of the picture
    that it covers on that side (0 when it does not reach the border).
    ``piece`` is the mark's own box, whose top-left corner is (``x``, ``y``)
    in a picture of ``shape``.
    """
    h, w = piece.shape
    sides = [piece[:, 0].mean() if x == 0 else 0.0, piece[:, -1].mean() if x + w >= shape[1] else 0.0,
             piece[0].mean() if y == 0 else 0.0, piece[-1].mean() if y + h >= shape[0] else 0.0]
    return float(max(sides))


class Ink:
    """What ``find_ink`` found: the contrast map, the ink mask and the levels used."""

    def __init__(self, con, mask, level, scale, angle, **measured):
        self.contrast = con
        self.mask = mask
        self.level = level
        self.scale = scale
        self.angle = angle
        self.measured = measured  # the levels and thresholds chosen: what to look at when a picture fails


def pen_level(con):
    """The pen's contrast: what the darkest strokes reach.

    Not a percentile of the whole picture: rulings can cover more of a page
    than the digits do. The darkest marks that lie inside the picture (not
    slivers of table or shadow along its border) bound the ink, after a 3x3
    median so that no lone noisy pixel counts; the level is the median of
    what comes within a quarter of them, the cores of the strokes.
    """
    smooth = cv2.medianBlur(con.astype(np.float32), 3)
    top = float(smooth.max())
    if top <= 0:
        return 0.0
    marks = inner(con > 0.5 * top)
    top = float(smooth[marks].max())
    return float(np.median(con[marks & (con > 0.75 * top)]))


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
    # Darkness on paper made neutral; off the page, the colours as they are (a
    # grey table is of another colour than yellow paper, not once that is made grey).
    dark = darkness(rgb if light_ink else paper_balanced(rgb), light_ink)
    short = min(dark.shape)
    # Off the page (a table, the floor) nothing is ink. Light ink is written on a dark
    # ground (a blackboard, MNIST itself), where "darker than the page" is the ink.
    outside = np.zeros(dark.shape, dtype=bool)
    if not light_ink:
        outside = cv2.dilate(off_page(rgb, dark).astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
    # A window of a quarter of the picture is wider than any pen stroke on it,
    # and the opening keeps a shadow's edge where it is.
    paper = paper_level(dark, short / 4, table=not light_ink)
    con = np.where(outside, 0.0, contrast(dark, paper))
    median, spread = noise_level(con)
    level = pen_level(con)
    floor = max(min(median + NOISE_SIGMAS * spread, FLOOR_CAP * level), 0.04)
    if level <= floor:
        return Ink(con, np.zeros_like(con, dtype=bool), level, scale, None)
    weak = con > floor
    ruling, rulings, angle = find_rulings(con, weak, 0.4 * min(con.shape[1], con.shape[0] * 1.5), ~outside, paper)
    # On a ruling, only what is darker than halfway from that ruling to the pen
    # is ink: a pen stroke crossing it or running along it.
    ruled = ruling > 0
    con = np.where(ruled & (con < np.maximum(ruling + 0.5 * (level - ruling), ruling + 0.05)), 0.0, con)
    # Grow the strokes through their anti-aliased edges but never through
    # ruling-dark pixels; the pen's core is always kept.
    low = min(max(floor, 0.3 * level, 1.3 * rulings + 0.03), 0.5 * level)
    high = max(0.6 * level, low + 0.05 * level)
    mask = ink_mask(con, low, high)
    if ruled.any():
        # Where a ruling was erased, a stroke that crossed it is joined again.
        closed = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8)).astype(bool)
        mask |= closed & ruled
    if outside.any():
        # Marks that reach the table are the page's own edge (its shadow, a torn or
        # curled rim), not digits, as marks on the picture's border are not.
        mask = _apart_from(mask, cv2.dilate(outside.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool))
    return Ink(con, mask, level, scale, angle, floor=floor, low=low, high=high, rulings=rulings)


def _apart_from(mask, zone):
    """``mask`` without its components that reach into ``zone``."""
    if not (mask & zone).any():
        return mask
    return mask & ~_holding(mask, zone)


def inner(mask):
    """The components of ``mask`` that do not touch the picture's border (all of them if every one does)."""
    if not _on_border(mask):
        return mask
    n, labels, stats, _ = _labelled(mask.astype(np.uint8), connectivity=8)
    touching = _touches_border(stats, mask.shape)
    touching[0] = True
    if touching[1:].all():
        return mask
    return ~touching[labels]


def _on_border(mask):
    """Whether any pixel of ``mask`` lies on the picture's outermost rows or columns."""
    return bool(mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any())


def _touches_border(stats, shape):
    height, width = shape
    x, y, w, h = stats[:, 0], stats[:, 1], stats[:, 2], stats[:, 3]
    return (x == 0) | (y == 0) | (x + w >= width) | (y + h >= height)


def components(mask):
    """Connected components of a mask as (label image, stats rows [x, y, w, h, area])."""
    n, labels, stats, _ = _labelled(mask.astype(np.uint8), connectivity=8)
    return labels, stats[1:]


def _labelled(mask, connectivity=8):
    """``cv2.connectedComponentsWithStats`` by Grana's block-based algorithm: the same labels.

    OpenCV's default algorithm spends about half a millisecond per call on
    a 280x280 mask however little it holds, three times Grana's.
    """
    return cv2.connectedComponentsWithStatsWithAlgorithm(mask, connectivity, cv2.CV_32S, cv2.CCL_GRANA)


def digit_groups(mask, min_height_ratio=0.3):
    """Group the ink into digits, left to right.

    Drops components that touch the picture's border (unless nothing else is
    left); joins the others whose height is at least ``min_height_ratio`` of
    the tallest one's into digits by horizontal overlap, when they lie
    close above one another (``STACKED_GAP``); adds the smaller
    pieces to the digit they lie close above, below or within, and drops
    the rest (specks).

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
    x, y, w, h = stats[:, 0], stats[:, 1], stats[:, 2], stats[:, 3]
    border = _touches_border(stats, mask.shape)
    keep = np.flatnonzero(~border)
    if keep.size == 0:
        keep = np.arange(len(stats))
    pieces = [labels[y[i]:y[i] + h[i], x[i]:x[i] + w[i]] == i + 1 for i in keep]
    lines = long_lines(np.maximum(w[keep], h[keep]), stats[keep, 4], pieces)
    if not lines.all():
        keep = keep[~lines]
    tall = h[keep].max()
    big = keep[h[keep] >= min_height_ratio * tall]
    small = keep[h[keep] < min_height_ratio * tall]
    # Each mark is compared with every digit's box at once, so a picture of
    # thousands of specks costs milliseconds, not a Python loop over pairs.
    groups, boxes = [], np.empty((len(big), 4), dtype=np.int64)
    for i in big[np.argsort(x[big], kind="stable")]:
        left, top, right, bottom = boxes[:len(groups)].T
        xi, yi, wi, hi = int(x[i]), int(y[i]), int(w[i]), int(h[i])
        overlap = np.minimum(right, xi + wi) - np.maximum(left, xi)
        # Pieces of one digit lie close above one another, not a page apart.
        gap = np.maximum(yi - bottom, top - (yi + hi))
        joins = np.flatnonzero((overlap >= 0.5 * np.minimum(wi, right - left))
                               & (gap <= STACKED_GAP * np.maximum(hi, bottom - top)))
        if joins.size:
            j = joins[0]
            boxes[j] = (min(boxes[j, 0], xi), min(boxes[j, 1], yi), max(boxes[j, 2], xi + wi), max(boxes[j, 3], yi + hi))
            groups[j].append(i)
        else:
            boxes[len(groups)] = (xi, yi, xi + wi, yi + hi)
            groups.append([i])
    # A small piece (a dot, a stroke broken off) joins the digit above or below
    # which it lies, if close; on its own it is never a digit. Close to the digit
    # itself, not to the pieces it was given: a row of dots (where grid lines
    # cross, darker than either) would otherwise be chained on below it. Close
    # for a digit's height, even to a short piece: the half of a digit that a
    # ruling cut in two is as far from the other half as a whole digit would be.
    left, top, right, bottom = boxes[:len(groups)].T
    typical = float(np.median(bottom - top)) if groups else 0.0
    dx, dy = (right - left) / 6, np.maximum(bottom - top, typical) / 3
    areas = np.array([stats[group, 4].sum() for group in groups], dtype=np.float64)
    for i in small:
        near = np.flatnonzero((x[i] + w[i] >= left - dx) & (x[i] <= right + dx) & (y[i] + h[i] >= top - dy)
                              & (y[i] <= bottom + dy) & (stats[i, 4] >= 0.02 * areas))
        if near.size:
            groups[near[0]].append(i)
            areas[near[0]] += stats[i, 4]
    groups.sort(key=lambda group: min(x[g] for g in group))
    return labels, stats, groups


# Two marks, one above the other, are pieces of one digit only if the gap
# between them is at most this fraction of the taller one's height.
STACKED_GAP = 0.5


# A straight mark this many times longer than a curved mark of a like amount
# of ink is a line (the page's edge, a margin line), not a 1.
LONG_LINE = 3.0


def long_lines(lengths, areas, pieces):
    """Which marks are lines on or of the page rather than digits.

    The largest or tallest mark sets the scale of what is a digit, and one
    line across the page (a margin line, the page's own edge beside a
    table) makes every digit a speck, or is itself taken for the digit. No
    digit is ``LONG_LINE`` times longer than a curved mark with at least
    0.3 of its ink: such a straight mark is a line. Specks are too small
    to compare with, and where no mark is curved (a row of 1s), nothing is
    a line.

    Parameters
    ----------
    lengths, areas : array-like of shape (n,)
        Each mark's longer side and its number of pixels.
    pieces : list of ndarray of bool
        Each mark's pixels, cut to its box.

    Returns
    -------
    lines : ndarray of bool of shape (n,)
    """
    lengths, areas = np.asarray(lengths, dtype=np.float64), np.asarray(areas, dtype=np.float64)
    lines = np.zeros(len(lengths), dtype=bool)
    if len(lengths) < 2:
        return lines
    # The straightness test costs time on a grid's hundreds of pieces: only long
    # marks and large ones are looked at, and only those can be compared with.
    looked = (areas >= 5) & ((lengths > lengths.max() / LONG_LINE) | (areas >= 0.05 * areas.max()))
    straight = np.zeros(len(lengths), dtype=bool)
    for k in np.flatnonzero(looked):
        straight[k] = _straight(pieces[k])
    curved = looked & ~straight
    for k in np.flatnonzero(straight):
        like = curved & (areas >= 0.3 * areas[k])
        lines[k] = bool(like.any()) and lengths[k] > LONG_LINE * lengths[like].max()
    return lines


# A faint digit in a number is taken down to this fraction of the pen's contrast.
FAINT_DIGIT = 0.12


def faint_digits(ink, labels, groups, boxes):
    """Whole digits written too faintly for the ink's thresholds, in the gaps of the number.

    A thin pen in a small picture fades to a third of the other digits'
    contrast, below the hysteresis that keeps rulings and shadows out. A
    mark is taken as such a digit only where a digit may be missing: in a
    gap between two digits found, or within 2.5 digit heights beyond the
    first or the last (where the line through the digits' centres leads:
    a number photographed askew runs up or down the picture); wholly inside
    that region, as tall as the digits (0.6 to 1.4 times their median
    height), level with the row there, and, on ruled paper, darker than
    the rulings. Beyond the ends, a straight mark is more likely a margin
    line or the page's edge than a 1, and is left. Only these regions are
    searched, so this costs little on a large picture.

    Returns
    -------
    extra : ndarray of bool
        The pixels of the faint digits found (none: all False).
    """
    con, level, measured = ink.contrast, ink.level, ink.measured
    extra = np.zeros(con.shape, dtype=bool)
    low = max(1.5 * measured.get("floor", 1.0), FAINT_DIGIT * level, 1.3 * measured.get("rulings", 0.0) + 0.03)
    if len(boxes) < 2 or low >= measured.get("low", 0.0):
        return extra
    height = _median_height(boxes)
    found = np.isin(labels, np.asarray([i for g in groups for i in g]) + 1)
    ordered = sorted(boxes)
    first, last = ordered[0], ordered[-1]
    reach = int(round(2.5 * height))
    # A number photographed askew runs up or down the picture: beyond its ends, the
    # row is where the line through the digits' centres leads.
    slope = _row_slope(ordered)
    # Each region's left and right, the row's top and bottom there (level with the
    # digits beside it), and whether it lies beyond an end.
    regions = [(a[2], b[0], (a[1] + b[1]) / 2, (a[3] + b[3]) / 2, False) for a, b in zip(ordered, ordered[1:])]
    regions += [(max(0, first[0] - reach), first[0], *_row_at(first, slope, first[0] - reach / 2), True),
                (last[2], min(con.shape[1], last[2] + reach), *_row_at(last, slope, last[2] + reach / 2), True)]
    for x0, x1, top, bottom, end in regions:
        if x1 - x0 < 0.2 * height:
            continue  # no room for a digit
        y0, y1 = max(0, int(top - 0.75 * height)), min(con.shape[0], int(bottom + 0.75 * height) + 1)
        gap = (slice(y0, y1), slice(x0, x1))
        n, marks, stats, _ = _labelled((con[gap] > low).astype(np.uint8), connectivity=8)
        # A mark cut by the region's edges reaches beyond it: not a digit of its own.
        inside = ~_touches_border(stats, marks.shape)
        inside[0] = False  # the background
        for k in np.flatnonzero(inside):
            x, y, w, h = stats[k, :4]
            if not (0.6 * height <= h <= 1.4 * height) or w > 1.4 * height:
                continue
            if not _in_row(y0 + y, h, top, bottom):
                continue  # above or below the row
            piece = marks == k
            if (piece & found[gap]).any() or (end and _straight(piece)):
                continue
            extra[gap] |= piece
    return extra


def _median_height(boxes):
    """The median height of boxes (left, top, right, bottom)."""
    return float(np.median([bottom - top for _, top, _, bottom in boxes]))


def _row_at(box, slope, x):
    """(top, bottom) of the row at ``x``: ``box``'s, moved along the row's slope from its centre."""
    shift = slope * (x - (box[0] + box[2]) / 2)
    return box[1] + shift, box[3] + shift


def _in_row(y, h, top, bottom):
    """Whether a mark from ``y`` down ``h`` pixels overlaps the row ``top``..``bottom`` by 0.6 of the shorter."""
    return min(y + h, bottom) - max(y, top) >= 0.6 * min(h, bottom - top)


# Neighbouring digits of a number lie at most this fraction of a digit's height
# above or below each other (see the_row).
ROW_STEP = 0.25


def the_row(stats, groups):
    """The groups that make up the number: the chain of groups level with one another that holds the most ink.

    A number is written along a row: each digit lies level with the next
    one, or a little above or below it where the row slopes or its baseline
    wanders. Marks off it (the page's edge or the desk above or below the
    number, a smudge) are not its digits. Two groups are chained when the
    gap between them up or down is at most ``ROW_STEP`` of the taller one's
    height, however far apart they are across (a digit too faint to be
    found can lie between them); the chain with the most ink is kept.
    Returns the indices of its groups, in order.
    """
    if len(groups) < 2:
        return list(range(len(groups)))
    # Imported here: SciPy's sparse module costs a quarter of a second, and only numbers need it.
    from scipy.sparse.csgraph import connected_components

    boxes = np.array([group_box(stats, g) for g in groups])
    top, bottom = boxes[:, 1], boxes[:, 3]
    gap = np.maximum(top[None, :] - bottom[:, None], top[:, None] - bottom[None, :])
    height = bottom - top
    _, chain = connected_components(gap <= ROW_STEP * np.maximum(height[:, None], height[None, :]), directed=False)
    ink = np.bincount(chain, weights=[stats[g, 4].sum() for g in groups])
    return [int(k) for k in np.flatnonzero(chain == np.argmax(ink))]


def _row_slope(boxes):
    """The slope (down per pixel right) of the line through the centres of boxes (left, top, right, bottom)."""
    xs = np.array([(left + right) / 2 for left, _, right, _ in boxes])
    ys = np.array([(top + bottom) / 2 for _, top, _, bottom in boxes])
    if len(boxes) < 2 or np.ptp(xs) == 0:
        return 0.0
    return float(np.polyfit(xs, ys, 1)[0])


def edge_digits(labels, stats, groups, shape):
    """Add the digits at the ends of a number that touch the picture's left or right side.

    ``digit_groups`` drops what touches the border: there, the table, the
    page's edge and shadows reach into the picture. A number photographed
    close to its ends can have its first or last digit touch the side. A
    mark touching the left or right side (not the top or bottom) is taken
    as such a digit when it is as tall as the digits (0.6 to 1.4 times
    their median height) and no wider, lies in the row where the line
    through the digits leads, within 2.5 digit heights of the end digit,
    and is neither a straight line nor lying along the side over half its
    height (the page's edge, its shadow).
    """
    if len(groups) < 2:
        return groups
    boxes = [group_box(stats, g) for g in groups]
    height = _median_height(boxes)
    slope = _row_slope(boxes)
    first, last = boxes[0], boxes[-1]
    used = {i for g in groups for i in g}
    rows, cols = shape
    lefts, tops, widths, heights = (stats[:, k] for k in range(4))
    # Touching the left or the right side, not both, nor the top or bottom.
    sides = np.flatnonzero(((lefts == 0) != (lefts + widths >= cols)) & (tops > 0) & (tops + heights < rows))
    before, after = [], []
    for i in sides:
        x, y, w, h = (int(v) for v in stats[i, :4])
        left = x == 0
        if i in used or not (0.6 * height <= h <= 1.4 * height) or w > 1.4 * height:
            continue
        end = first if left else last
        if not 0 <= (end[0] - x - w if left else x - end[2]) <= 2.5 * height:
            continue
        if not _in_row(y, h, *_row_at(end, slope, x + w / 2)):
            continue  # above or below the row
        piece = labels[y:y + h, x:x + w] == i + 1
        if _straight(piece) or _along_border(piece, x, y, shape) > 0.5:
            continue  # a page's edge: straight, or running along the picture's side
        (before if left else after).append([i])
    return before[:1] + list(groups) + after[:1]


# A straight mark at an end of a number whose stroke is thinner than this
# fraction of the other digits' is the page's edge, not a 1.
THIN_EDGE = 0.4


def thin_ends(labels, stats, groups):
    """Drop straight, thin marks at the ends of a number: the page's edge, not 1s.

    Where the table beside the page is about as dark as a shadow and of the
    paper's own hue, ``off_page`` cannot tell it from the page, and the
    line where the page ends (its rim, a sliver of its shadow) is found
    as a mark as tall as the digits, straight as a 1. One pen writes a
    number, so its strokes are about as wide in every digit; the page's
    edge is a hairline. A mark at the first or last place is dropped
    (and the next one looked at) while it is straight and its stroke
    is under ``THIN_EDGE`` of the median stroke of the digits that are
    not straight. Only numbers of at least two such digits are looked at:
    one digit is too little to know the pen by.
    """
    pieces = []
    for group in groups:
        left, top, right, bottom = group_box(stats, group)
        piece = np.isin(labels[top:bottom, left:right], np.asarray(group) + 1)
        pieces.append((_straight(piece), stroke_width(piece)))
    curved = [width for straight, width in pieces if not straight]
    if len(curved) < 2:
        return groups
    limit = THIN_EDGE * float(np.median(curved))
    first, last = 0, len(groups)
    while last - first > 2 and pieces[first][0] and pieces[first][1] < limit:
        first += 1
    while last - first > 2 and pieces[last - 1][0] and pieces[last - 1][1] < limit:
        last -= 1
    return groups[first:last]


def _straight(piece):
    """Whether a mark is a straight line: its pixels' spread across is under 0.3 of that along."""
    ys, xs = np.nonzero(piece)
    across, along = np.linalg.eigvalsh(np.cov(np.vstack([xs, ys]).astype(np.float64)))
    return across < 0.09 * along


def join_broken(stats, groups, short=0.75, wide=0.9, apart=0.2):
    """Join neighbouring groups that are pieces of one digit broken by a faint stroke.

    Two neighbours are joined when one of them is short (under ``short`` of
    the groups' median height) and together they are no taller than 1.3
    median heights and no wider than ``wide`` of one, with at most ``apart``
    of one between them: two digits side by side are wider than that, and
    two 1s are each of full height.
    """
    if len(groups) < 2:
        return groups
    boxes = [group_box(stats, g) for g in groups]
    size = _median_height(boxes)
    joined = [list(groups[0])]
    for group in groups[1:]:
        a, b = group_box(stats, joined[-1]), group_box(stats, group)
        union = (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))
        if (min(a[3] - a[1], b[3] - b[1]) < short * size and union[3] - union[1] <= 1.3 * size
                and union[2] - union[0] <= wide * size and b[0] - a[2] <= apart * size):
            joined[-1] = joined[-1] + list(group)
        else:
            joined.append(list(group))
    return joined


def group_box(stats, group):
    """(left, top, right, bottom) of a group of components, in working coordinates."""
    x, y, w, h = (stats[group, k] for k in range(4))
    return int(x.min()), int(y.min()), int((x + w).max()), int((y + h).max())


# MNIST's strokes are 0.087 to 0.167 of the digit's larger side (10th to 90th
# percentile of ``stroke_width``, measured on 500 test digits enlarged 4 times;
# a tenth are thicker still). Pens thinner than 0.085 or thicker than 0.3 are
# brought to its median, 0.118.
MNIST_STROKE = (0.085, 0.118, 0.3)


# Strokes thicker than this fraction of the digit's side (above MNIST's 90th
# percentile) are a thick pen, which fills a small digit's loops, but less darkly
# than it draws its strokes: there the lightest part of the ink, up to this
# fraction of the strokes' own darkness, is dropped. Read right on 660
# all-at-once numbers of benchmarks/photos.py: 594 without, 595 to 597 with 0.1
# to 0.3 (597 at 0.2); with it for every pen, 593.
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
        # Thin strokes are thickened to MNIST's median stroke; thick ones are thinned
        # only to THICK_STROKE, as thick as MNIST's thick strokes: a thick pen's
        # strokes are uneven, and eroded to the median, the thinner parts of the
        # digit vanish (a 0 left a 'c'). Read right on 900 numbers (300 from
        # benchmarks/photos_other.py, 600 from photos.py): 800 thinned to the
        # median (0.118), 806 to 808 thinned to 0.16 - 0.3.
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
