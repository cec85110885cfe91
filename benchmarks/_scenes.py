"""Photos of surfaces the notebook generator of photos.py does not make: shared by the benchmarks.

Each kind writes MNIST digits (any split: the benchmarks use test digits,
a training script would use training digits) on its own surface, or none
at all (a blank surface, for "no digit here"):

- ``pencil``: grey graphite, grainy and faint, on plain paper;
- ``marker``: a thick felt marker, strokes widened by a fifth of the height;
- ``note``: a yellow, pink, green or blue sticky note lying turned on a wooden
  desk, with its shadow; the desk shows all around it;
- ``whiteboard``: marker on a light board, an aluminium frame along one
  side, a glare spot, ghosts of erased writing;
- ``chalk``: light, broken, grainy strokes on a dark green or black board;
- ``touching``: dark pen on paper, each digit moved against its neighbour
  until their strokes touch;
- ``boxes``: a printed form, each digit written in its own box of a row.

``print_words`` adds printed words beside the digits of any photo.

    >>> import numpy as np
    >>> from _scenes import KINDS, make_scene
    >>> digit = np.zeros((28, 28), np.uint8); digit[6:22, 12:16] = 255
    >>> all(make_scene([digit, digit], kind, np.random.default_rng(0)).ndim == 3 for kind in KINDS)
    True
"""

import cv2
import numpy as np

KINDS = ("pencil", "marker", "note", "whiteboard", "chalk", "touching", "boxes")
# BGR colours.
MARKERS = [(30, 30, 30), (140, 50, 20), (40, 40, 180), (50, 120, 40)]
NOTES = [(120, 235, 250), (200, 170, 250), (150, 240, 170), (245, 210, 140)]
FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_PLAIN, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX,
         cv2.FONT_HERSHEY_TRIPLEX, cv2.FONT_HERSHEY_COMPLEX_SMALL)
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _glyph(digit, size, widen=0.0):
    """An MNIST digit as ink coverage in [0, 1] at ``size`` pixels, strokes widened by ``widen`` of it."""
    big = cv2.resize(digit.astype(np.float32) / 255, (size, size), interpolation=cv2.INTER_CUBIC)
    k = int(round(widen * size))
    if k >= 1:
        big = cv2.dilate(big, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k + 1, k + 1)))
    return np.clip(big * 1.25, 0, 1)


