"""Grouping the ink into digits: connected components, rows, broken and faint digits, digits at the edge."""

import numpy as np

from ._components import along_border, components, holding, labelled, touches_border
from ._paper import stroke_width


# Two marks, one above the other, are pieces of one digit only if the gap
# between them is at most this fraction of the taller one's height.
STACKED_GAP = 0.5
# A straight mark this many times longer than a curved mark of a like amount
# of ink is a line (the page's edge, a margin line), not a 1.
LONG_LINE = 3.0
# A faint digit in a number is taken down to this fraction of the pen's contrast.
FAINT_DIGIT = 0.12
# A digit's strokes that fade (a glare spot, a drying pen) are followed down to this fraction.
FADED_STROKE = 0.2
# Neighbouring digits of a number lie at most this fraction of a digit's height
# above or below each other (see the_row).
ROW_STEP = 0.25
# A straight mark at an end of a number whose stroke is thinner than this
# fraction of the other digits' is the page's edge, not a 1.
THIN_EDGE = 0.4
# One taller than this many of their heights and narrower than LINE_WIDTH of its
# own height is a form's printed line: a box's wall runs the box's full height,
# the digits written in it are shorter, and a pen's 1 wavers wider than a rule.
TALL_EDGE, LINE_WIDTH = 1.3, 0.12


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
    border = touches_border(stats, mask.shape)
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
    con, measured = ink.contrast, ink.measured
    extra = np.zeros(con.shape, dtype=bool)
    low = faint_threshold(ink, FAINT_DIGIT)
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
        y0, y1 = max(0, int(top - 0.75 * height)), min(con.shape[0], int(bottom + 0.75 * height) + 1)
        if x1 - x0 < 0.2 * height or y1 - y0 < 0.6 * height:
            continue  # no room for a digit (a steep row leads out of the picture beyond its ends)
        gap = (slice(y0, y1), slice(x0, x1))
        n, marks, stats, _ = labelled((con[gap] > low).astype(np.uint8), connectivity=8)
        # A mark cut by the region's edges reaches beyond it: not a digit of its own.
        inside = ~touches_border(stats, marks.shape)
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


def faint_threshold(ink, share):
    """The contrast faint ink must pass: ``share`` of the pen's, well over the paper's noise, darker than the rulings."""
    measured = ink.measured
    return max(1.5 * measured.get("floor", 1.0), share * ink.level, 1.3 * measured.get("rulings", 0.0) + 0.03)


def faded_strokes(ink, digits):
    """``digits`` (a mask of digits' ink) grown through their strokes down to ``FADED_STROKE`` of the pen's contrast.

    Under a glare spot or where a pen runs dry, part of a stroke falls below
    the ink's hysteresis (``measured["low"]``); the part kept is then read
    as another digit (a "7" with its top washed out as a "1"). Only ink that
    joins a digit's is taken, at least 1.5 times the paper's noise and
    darker than the rulings.
    """
    low = faint_threshold(ink, FADED_STROKE)
    if low >= ink.measured.get("low", 0.0):
        return digits
    return holding(ink.contrast > low, digits)


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
        if _straight(piece) or along_border(piece, x, y, shape) > 0.5:
            continue  # a page's edge: straight, or running along the picture's side
        (before if left else after).append([i])
    return before[:1] + list(groups) + after[:1]


def thin_ends(labels, stats, groups):
    """Drop straight, thin or tall marks at the ends of a number: the page's edge or a form's line, not 1s.

    Where the table beside the page is about as dark as a shadow and of the
    paper's own hue, ``off_page`` cannot tell it from the page, and the
    line where the page ends (its rim, a sliver of its shadow) is found
    as a mark as tall as the digits, straight as a 1. One pen writes a
    number, so its strokes are about as wide in every digit; the page's
    edge is a hairline. In a printed form, the wall of a box left empty
    after the number (or the row's last wall) is as straight as a 1 and
    runs the box's full height. A mark at the first or last place is
    dropped (and the next one looked at) while it is straight and its
    stroke is under ``THIN_EDGE`` of the median stroke of the digits that
    are not straight, or it is over ``TALL_EDGE`` of their median height
    and under ``LINE_WIDTH`` of its own height wide.
    Only numbers of at least two such digits are looked at: one digit is
    too little to know the pen by.
    """
    pieces = []
    for group in groups:
        left, top, right, bottom = group_box(stats, group)
        piece = np.isin(labels[top:bottom, left:right], np.asarray(group) + 1)
        pieces.append((_straight(piece), stroke_width(piece), bottom - top, right - left))
    curved = [(width, height) for straight, width, height, _ in pieces if not straight]
    if len(curved) < 2:
        return groups
    thin = THIN_EDGE * float(np.median([width for width, _ in curved]))
    tall = TALL_EDGE * float(np.median([height for _, height in curved]))

    def edge(k):
        straight, width, height, across = pieces[k]
        return straight and (width < thin or (height > tall and across < LINE_WIDTH * height))

    first, last = 0, len(groups)
    while last - first > 2 and edge(first):
        first += 1
    while last - first > 2 and edge(last - 1):
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
