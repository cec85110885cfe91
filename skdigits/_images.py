"""Photos and scans of handwritten digits -> MNIST-style 28x28 images.

MNIST was made by size-normalising each digit to fit a 20x20 box (keeping its
aspect ratio, with anti-aliasing) and centring it by centre of mass in a 28x28
field, white ink on black. This module does the same to real pictures: a
digit written dark on light paper or the reverse, any size, colour or gray.
"""

import os

import numpy as np
from PIL import Image, ImageFilter, UnidentifiedImageError
from sklearn.base import BaseEstimator, TransformerMixin

__all__ = ["read_image", "to_mnist", "MNISTPreprocessor"]

MNIST_SIDE = 28
MNIST_BOX = 20

# Larger pictures are refused before they are decoded: 50 megapixels is above
# any phone photo and keeps the decoded image under a few hundred MB.
MAX_PIXELS = 50_000_000

# Work on a copy no larger than this on its longest side: the result is 20x20
# anyway, and the filters below cost (side x window)^2.
WORK_SIDE = 256


# Side of the small copy on which the paper's brightness is estimated.
PAPER_SIDE = 64


class ImageError(ValueError):
    """A picture that cannot be turned into a digit image; the message names the problem."""


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
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such file")
    try:
        image = Image.open(path)
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image file that can be read (PNG, JPEG, BMP, TIFF, ...)") from None
    except (OSError, Image.DecompressionBombError) as exc:
        raise ImageError(f"{path}: cannot read image ({exc})") from None
    width, height = image.size
    if width * height > MAX_PIXELS:
        image.close()
        raise ImageError(
            f"{path}: image of {width}x{height} pixels is too large "
            f"(over {MAX_PIXELS // 1_000_000} megapixels); crop it around the digit"
        )
    try:
        # JPEG only: decode at 1/2, 1/4 or 1/8 scale, still at least WORK_SIDE.
        image.draft("L", (WORK_SIDE, WORK_SIDE))
        image.load()
        return _to_gray(image)
    except OSError as exc:
        raise ImageError(f"{path}: damaged or truncated image ({exc})") from None


def _to_gray(image):
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
        paper = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(paper, image)
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        span = values.max() - values.min()
        values = (values - values.min()) / (span if span > 0 else 1.0) * 255
        return Image.fromarray(values.astype(np.uint8))
    return image.convert("L")


def _as_gray_image(image):
    """A PIL image, a path, or an array (h, w), (h, w, 3) or (h, w, 4) -> 8-bit gray PIL image."""
    if isinstance(image, (str, os.PathLike)):
        return read_image(image)
    if isinstance(image, Image.Image):
        return _to_gray(image)
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
    return _to_gray(Image.fromarray(array))  # uint8 (h, w) / (h, w, 3) / (h, w, 4): L / RGB / RGBA