def _texture(shape, rng, cell, amplitude):
    """Smooth random texture, about ``cell`` pixels across, of standard deviation ``amplitude``."""
    h, w = shape
    small = rng.normal(0, 1, (h // cell + 2, w // cell + 2)).astype(np.float32)
    return amplitude * cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def _layout(n, rng, h, w):
    """Digit height, and the (x, y) of each digit's box, left to right across the middle."""
    height = int(min(h * rng.uniform(0.25, 0.45), w * 0.8 / max(n, 1) / 1.25))
    gaps = [int(rng.uniform(0.1, 0.3) * height) for _ in range(n)]
    x = int((w - n * height - sum(gaps[:-1])) / 2)
    boxes = []
    for gap in gaps:
        boxes.append((x, int(h / 2 - height / 2 + rng.uniform(-0.06, 0.06) * height)))
        x += height + gap
    return height, boxes


def _write(page, coverage, colour):
    """Lay ink of ``colour`` over ``page`` where ``coverage`` (h, w) in [0, 1] says."""
    alpha = coverage[:, :, None]
    page[:] = page * (1 - alpha) + np.asarray(colour, np.float64) * alpha


def _coverage(digits, shape, height, boxes, rng, widen=0.0):
    """The ink coverage of ``digits`` placed in ``boxes`` on a picture of ``shape``, and which digit is where.

    The second array holds k + 1 where digit k's coverage is over a half, 0 elsewhere.
    """
    cover, which = np.zeros(shape, np.float32), np.zeros(shape, np.uint8)
    for k, (digit, (x, y)) in enumerate(zip(digits, boxes)):
        size = int(height * rng.uniform(0.9, 1.05))
        glyph = _glyph(digit, size, widen)
        region = cover[y:y + size, x:x + size]
        glyph = glyph[:region.shape[0], :region.shape[1]]
        region[:] = np.maximum(region, glyph)
        which[y:y + size, x:x + size][glyph > 0.5] = k + 1
    return cover, which


def _touching(digits, shape, rng):
    """Coverage of digits each slid against the one before until their strokes touch."""
    h, w = shape
    n = max(len(digits), 1)
    height = int(min(h * rng.uniform(0.28, 0.42), w * 0.9 / (0.75 * n + 0.5)))
    glyphs = [_glyph(d, height, rng.uniform(0.0, 0.05)) for d in digits]
    cover, which = np.zeros(shape, np.float32), np.zeros(shape, np.uint8)
    y = int(h / 2 - height / 2)
    x = int(w * 0.08)
    for k, glyph in enumerate(glyphs):
        if k == 0:
            cover[y:y + height, x:x + height] = glyph
            which[y:y + height, x:x + height][glyph > 0.5] = 1
            continue
        # Start clear of the ink so far, then move left a pixel at a time until the strokes meet.
        cols = np.flatnonzero((cover > 0.5).any(axis=0))
        left = int(np.flatnonzero((glyph > 0.5).any(axis=0))[0])
        x = int(cols[-1]) + 2 - left
        dy = int(rng.uniform(-0.05, 0.05) * height)
        while x > 0:
            region = cover[y + dy:y + dy + height, x:x + height]
            if region.shape != glyph.shape:
                break
            if ((region > 0.5) & (glyph > 0.5)).any():  # the strokes overlap: they touch in any photo
                break
            x -= 1
        x -= int(rng.integers(0, max(1, height // 25) + 1))  # a little more: strokes cross, not just meet
        region = cover[y + dy:y + dy + height, x:x + height]
        if region.shape == glyph.shape:
            region[:] = np.maximum(region, glyph)
            which[y + dy:y + dy + height, x:x + height][glyph > 0.5] = k + 1
    return cover, which


def _wood(shape, rng):
    """A wooden desk: brown with grain along one direction."""
    h, w = shape
    base = np.array([rng.uniform(40, 70), rng.uniform(75, 110), rng.uniform(120, 170)])
    grain = cv2.resize(rng.normal(0, 1, (h // 3 + 2, 4)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    grain = grain + 0.4 * _texture(shape, rng, 24, 1.0)
    return np.clip(base[None, None, :] * (1 + 0.12 * grain[:, :, None]), 0, 255)


def _paper(shape, rng, tint=(238, 244, 248)):
    return np.asarray(tint, np.float64)[None, None, :] + _texture(shape, rng, 16, 3.0)[:, :, None]


def make_scene(digits, kind, rng, *, long_side=900, truth=False):
    """A photo (BGR uint8) of ``digits`` (MNIST images, possibly none) written on a surface of ``kind``.

    With ``truth``, also where each digit lies: a uint8 array of the photo's
    size holding k + 1 on digit k's ink, 0 elsewhere (what a learned stage is trained to find).
    """
    photo, which = _scene(digits, kind, rng, long_side)
    return (photo, which) if truth else photo


def _scene(digits, kind, rng, long_side):
    h, w = int(long_side * 0.75), long_side
    n = len(digits)
    blank = np.zeros((h, w), np.float32), np.zeros((h, w), np.uint8)
    if kind == "note":
        return _note(digits, rng, h, w)
    if kind == "chalk":
        board = np.array([(40, 60, 35), (30, 30, 30), (50, 75, 45)][rng.integers(3)], np.float64)
        page = board[None, None, :] + _texture((h, w), rng, 40, 6.0)[:, :, None]
        height, boxes = _layout(n, rng, h, w)
        cover, which = _coverage(digits, (h, w), height, boxes, rng, widen=rng.uniform(0.0, 0.04))
        # Chalk leaves grains: the stroke is broken where the board shows through.
        cover *= np.clip(rng.uniform(0.55, 0.95) + _texture((h, w), rng, 2, 0.25), 0, 1)
        _write(page, cover, (rng.uniform(200, 235), rng.uniform(220, 240), rng.uniform(225, 245)))
        for _ in range(int(rng.integers(2, 6))):  # dust of erased chalk
            centre = (int(rng.uniform(0, w)), int(rng.uniform(0, h)))
            axes = (int(rng.uniform(40, 160)), int(rng.uniform(15, 50)))
            smear = np.zeros((h, w), np.float32)
            cv2.ellipse(smear, centre, axes, rng.uniform(0, 180), 0, 360, 1.0, -1)
            _write(page, cv2.GaussianBlur(smear, (0, 0), 15) * rng.uniform(0.05, 0.15), (200, 210, 210))
        return _finish(page, rng), which
    page = _paper((h, w), rng)
    if kind == "whiteboard":
        page = np.full((h, w, 3), rng.uniform(225, 245)) + _texture((h, w), rng, 60, 4.0)[:, :, None]
        for _ in range(int(rng.integers(1, 4))):  # ghosts of erased writing
            ghost = np.zeros((h, w), np.float32)
            x0, y0 = int(rng.uniform(0, w)), int(rng.uniform(0, h))
            cv2.line(ghost, (x0, y0), (x0 + int(rng.uniform(-200, 200)), y0 + int(rng.uniform(-60, 60))), 1.0,
                     int(rng.uniform(8, 20)))
            _write(page, cv2.GaussianBlur(ghost, (0, 0), 6) * rng.uniform(0.04, 0.1), (120, 120, 120))
    elif kind == "pencil":
        page = _paper((h, w), rng, (rng.uniform(230, 245), rng.uniform(236, 248), rng.uniform(238, 250)))
    if kind == "touching":
        cover, which = _touching(digits, (h, w), rng) if n else blank
    else:
        height, boxes = _form_boxes(page, rng, n) if kind == "boxes" else _layout(n, rng, h, w)
        widen = {"marker": rng.uniform(0.1, 0.18), "whiteboard": rng.uniform(0.06, 0.12),
                 "pencil": -0.0}.get(kind, rng.uniform(0.0, 0.04))
        cover, which = _coverage(digits, (h, w), height, boxes, rng, widen) if n else blank
    colour = (35, 35, 40)
    if kind == "pencil":
        cover *= np.clip(rng.uniform(0.45, 0.75) + _texture((h, w), rng, 2, 0.2), 0, 1)
        colour = (95, 95, 100)
    elif kind in ("marker", "whiteboard"):
        colour = MARKERS[rng.integers(len(MARKERS))]
    _write(page, cover, colour)
    if kind == "whiteboard":
        page = _glare_and_frame(page, rng)
    return _finish(page, rng), which


def _form_boxes(page, rng, n):
    """A printed row of adjoining boxes (at least 3, a few more than digits): (digit height, digit places).

    The digits go in consecutive boxes, each a little smaller than its box
    and off its centre, so that some touch the box's sides.
    """
    h, w = page.shape[:2]
    count = max(3, n + int(rng.integers(0, 3)))
    side = int(min(h * rng.uniform(0.22, 0.4), w * 0.9 / count))
    x0, y0 = int((w - count * side) / 2), int(h / 2 - side / 2)
    colour = [(60, 60, 60), (150, 90, 40), (90, 90, 170)][rng.integers(3)]
    thickness = int(rng.integers(1, 4))
    for k in range(count + 1):
        cv2.line(page, (x0 + k * side, y0), (x0 + k * side, y0 + side), colour, thickness, cv2.LINE_AA)
    for y in (y0, y0 + side):
        cv2.line(page, (x0, y), (x0 + count * side, y), colour, thickness, cv2.LINE_AA)
    label = np.zeros((h, w), np.uint8)
    cv2.putText(label, "AMOUNT", (x0, max(20, y0 - int(side * 0.2))), cv2.FONT_HERSHEY_SIMPLEX,
                side / 160, 255, max(1, thickness - 1), cv2.LINE_AA)
    _write(page, label.astype(np.float32) / 255, colour)
    height = int(side * rng.uniform(0.8, 0.95))
    first = int(rng.integers(0, count - n + 1))
    places = []
    for k in range(first, first + n):
        room = side - height
        places.append((x0 + k * side + int(rng.uniform(-0.1, 1.1) * room),
                       y0 + int(rng.uniform(-0.1, 1.1) * room)))
    return height, places


def _glare_and_frame(page, rng):
    h, w = page.shape[:2]
    glare = np.zeros((h, w), np.float32)
    cv2.ellipse(glare, (int(rng.uniform(0.15, 0.85) * w), int(rng.uniform(0.15, 0.85) * h)),
                (int(rng.uniform(0.08, 0.2) * w), int(rng.uniform(0.05, 0.12) * h)), rng.uniform(0, 180), 0, 360,
                1.0, -1)
    glare = cv2.GaussianBlur(glare, (0, 0), rng.uniform(10, 30)) * rng.uniform(0.5, 0.9)
    page = page + (255 - page) * glare[:, :, None]
    side = int(rng.integers(4))
    bar = int(rng.uniform(0.03, 0.07) * min(h, w))
    metal = np.array([rng.uniform(150, 190)] * 3)
    if side == 0:
        page[:bar] = metal
    elif side == 1:
        page[-bar:] = metal
    elif side == 2:
        page[:, :bar] = metal
    else:
        page[:, -bar:] = metal
    return page


def _note(digits, rng, h, w):
    """A sticky note lying turned on a wooden desk, with digits on it."""
    desk = _wood((h, w), rng)
    side = int(min(h, w) * rng.uniform(0.55, 0.8))
    note = np.asarray(NOTES[rng.integers(len(NOTES))], np.float64)[None, None, :] * np.ones((side, side, 1))
    note += _texture((side, side), rng, 20, 3.0)[:, :, None]
    n = len(digits)
    height, boxes = _layout(n, rng, side, side)
    which = np.zeros((side, side), np.uint8)
    if n:
        cover, which = _coverage(digits, (side, side), height, boxes, rng, rng.uniform(0.02, 0.08))
        _write(note, cover, MARKERS[rng.integers(2)])
    # Turn the note and lay it on the desk with a soft shadow below-right.
    angle = rng.uniform(-20, 20)
    centre = (w / 2 + rng.uniform(-0.1, 0.1) * w, h / 2 + rng.uniform(-0.08, 0.08) * h)
    matrix = cv2.getRotationMatrix2D((side / 2, side / 2), angle, 1.0)
    matrix[:, 2] += np.array(centre) - side / 2
    placed = cv2.warpAffine(note.astype(np.float32), matrix, (w, h), flags=cv2.INTER_LINEAR)
    mask = cv2.warpAffine(np.ones((side, side), np.float32), matrix, (w, h), flags=cv2.INTER_LINEAR)
    shadow = cv2.GaussianBlur(np.roll(mask, (int(side * 0.03), int(side * 0.03)), (0, 1)), (0, 0), side * 0.02)
    out = desk * (1 - 0.45 * shadow[:, :, None])
    out = out * (1 - mask[:, :, None]) + placed * mask[:, :, None]
    which = cv2.warpAffine(which, matrix, (w, h), flags=cv2.INTER_NEAREST)
    return _finish(out, rng), which


def _finish(page, rng):
    """Sensor noise and JPEG, as a phone saves a photo."""
    page = page + rng.normal(0, 2.5, page.shape)
    ok, data = cv2.imencode(".jpg", np.uint8(np.clip(page, 0, 255)), [cv2.IMWRITE_JPEG_QUALITY, 88])
    return cv2.imdecode(data, cv2.IMREAD_COLOR)


def print_words(photo, which, rng):
    """``photo`` with one to three printed words (a form's label, a heading) where no digit lies.

    Random capital letters in one of OpenCV's printed fonts, smaller than the
    handwriting, half of them just above or below the digits, where a form
    prints its label: an "O" or an "I" printed there is no digit.
    """
    h, w = which.shape
    rows, cols = np.nonzero(which)
    height = (rows.max() - rows.min() + 1) if rows.size else rng.uniform(0.1, 0.3) * min(h, w)
    keep_off = cv2.dilate((which > 0).astype(np.uint8), np.ones((15, 15), np.uint8)) > 0
    photo = photo.astype(np.float32)
    for _ in range(int(rng.integers(1, 4))):
        text = "".join(rng.choice(list(LETTERS), size=int(rng.integers(2, 11))))
        if rng.random() < 0.3:
            text = text[0] + text[1:].lower()
        if rng.random() < 0.2:
            text += rng.choice([":", ".", " No."])
        font = int(FONTS[rng.integers(len(FONTS))]) | (cv2.FONT_ITALIC if rng.random() < 0.15 else 0)
        cap = max(8.0, rng.uniform(0.15, 0.5) * height)
        scale = cap / cv2.getTextSize("H", font, 1.0, 1)[0][1]
        thickness = max(1, int(round(cap * rng.uniform(0.04, 0.1))))
        (tw, th), base = cv2.getTextSize(text, font, scale, thickness)
        if tw >= w - 4 or th + base >= h - 4:
            continue
        for _ in range(10):
            if rows.size and rng.random() < 0.5:  # beside the digits, where a form puts its label
                x = int(rng.uniform(cols.min() - tw, cols.max()))
                y = int(rng.choice([rows.min() - rng.uniform(0.2, 1.0) * th, rows.max() + rng.uniform(1.2, 2.0) * th]))
            else:
                x, y = int(rng.uniform(0, w - tw)), int(rng.uniform(th, h - base))
            x, y = int(np.clip(x, 2, w - tw - 2)), int(np.clip(y, th + 2, h - base - 2))
            cover = np.zeros((h, w), np.uint8)
            cv2.putText(cover, text, (x, y), font, scale, 255, thickness, cv2.LINE_AA)
            if not (keep_off & (cover > 0)).any():
                alpha = cv2.GaussianBlur(cover.astype(np.float32) / 255, (0, 0), 0.6) * rng.uniform(0.7, 1.0)
                colour = np.array([(40, 40, 40), (150, 90, 40), (90, 90, 170), (60, 60, 60)][rng.integers(4)])
                photo = photo * (1 - alpha[:, :, None]) + colour * alpha[:, :, None]
                keep_off |= cv2.dilate(cover, np.ones((15, 15), np.uint8)) > 0
                break
    return np.uint8(np.clip(photo, 0, 255))
