"""Photos and scans of handwritten digits -> MNIST-style 28x28 images.

MNIST was made by size-normalising each digit to fit a 20x20 box (keeping its
aspect ratio, with anti-aliasing) and centring it by centre of mass in a 28x28
field, white ink on black. This module does the same to real pictures: a
digit written dark on light paper or the reverse, any size, colour or gray.
"""

import io
import math
import os
import time

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from ._finder import centres_in_marks, locate, split_at_centres
from ._groups import (
    digit_groups,
    edge_digits,
    faded_strokes,
    faint_digits,
    group_box,
    join_broken,
    long_lines,
    the_row,
    thin_ends,
)
from ._ink import find_ink
from ._paper import WORK_SIDE, sheet_within
from ._patch import FAINT, digit_patch, patch_to_mnist
from ._records import FoundDigits
from ._touching import touching_marks

__all__ = ["read_image", "to_mnist", "find_digits", "ImageError", "ImageTooLargeError", "ImageTooComplexError",
           "NoDigitError"]

# A mark less than this many pixels high in the picture given is a speck, never a
# digit (sklearn's 8x8 digits are 6 to 8 pixels high).
MIN_DIGIT_PIXELS = 4

# Larger pictures are refused before they are decoded: 50 megapixels is above
# any phone photo and keeps the decoded image under a few hundred MB.
MAX_PIXELS = 50_000_000
# ... and so are pictures whose decoded pixels would take more bytes than this
# (a 16-bit or 32-bit sample takes two or four).
MAX_DECODED_BYTES = 200_000_000
# Pillow's bytes per pixel in each mode it decodes to (RGB is stored in four).
_MODE_BYTES = {"1": 1, "L": 1, "P": 1, "LA": 2, "PA": 2, "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2}

# The formats skdigits opens. Pillow knows forty more, some of them handed to
# programs outside Python (EPS to Ghostscript): a server should not parse them.
# (A phone's JPEG with a second picture inside, MPO, is opened as a JPEG.)
FORMATS = ("PNG", "JPEG", "BMP", "TIFF", "WEBP", "GIF")

# A picture whose ink holds more separate marks, or more holes in them, than
# this is noise, a texture or a pattern, not handwriting (photos of numbers hold
# under a tenth as many): it is refused before the marks are grouped and traced.
MAX_MARKS = 1000
# A written number of more digits than this is not what skdigits reads; the
# picture is refused before each digit's image is made.
MAX_DIGITS = 64

# Large JPEGs are decoded at a reduced scale (1/2, 1/4 or 1/8, done inside the
# decoder) that still leaves their long side at least this many pixels.
DECODE_SIDE = 900


_FORMAT_NAMES = ("PNG", "JPEG", "BMP", "TIFF", "WebP", "GIF")
# Light ink is taken only on a ground darker than this, in the middle and at the
# border alike: MNIST is black, a blackboard 0.1-0.35, while paper in a shadow
# stays lighter.
DARK_GROUND = 0.4


class ImageError(ValueError):
    """A picture that cannot be turned into a digit image; the message names the problem."""


class ImageTooLargeError(ImageError):
    """A picture with more pixels than ``MAX_PIXELS``, refused before it is decoded."""


class NoDigitError(ImageError):
    """A picture that was read, but holds no ink or no digit."""


class ImageTooComplexError(ImageError):
    """A picture whose reading would cost too much: too many marks or digits, or over its time limit."""


class _Deadline:
    """Raises ImageTooComplexError at a check made after ``seconds`` of this thread's CPU time (None: never).

    CPU time, not wall time: a picture that waited for a busy core has not cost more.
    """

    def __init__(self, seconds):
        self.seconds = seconds
        self.end = None if seconds is None else time.thread_time() + seconds

    def check(self, step):
        if self.end is not None and time.thread_time() > self.end:
            raise ImageTooComplexError(
                f"the picture took over {self.seconds:g} s of CPU to read ({step}); is it a photo of digits?")


def read_image(path):
    """Open an image file (PNG, JPEG, BMP, TIFF, ...) as an 8-bit grayscale PIL image.

    Transparent areas are laid on white paper first. JPEGs are decoded at a
    reduced scale when they are large, and images over ``MAX_PIXELS`` pixels
    are refused before decoding, so memory stays bounded.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ImageError
        If the file is not an image PIL can read, or is too large.
    """
    path = os.fspath(path)
    return _to_gray(_decode(_open(path), path, "L"))


def _open(path):
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such file")
    return _open_source(path, path)


def _open_source(source, path):
    """Open (not yet decode) an image from a file name or a binary file; ``path`` names it in messages.

    Only ``FORMATS`` are opened. Decoders' own messages are not passed on:
    they can be long, and they describe the decoder rather than the file.
    """
    try:
        image = Image.open(source, formats=FORMATS)
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image file that can be read ({', '.join(_FORMAT_NAMES)})") from None
    except Image.DecompressionBombError:
        raise ImageTooLargeError(f"{path}: the image declares more pixels than can be decoded safely") from None
    except Exception:
        # Pillow raises OSError, ValueError (a text chunk too large to decompress),
        # SyntaxError, struct.error, ... from inside its parsers.
        raise ImageError(f"{path}: a damaged image, or one that uses a feature skdigits cannot decode") from None
    width, height = image.size
    if width * height > MAX_PIXELS:
        image.close()
        raise ImageTooLargeError(
            f"{path}: image of {width}x{height} pixels is too large "
            f"(over {MAX_PIXELS // 1_000_000} megapixels); crop it around the digits"
        )
    if width * height * _MODE_BYTES.get(image.mode, 4) > MAX_DECODED_BYTES:
        image.close()
        raise ImageTooLargeError(
            f"{path}: image of {width}x{height} pixels in mode {image.mode} would take over "
            f"{MAX_DECODED_BYTES // 1_000_000} MB decoded; crop it around the digits or save it with 8 bits a channel"
        )
    return image


def _decode(image, path, mode):
    """Decode an opened image; JPEGs at the smallest scale that keeps DECODE_SIDE pixels.

    Other large pictures are shrunk by a whole factor as soon as they are
    decoded, before any copy of their pixels is made.
    """
    try:
        width, height = image.size
        shrink = DECODE_SIDE / max(width, height)
        if shrink < 1:
            image.draft(mode, (math.ceil(width * shrink), math.ceil(height * shrink)))
        image.load()
    except Image.DecompressionBombError:
        raise ImageTooLargeError(f"{path}: the image declares more pixels than can be decoded safely") from None
    except Exception:
        raise ImageError(f"{path}: a damaged or truncated image, or one skdigits cannot decode") from None
    return _reduced(image)


def _reduced(image):
    """A decoded PIL image shrunk by the whole factor that keeps its long side at least ``WORK_SIDE``.

    Every step after decoding works at ``WORK_SIDE`` at most, so nothing is
    lost; 16-bit pictures are brought to 8 bits here too, without a float copy.
    """
    factor = max(image.size) // WORK_SIDE
    if image.mode.startswith("I;16"):
        values = np.asarray(image)
        image.close()
        if factor > 1:
            values = cv2.resize(values, (values.shape[1] // factor, values.shape[0] // factor),
                                interpolation=cv2.INTER_AREA)
        return Image.fromarray(_stretched(values))
    if factor <= 1:
        return image
    if image.mode in ("1", "P"):
        image = image.convert("RGBA" if "transparency" in image.info else "RGB" if image.mode == "P" else "L")
    return image.reduce(factor)


def _stretched(values):
    """Integer or float samples -> uint8, their range stretched to 0..255."""
    low, high = values.min(), values.max()
    if values.dtype == np.uint16:
        # A table of the 65,536 values: no float copy of a large picture.
        table = (np.arange(65536, dtype=np.float64) - low) / (float(high - low) or 1.0) * 255
        return np.clip(table, 0, 255).astype(np.uint8)[values]
    values = (values.astype(np.float64) - low) / (float(high - low) or 1.0) * 255
    return values.astype(np.uint8)


def _flatten(image):
    """A PIL image in any mode -> "L" or "RGB": transparency laid on white paper, 16-bit stretched."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
        if image.getchannel("A").getextrema()[0] == 255:
            return image.convert("RGB")  # opaque everywhere (a drawing pad's PNG): no paper to lay it on
        paper = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(paper, image)
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        return Image.fromarray(_stretched(np.asarray(image)))
    return image if image.mode in ("L", "RGB") else image.convert("RGB")


def _to_gray(image):
    return _flatten(image).convert("L")


def _as_pil(image):
    """A PIL image, a path, the bytes of an image file, or an array (h, w), (h, w, 3) or (h, w, 4)
    -> (PIL image, input size)."""
    if isinstance(image, (str, os.PathLike)):
        path = os.fspath(image)
        opened = _open(path)
        size = opened.size
        return _decode(opened, path, "RGB"), size
    if isinstance(image, Image.Image):
        return image, image.size
    if isinstance(image, (bytes, bytearray, memoryview)):
        if len(image) == 0:
            raise ImageError("the image is empty: no bytes")
        opened = _open_source(io.BytesIO(image), "uploaded data")
        size = opened.size
        return _decode(opened, "uploaded data", "RGB"), size
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise ImageError(
            f"an image array must be (height, width) gray or (height, width, 3|4) colour, "
            f"got shape {array.shape}"
        )
    if array.size == 0:
        raise ImageError("the image is empty")
    if not np.issubdtype(array.dtype, np.number) or not np.all(np.isfinite(array)):
        raise ImageError("the image array must hold finite numbers")
    if array.dtype != np.uint8:
        low, high = float(array.min()), float(array.max())
        # Floats in [0, 1] are intensities; anything else is stretched to 0..255.
        if low >= 0 and high <= 1:
            array = array * 255.0
        elif high > 255 or low < 0:
            array = (array - low) / ((high - low) or 1.0) * 255.0
        array = np.clip(np.rint(array), 0, 255).astype(np.uint8)
    pil = Image.fromarray(array)  # uint8 (h, w) / (h, w, 3) / (h, w, 4): L / RGB / RGBA
    return pil, pil.size


def as_rgb(image):
    """Any picture skdigits accepts -> (float32 RGB array in [0, 1], factor to the input's pixels).

    The factor is above 1 when a large JPEG was decoded at a reduced scale.
    """
    rgb, factor, _ = _rgb_and_size(image)
    return rgb, factor


def _rgb_and_size(image):
    """as_rgb, plus the input's (width, height) in pixels."""
    pil, size = _as_pil(image)
    width = size[0]
    rgb = np.asarray(_flatten(pil))
    if rgb.ndim == 2:
        rgb = cv2.cvtColor(rgb, cv2.COLOR_GRAY2RGB)
    if max(rgb.shape[:2]) > WORK_SIDE:
        # Shrink the 8-bit picture before anything else touches its pixels.
        shrink = WORK_SIDE / max(rgb.shape[:2])
        rgb = cv2.resize(rgb, (max(1, round(rgb.shape[1] * shrink)), max(1, round(rgb.shape[0] * shrink))),
                         interpolation=cv2.INTER_AREA)
    return rgb.astype(np.float32) / 255.0, width / rgb.shape[1], size


def dark_ink(rgb, invert="auto"):
    """Whether the ink is darker than the paper: ``invert`` itself, or decided from the picture.

    "auto": ink covers a small part of a picture, so the picture's middle
    and its border show the ground the digits are written on. Light ink on
    a dark ground (MNIST itself, chalk on a blackboard) is taken only when
    both are dark; a photo of a page is often dim in part (a shadow over
    half of it, the table at its border) but its paper stays lighter. A
    page on a dark desk that shows all around it can fill less than half
    the photo, whose median is then the desk's: a picture whose central
    half is light in 85% of its pixels is a page, whatever lies around it
    (no MNIST test digit covers so little of its own picture's middle; from
    a quarter, 41 of the 10,000 would be read as dark ink). A smaller
    sheet, a note on a desk, is found by its thickness (``_paper.sheet_within``).
    """
    if invert != "auto":
        return bool(invert)
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    if not (np.median(gray[::2, ::2]) < DARK_GROUND and np.median(border) < DARK_GROUND):
        return True
    height, width = gray.shape
    middle = gray[height // 4:height - height // 4, width // 4:width - width // 4]
    return bool(np.percentile(middle, 15) >= DARK_GROUND) or sheet_within(gray, DARK_GROUND)


def to_mnist(image, *, invert="auto", min_contrast=0.15, learned=True):
    """Turn a picture of one handwritten digit into a 28x28 MNIST-style image.

    The pen strokes are found first (see ``skdigits.reader._ink``: paper and
    shadows, rulings of notebook paper, the page edge, the table and specks
    are told apart from the ink); then the steps that made MNIST: the ink cut
    out, its stroke width brought to MNIST's, scaled to fit a 20x20 box
    keeping the aspect ratio, pasted into 28x28 with its centre of mass at
    the centre, white on black.

    Parameters
    ----------
    image : str, path-like, bytes, PIL.Image.Image or array-like
        A file name, the bytes of an image file (PNG, JPEG, ...), a PIL
        image, or an array (h, w) gray or (h, w, 3|4) colour; uint8 0..255
        or floats (0..1 taken as intensities).
    invert : "auto", bool, default="auto"
        Whether the ink is dark on light paper. "auto" decides from the
        picture: its border and most of its area are paper.
    min_contrast : float, default=0.15
        The ink must stand out from the paper by at least this fraction of the
        paper's brightness; below it the picture is taken as blank.
    learned : bool, default=True
        Whether the learned finder tells digits from other marks (see
        :func:`find_digits`); False: the rules alone.

    Returns
    -------
    digit : ndarray of shape (28, 28), dtype uint8
        White digit on black, 0..255, as in MNIST.

    Raises
    ------
    ImageError
        If the picture holds no ink (blank paper) or cannot be read.

    Examples
    --------
    >>> import numpy as np
    >>> from skdigits import to_mnist
    >>> page = np.full((300, 200), 230, dtype=np.uint8)   # light paper
    >>> page[60:240, 90:110] = 20                          # a dark "1"
    >>> digit = to_mnist(page)
    >>> digit.shape, digit.dtype, digit[14, 14] > 200, digit[0, 0]
    ((28, 28), dtype('uint8'), np.True_, np.uint8(0))
    """
    return find_digits(image, invert=invert, min_contrast=min_contrast, single=True, learned=learned).images[0]


def find_digits(image, *, invert="auto", min_contrast=0.15, single=False, time_limit=None, learned=True):
    """Find the handwritten digits in a picture, left to right, as MNIST-style images.

    The ink is found by rules (``skdigits.reader._ink``). A small network, the
    finder (``skdigits.reader._finder``), then keeps the ink that belongs to
    digits and finds where no digit is; a mark that holds two or more
    digits (they touch) is read whole by a second network, a line reader
    (``skdigits.reader._touching``).

    Parameters
    ----------
    image : str, path-like, bytes, PIL.Image.Image or array-like
        As for :func:`to_mnist`.
    invert, min_contrast
        As for :func:`to_mnist`.
    single : bool, default=False
        The picture holds one digit: all of its ink that lies with the
        largest digit is taken as that digit.
    time_limit : float, default=None
        Seconds of CPU time the reading may take once the picture is
        decoded (decoding is bounded by ``MAX_PIXELS`` and
        ``MAX_DECODED_BYTES``), checked between its steps; None: no limit.
        A server sets one so that no picture holds a core for long.
    learned : bool, default=True
        Whether the learned finder is used. It reads form boxes, blank
        surfaces, notes on a desk and touching digits far better than the
        rules alone; on photos of a generator written apart
        (``benchmarks/photos_other.py``) it reads a point or two fewer than
        they do. False: the rules alone.

    Returns
    -------
    found : FoundDigits

    Raises
    ------
    ImageError
        If the picture cannot be read.
    NoDigitError
        If it holds no ink, or nothing the finder takes for a digit.
    ImageTooComplexError
        If it holds more than ``MAX_MARKS`` separate marks or ``MAX_DIGITS``
        digits (noise, a texture, a pattern), or its reading went over
        ``time_limit``.
    """
    rgb, factor, size = _rgb_and_size(image)
    # Decoding is bounded by the limits on pixels and bytes; what a picture's
    # content can make cost more is what comes after it.
    deadline = _Deadline(time_limit)
    ink = find_ink(rgb, light_ink=not dark_ink(rgb, invert))
    deadline.check("finding its ink")
    if ink.level < min_contrast:
        raise NoDigitError(
            f"no ink found: the darkest mark differs from the paper by {ink.level:.0%} "
            f"of its brightness (needs {min_contrast:.0%}); is the picture blank?"
        )
    if not ink.mask.any():
        raise NoDigitError("no ink found: no mark stands out from the paper's own noise; is the picture blank?")
    _check_mark_count(ink.mask)
    found = marks = None
    if learned:
        measured, faint = rules_digits(ink, factor, single)
        found = locate(ink.contrast, ink.level, ink.mask | faint, measured)
        deadline.check("finding where its digits are")
        if not len(found.centres):
            raise NoDigitError("no digit found: the marks in the picture do not look like digits "
                               "(a frame, a box, an edge, a texture?)")
        whole = digit_ink(ink, found)
        # Labelled once, for the cut and for the line reader: the marks that hold two or more centres.
        marks = centres_in_marks(whole, found.centres) if len(found.centres) >= 2 else None
        ink.mask = split_at_centres(whole, found.centres, marks)
        if not ink.mask.any():
            raise NoDigitError("no digit found: no ink lies where the digits seem to be")
    centres = None if found is None else found.centres
    labels, stats, groups, boxes = _digits(ink, factor, single, centres)
    _check_digit_count(len(groups))
    if not single:
        extra = faint_digits(ink, labels, groups, boxes)
        if found is not None:
            extra &= found.zone
        if extra.any():
            ink.mask = ink.mask | extra
            labels, stats, groups, boxes = _digits(ink, factor, single, centres)
            _check_digit_count(len(groups))
    deadline.check("grouping its marks into digits")
    # Digits that run together into one mark are read as a line, in place of the groups cut from it.
    runs = [] if marks is None or single else touching_marks(ink, marks, labels, stats, groups)
    first_of = {run.groups[0]: run for run in runs}
    in_run = {k for run in runs for k in run.groups}
    items = []  # (patch, box, probabilities or None), left to right
    for k, group in enumerate(groups):
        if k in first_of:
            items.extend((patch, box, p) for p, box, patch in first_of[k].digits)
        elif k not in in_run:
            items.append((digit_patch(ink, labels, stats, group), boxes[k], None))
        deadline.check("making each digit's image")
    _check_digit_count(len(items))
    # A group can hold no ink of its own: pixels joined across an erased ruling, with
    # nothing darker than the ruling under them. It is not a digit.
    items = [item for item in items if item[0].max() > FAINT]
    if not items:
        raise NoDigitError("no digit found: the ink is too faint")
    images = np.stack([patch_to_mnist(patch) for patch, _, _ in items])
    scale = ink.scale * factor
    boxes = [tuple(int(round(v * scale)) for v in box) for _, box, _ in items]
    proba = None
    if any(p is not None for _, _, p in items):
        proba = np.stack([np.full(10, np.nan) if p is None else p for _, _, p in items])
    return FoundDigits(images, boxes, tuple(size), proba)


def digit_ink(ink, found):
    """The ink that the finder (``found``, a ``Located``) takes for digits', before touching digits are cut apart.

    Strokes faded below the ink's threshold are followed (``_groups.faded_strokes``)
    as far as the finder sees digit ink. The line reader's training strips are
    cut from the same ink (``benchmarks/train_touching.py``).
    """
    return faded_strokes(ink, ink.mask & found.zone) & found.zone


def rules_digits(ink, factor, single):
    """What the rules alone take for digits: (their ink, the faint digits' ink the ink mask lacks).

    The finder measures the pen on the first (None if the rules find no
    digit) and is shown the ink mask with the second.
    """
    try:
        labels, _, groups, boxes = _digits(ink, factor, single)
    except NoDigitError:
        return None, np.zeros_like(ink.mask)
    digits = np.isin(labels, np.concatenate([np.asarray(g) for g in groups]) + 1)
    return digits, np.zeros_like(ink.mask) if single else faint_digits(ink, labels, groups, boxes)


def _check_mark_count(mask):
    """Refuse ink of more than ``MAX_MARKS`` marks, or holes in them: each costs the steps after this."""
    mask = mask.astype(np.uint8)
    marks = cv2.connectedComponents(mask, connectivity=8)[0] - 1
    # The paper around the marks is one region of the inverted mask; every other one is a hole.
    holes = cv2.connectedComponents(1 - mask, connectivity=4)[0] - 2
    for count, what in ((marks, "separate marks"), (holes, "holes in its marks")):
        if count > MAX_MARKS:
            raise ImageTooComplexError(
                f"too noisy: {count:,} {what} (at most {MAX_MARKS:,} are read); is it a photo of handwritten digits?")


def _check_digit_count(count):
    if count > MAX_DIGITS:
        raise ImageTooComplexError(
            f"too many marks that look like digits: {count} (at most {MAX_DIGITS} are read); "
            "crop the picture around the number")


def _digits(ink, factor, single, centres=None):
    """The ink grouped into digits: (labels, stats, groups, boxes in working pixels).

    With the finder's ``centres``, a group with no centre in or near its box is not a digit.
    """
    labels, stats, groups = digit_groups(ink.mask)
    if not single:
        groups = edge_digits(labels, stats, join_broken(stats, groups), ink.mask.shape)
    boxes = [group_box(stats, g) for g in groups]
    # Nothing can be read in a mark a few pixels high, however alone it is.
    tall_enough = MIN_DIGIT_PIXELS / (ink.scale * factor)
    keep = [k for k, (_, top, _, bottom) in enumerate(boxes) if bottom - top >= tall_enough]
    if centres is not None:
        keep = [k for k in keep if _holds_centre(boxes[k], centres)]
    groups, boxes = [groups[k] for k in keep], [boxes[k] for k in keep]
    if not groups:
        raise NoDigitError("no digit found: the only marks touch the picture's border, are specks, "
                           "or do not look like digits")
    if single:
        # The largest digit, with whatever ink lies within half its height of it (a digit
        # written in two pieces that do not overlap).
        # A line across the page (its edge, a margin line) holds more ink than a digit.
        pieces = [np.isin(labels[top:bottom, left:right], np.asarray(g) + 1)
                  for g, (left, top, right, bottom) in zip(groups, boxes)]
        lines = long_lines([max(r - l, b - t) for l, t, r, b in boxes], [stats[g, 4].sum() for g in groups], pieces)
        if lines.all():
            lines[:] = False
        main = int(np.argmax([0 if line else stats[g, 4].sum() for g, line in zip(groups, lines)]))
        margin = (boxes[main][3] - boxes[main][1]) / 2
        near = [i for g, line in zip(groups, lines) if not line for i in g
                if _boxes_near(group_box(stats, [i]), boxes[main], margin)]
        groups = [sorted(set(groups[main]) | set(near))]
        boxes = [group_box(stats, groups[0])]
    else:
        # Marks much shorter than most digits beside them (a dash, a dot, smudges) are not digits.
        heights = [bottom - top for _, top, _, bottom in boxes]
        keep = [k for k, h in enumerate(heights) if h >= 0.45 * np.median(heights)]
        groups = [groups[k] for k in keep]
        groups = thin_ends(labels, stats, [groups[k] for k in the_row(stats, groups)])
        boxes = [group_box(stats, g) for g in groups]
    return labels, stats, groups, boxes


def _holds_centre(box, centres):
    """Whether a digit's centre lies in ``box`` (left, top, right, bottom), widened by a fifth of its height."""
    left, top, right, bottom = box
    margin = 0.2 * (bottom - top)
    x, y = centres[:, 0], centres[:, 1]
    return bool(np.any((x >= left - margin) & (x <= right + margin) & (y >= top - margin) & (y <= bottom + margin)))


def _boxes_near(box, other, margin):
    return (box[2] >= other[0] - margin and box[0] <= other[2] + margin
            and box[3] >= other[1] - margin and box[1] <= other[3] + margin)