def _paper(x):
    """The paper's brightness under each pixel of x (ink bright), without the ink.

    A grey opening (min then max filter) wider than the strokes erases them
    and keeps slow changes of brightness: shadows, gradients. The paper is
    smooth, so it is estimated on a small copy, which keeps the filters cheap.
    """
    work = Image.fromarray(np.uint8(np.rint(x * 255)))
    small = work.copy()
    small.thumbnail((PAPER_SIDE, PAPER_SIDE), Image.Resampling.BOX)
    window = max(3, (min(small.size) // 3) | 1)
    small = small.filter(ImageFilter.MinFilter(window)).filter(ImageFilter.MaxFilter(window))
    paper = small.resize(work.size, Image.Resampling.BILINEAR)
    return np.asarray(paper, dtype=np.float64) / 255.0


def _otsu_threshold(values):
    """Otsu's threshold of values in [0, 1]: the split that best separates ink from paper."""
    hist, edges = np.histogram(values, bins=256, range=(0.0, 1.0))
    hist = hist.astype(np.float64)
    centers = (edges[:-1] + edges[1:]) / 2
    weight_low = np.cumsum(hist)
    weight_high = weight_low[-1] - weight_low
    mass_low = np.cumsum(hist * centers)
    mean_low = mass_low / np.maximum(weight_low, 1e-12)
    mean_high = (mass_low[-1] - mass_low) / np.maximum(weight_high, 1e-12)
    between = weight_low * weight_high * (mean_low - mean_high) ** 2
    return float(centers[np.argmax(between)])


def _ink_bounding_box(ink, fraction=0.01):
    """Rows and columns holding the ink, ignoring stray specks below ``fraction`` of the peak."""
    rows, cols = ink.sum(axis=1), ink.sum(axis=0)
    r = np.flatnonzero(rows > fraction * rows.max())
    c = np.flatnonzero(cols > fraction * cols.max())
    return r[0], r[-1] + 1, c[0], c[-1] + 1


def to_mnist(image, *, invert="auto", min_contrast=0.15):
    """Turn a picture of one handwritten digit into a 28x28 MNIST-style image.

    The steps are those that made MNIST: grayscale; ink made bright on a dark
    background (inverting dark-on-light paper); the paper's uneven background
    (shadows, gradients) and speckle noise removed; cropped to the ink;
    scaled to fit a 20x20 box keeping the aspect ratio; pasted into 28x28 so
    that the centre of mass of the ink is at the centre.

    Parameters
    ----------
    image : str, path-like, PIL.Image.Image or array-like
        A file name, a PIL image, or an array (h, w) gray or (h, w, 3|4)
        colour; uint8 0..255 or floats (0..1 taken as intensities).
    invert : "auto", bool, default="auto"
        Whether the ink is dark on light paper. "auto" decides from the
        picture: its border and most of its area are paper.
    min_contrast : float, default=0.15
        The ink must stand out from the paper by at least this fraction of the
        full intensity range; below it the picture is taken as blank.

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
    gray = _as_gray_image(image)
    gray.thumbnail((WORK_SIDE, WORK_SIDE), Image.Resampling.LANCZOS)
    # Median 3x3 removes salt-and-pepper speckle before anything is measured.
    gray = gray.filter(ImageFilter.MedianFilter(3))
    x = np.asarray(gray, dtype=np.float64) / 255.0
    if invert == "auto":
        border = np.concatenate([x[0], x[-1], x[:, 0], x[:, -1]])
        invert = bool(np.median(border) > 0.5 or (np.median(border) == 0.5 and np.median(x) > 0.5))
    if invert:
        x = 1.0 - x
    ink = np.clip(x - _paper(x), 0.0, None)
    if ink.max() < min_contrast:
        raise ImageError(
            f"no ink found: the darkest mark differs from the paper by {ink.max():.0%} "
            f"of the intensity range (needs {min_contrast:.0%}); is the picture blank?"
        )
    threshold = _otsu_threshold(ink / ink.max()) * ink.max()
    # Keep the anti-aliased edge of the strokes, drop the paper's residual noise.
    ink = np.clip((ink - 0.5 * threshold) / (ink.max() - 0.5 * threshold), 0.0, 1.0)
    top, bottom, left, right = _ink_bounding_box(ink)
    ink = ink[top:bottom, left:right]
    height, width = ink.shape
    scale = MNIST_BOX / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    box = Image.fromarray(np.uint8(np.rint(ink * 255))).resize(size, Image.Resampling.LANCZOS)
    box = np.asarray(box, dtype=np.float64)
    return _center_by_mass(box)


def _center_by_mass(patch, side=MNIST_SIDE):
    total = patch.sum()
    rows, cols = np.indices(patch.shape)
    com_r, com_c = (rows * patch).sum() / total, (cols * patch).sum() / total
    # Top-left corner that puts the centre of mass at the canvas centre.
    top = int(round((side - 1) / 2 - com_r))
    left = int(round((side - 1) / 2 - com_c))
    top = min(max(top, 0), side - patch.shape[0])
    left = min(max(left, 0), side - patch.shape[1])
    canvas = np.zeros((side, side), dtype=np.float64)
    canvas[top:top + patch.shape[0], left:left + patch.shape[1]] = patch
    peak = canvas.max()
    return np.uint8(np.rint(canvas / peak * 255)) if peak > 0 else canvas.astype(np.uint8)


class MNISTPreprocessor(TransformerMixin, BaseEstimator):
    """scikit-learn transformer: pictures of digits -> flat MNIST-style rows.

    Stateless: ``fit`` learns nothing, so a pipeline of this and a classifier
    trained on MNIST predicts straight from files or photos.

    Parameters
    ----------
    invert : "auto" or bool, default="auto"
        See :func:`to_mnist`.
    flatten : bool, default=True
        Return ``(n, 784)`` rows (as ``load_mnist(flatten=True)``) rather than
        ``(n, 28, 28)`` images.

    Examples
    --------
    >>> import numpy as np
    >>> from skdigits import MNISTPreprocessor
    >>> page = np.full((120, 90), 250, dtype=np.uint8)
    >>> page[20:100, 40:50] = 0
    >>> MNISTPreprocessor().fit_transform([page, page]).shape
    (2, 784)
    """

    def __init__(self, *, invert="auto", flatten=True):
        self.invert = invert
        self.flatten = flatten

    def fit(self, X, y=None):
        """Nothing to learn; checks the parameters. Returns self."""
        if self.invert != "auto" and not isinstance(self.invert, (bool, np.bool_)):
            raise ValueError(f"invert must be 'auto', True or False, got {self.invert!r}.")
        return self

    def transform(self, X):
        """Convert each picture in X (paths, PIL images or arrays) to MNIST style.

        Returns
        -------
        images : ndarray of uint8, shape (n, 784) or (n, 28, 28)
        """
        self.fit(X)
        images = np.stack([to_mnist(image, invert=self.invert) for image in X])
        return images.reshape(len(images), -1) if self.flatten else images

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.input_tags.two_d_array = False
        return tags
