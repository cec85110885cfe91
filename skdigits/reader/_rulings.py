"""Rulings: the lines of ruled and squared paper, found by a Hough transform and followed across the page."""

import math

import cv2
import numpy as np

from ._paper import MIN_WORK_SIDE

# Angle step of the ruling search; the angles reported come from the lines' end points.
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
# How many times the Hough transform looks for rulings: each search finds lines of
# a dense grid that the bands erased by the last one hid; one that finds none ends it.
RULING_SEARCHES = 4
# Pictures whose short side is at least this many pixels are searched at half size;
# smaller ones only in the first search, since at half size a fine grid's lines merge.
HOUGH_HALF_SIZE = 480
# A ruling is erased as wide as it is at this fraction of its own contrast
# (at 0.5, its full width at half maximum), and a pixel each side.
RULING_HALF = 0.5


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
