"""Finding the pen strokes in a photo: paper, rulings, shadows, clutter and specks apart.

Each step is a small function on arrays (OpenCV does the image processing), in
a module of its own: ``_paper`` (working size, darkness, the paper's level,
contrast), ``_rulings``, this module (what is off the page, the ink mask),
``_groups`` (digits) and ``_patch`` (one digit, MNIST's way). ``find_ink`` and
``digit_groups`` call them in order. The picture is first brought to a working
size, then:

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

from dataclasses import dataclass, field

import cv2
import numpy as np

from ._components import (
    along_border,
    holding,
    inner,
    labelled,
    on_border,
    touches_border,
)
from ._paper import (
    FLOOR_CAP,
    NOISE_SIGMAS,
    contrast,
    darkness,
    noise_level,
    paper_balanced,
    paper_level,
    to_work_size,
)
from ._rulings import find_rulings


# A pixel differs in colour from the paper when one of its channels is this far
# (in intensity, 0..1) from the paper's colour at its brightness.
OTHER_COLOUR = 0.08


def ink_mask(con, low, high):
    """Hysteresis threshold: components of ``con > low`` that hold a pixel ``> high``."""
    return holding(con > low, con > high)


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
    if not on_border(dim):
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
    if not on_border(candidates):
        # The opening only takes pixels away: nothing there can reach the border after it.
        return np.zeros(dark.shape, dtype=bool)
    side = max(3, min(dark.shape) // 80 * 2 + 1)
    candidates = cv2.morphologyEx(candidates.astype(np.uint8), cv2.MORPH_OPEN,
                                  cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (side, side)))
    n, labels, stats, _ = labelled(candidates, connectivity=8)
    touching = touches_border(stats, dark.shape)
    touching[0] = False
    # What lies off the page fills the picture's edge along its whole extent there
    # (a band, a corner); a thick coloured digit that reaches the edge only touches it.
    for k in np.flatnonzero(touching):
        x, y, w, h = stats[k, :4]
        touching[k] = along_border(labels[y:y + h, x:x + w] == k, x, y, dark.shape) >= 0.5
    return touching[labels]


@dataclass
class Ink:
    """What ``find_ink`` found: the contrast map, the ink mask and the levels used.

    ``measured`` holds the thresholds chosen: what to look at when a picture is misread.
    """

    contrast: np.ndarray
    mask: np.ndarray
    level: float
    scale: float
    angle: float | None
    measured: dict = field(default_factory=dict)


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
    return Ink(con, mask, level, scale, angle, dict(floor=floor, low=low, high=high, rulings=rulings))


def _apart_from(mask, zone):
    """``mask`` without its components that reach into ``zone``."""
    if not (mask & zone).any():
        return mask
    return mask & ~holding(mask, zone)
