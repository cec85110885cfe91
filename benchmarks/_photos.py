"""The phone-like photos of the photo benchmark, drawn from MNIST digits (a helper of the benchmarks).

Conditions: clean (black pen on plain white paper, mild sensor noise),
ruled (blue, grey or faint rulings crossing the digits), squared (grid paper),
shadow (a soft-edged shadow and a lighting gradient), tilt (page turned up to
15 degrees with mild perspective; the page edge and the table show in a corner),
pen (blue, black or red pens, thin to thick strokes), specks (dust and dots),
lowres (digits 25 to 40 pixels high), jpeg (JPEG quality 40 to 75), and all
(everything at once, on ruled or on squared paper); ``all-but-pen`` and the like:
everything at once but that one condition. Other surfaces come from ``_scenes.py``.
"""

import cv2
import numpy as np

from _scenes import KINDS as SURFACES
from _scenes import make_scene

__all__ = ["CONDITIONS", "SURFACES", "make_photo"]

CONDITIONS = ("clean", "ruled", "squared", "shadow", "tilt", "pen", "specks", "lowres", "jpeg", "all")
# Conditions that "all" can be drawn without (the paper is ruled or squared in any case).
LEAVE_OUT = ("shadow", "tilt", "pen", "specks", "lowres", "jpeg")
ALL_BUT = tuple(f"all-but-{condition}" for condition in LEAVE_OUT)
PENS = {"black": (35, 35, 40), "blue": (150, 60, 25), "dark blue": (110, 40, 20), "red": (40, 40, 190)}  # BGR


def _ink_alpha(digit, height, rng, width_change):
    """An MNIST digit as pen coverage at ``height`` pixels, strokes thickened or thinned."""
    big = cv2.resize(digit.astype(np.float32) / 255, (height, height), interpolation=cv2.INTER_CUBIC)
    k = int(round(abs(width_change) * height))
    if k >= 1:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k + 1, k + 1))
        big = cv2.dilate(big, kernel) if width_change > 0 else cv2.erode(big, kernel)
    return np.clip(big * 1.2, 0, 1)


def _paper(shape, rng):
    tint = np.array([rng.uniform(225, 245), rng.uniform(232, 248), rng.uniform(238, 252)])  # BGR, warm white
    texture = cv2.resize(rng.normal(0, 1, (shape[0] // 16 + 1, shape[1] // 16 + 1)).astype(np.float32),
                         (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)
    return np.clip(tint[None, None, :] + 3 * texture[:, :, None], 0, 255)


def _rule(page, rng, spacing, squared):
    colour = [(230, 180, 140), (170, 170, 170), (235, 215, 200), (220, 160, 110)][rng.integers(4)]  # BGR
    thickness = int(rng.integers(1, 4))
    h, w = page.shape[:2]
    offset = rng.uniform(0, spacing)
    for y in np.arange(offset, h, spacing):
        cv2.line(page, (0, int(y)), (w, int(y)), colour, thickness, cv2.LINE_AA)
    if squared:
        for x in np.arange(rng.uniform(0, spacing), w, spacing):
            cv2.line(page, (int(x), 0), (int(x), h), colour, thickness, cv2.LINE_AA)
    elif rng.random() < 0.5:  # a margin line
        x = int(rng.uniform(0.05, 0.15) * w)
        cv2.line(page, (x, 0), (x, h), (120, 120, 230), thickness, cv2.LINE_AA)


def _shadow(page, rng):
    h, w = page.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    d = (xx - w * rng.uniform(0.3, 0.7)) * np.cos(angle) + (yy - h * rng.uniform(0.3, 0.7)) * np.sin(angle)
    softness = rng.uniform(0.01, 0.08) * max(h, w)
    shade = 1 - rng.uniform(0.3, 0.5) / (1 + np.exp(-d / softness))
    gradient = 1 - rng.uniform(0.1, 0.25) * (xx / w if rng.random() < 0.5 else yy / h)
    return page * (shade * gradient)[:, :, None]


def _tilt(page, rng):
    """Turn and warp the page as a hand-held phone would, the table showing in a corner."""
    h, w = page.shape[:2]
    angle = rng.uniform(-15, 15)
    table = np.array([rng.uniform(40, 90), rng.uniform(60, 110), rng.uniform(90, 150)])  # brownish, BGR
    centre = (w / 2 + rng.uniform(-0.08, 0.08) * w, h / 2 + rng.uniform(-0.08, 0.08) * h)
    rotation = cv2.getRotationMatrix2D(centre, angle, rng.uniform(1.0, 1.12))
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    corners = cv2.transform(src[None], rotation)[0]
    corners += rng.uniform(-0.03, 0.03, corners.shape).astype(np.float32) * [w, h]
    # Pull one corner of the page inwards so the page edge and the table show there.
    corner = int(rng.integers(4))
    corners[corner] += (np.float32([w, h]) / 2 - corners[corner]) * rng.uniform(0.15, 0.3)
    matrix = cv2.getPerspectiveTransform(src, corners.astype(np.float32))
    out = cv2.warpPerspective(page, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                              borderValue=tuple(float(v) for v in table))
    grain = rng.normal(0, 6, (h, w, 1))
    covered = cv2.warpPerspective(np.ones((h, w), np.float32), matrix, (w, h)) < 0.5
    out[covered] += grain[covered]
    return out, matrix


def _specks(page, rng, scale):
    h, w = page.shape[:2]
    for _ in range(int(rng.integers(5, 25))):
        centre = (int(rng.uniform(0, w)), int(rng.uniform(0, h)))
        radius = max(1, int(rng.uniform(0.5, 2.5) * scale))
        grey = float(rng.uniform(40, 140))
        cv2.circle(page, centre, radius, (grey, grey, grey), -1, cv2.LINE_AA)


def make_photo(digits, condition, rng, *, long_side=900, truth=False):
    """A photo (BGR uint8) of ``digits`` (MNIST test images, or none: a blank page) written left to right.

    With ``truth``, also where each digit lies, as ``_scenes.make_scene`` gives it.
    """
    if condition in SURFACES:
        return make_scene(digits, condition, rng, long_side=long_side, truth=truth)
    conditions = {condition}
    if condition == "all" or condition in ALL_BUT:  # everything at once, on ruled or on squared paper
        conditions = set(CONDITIONS[1:-1]) - {("squared", "ruled")[rng.integers(2)]}
        if condition in ALL_BUT:
            conditions.discard(condition[len("all-but-"):])
    n = len(digits)
    height = int(rng.uniform(0.14, 0.22) * long_side) if n > 1 else int(rng.uniform(0.2, 0.45) * long_side)
    gaps = [int(rng.uniform(0.12, 0.35) * height) for _ in range(n)]
    width = max(int(long_side * 0.75), sum(gaps) + n * height + height)
    width = min(width, int(long_side * 1.6))
    if n * height + sum(gaps) + height > width:  # long numbers: smaller digits
        height = int((width - sum(gaps)) / (n + 1))
    h, w = int(long_side * 0.75), width
    page = _paper((h, w), rng)
    if "ruled" in conditions:
        _rule(page, rng, spacing=height * rng.uniform(0.45, 0.8), squared=False)
    if "squared" in conditions:
        _rule(page, rng, spacing=height * rng.uniform(0.25, 0.4), squared=True)
    pen = np.array(PENS["black"], dtype=np.float64)
    width_change = 0.0
    if "pen" in conditions:
        pen = np.array(list(PENS.values())[rng.integers(len(PENS))], dtype=np.float64)
        width_change = rng.uniform(-0.05, 0.08)
    x = int((w - n * height - sum(gaps[:-1])) / 2)
    which = np.zeros((h, w), np.uint8)
    for k, (digit, gap) in enumerate(zip(digits, gaps)):
        size = int(height * rng.uniform(0.9, 1.1))
        y = int(h / 2 - size / 2 + rng.uniform(-0.08, 0.08) * height)
        alpha = _ink_alpha(digit, size, rng, width_change)[:, :, None] * rng.uniform(0.85, 1.0)
        region = page[y:y + size, x:x + size]
        region[:] = region * (1 - alpha) + pen * alpha
        which[y:y + size, x:x + size][alpha[:, :, 0] > 0.5] = k + 1
        x += size + gap
    if "specks" in conditions:
        _specks(page, rng, scale=long_side / 600)
    if "shadow" in conditions:
        page = _shadow(page, rng)
    if "tilt" in conditions:
        page, matrix = _tilt(page, rng)
        which = cv2.warpPerspective(which, matrix, (w, h), flags=cv2.INTER_NEAREST)
    page = page + rng.normal(0, 2.5, page.shape)
    if "lowres" in conditions:
        factor = rng.uniform(25, 40) / (height if n > 1 else height * 0.7)
        size = (max(8, int(w * factor)), max(8, int(h * factor)))
        page = cv2.resize(page, size, interpolation=cv2.INTER_AREA)
        which = cv2.resize(which, size, interpolation=cv2.INTER_NEAREST)
    image = np.uint8(np.clip(page, 0, 255))
    quality = int(rng.integers(40, 75)) if "jpeg" in conditions else 92
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    photo = cv2.imdecode(data, cv2.IMREAD_COLOR)
    return (photo, which) if truth else photo
