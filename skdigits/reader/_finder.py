"""The reader's learned stage: which ink belongs to a digit, and where each digit is.

The rules of ``skdigits.reader._ink`` find the ink: everything darker than the paper
that is not a ruling. What that ink *is* they cannot always tell: the box of a
form, a board's frame, a note's edge or two digits that touch. A small fully
convolutional network, the *finder*, looks at the contrast map the rules made
and answers per pixel, CenterNet-style, at half its input's resolution:

- channel 0, the probability that the ink there belongs to a digit;
- channel 1, a heatmap that peaks at the centre of each digit.

Its input is the contrast map near the ink the rules found (what they erased,
rulings, dots and the paper's texture, is left out), scaled so that the
strokes of the marks the rules take for digits are ``TARGET_STROKE`` pixels
wide, which brings digits of any size to about 25-35 pixels high; where it
finds no centre it looks again at ``RETRY_SCALES``. The reader then keeps only
the digits' ink, cuts ink that holds two centres between them (touching
digits, which ``skdigits.reader._touching`` then reads whole), and drops every
group of ink with no centre in it; a picture with no centre at all holds "no digit".

The network is written as an ONNX graph by :func:`finder_onnx` from the
tensors in ``data/finder.safetensors`` (only tensors are read from the file)
and run by ONNX Runtime; ``skdigits.reader._finder_network`` builds the same network
with Keras for training (``benchmarks/train_finder.py``).
"""

import functools

import cv2
import numpy as np

from ..model_files import _onnx_proto as proto
from ._components import labelled
from ._networks import OnnxNetwork, data_path, read_checked_tensors, read_record
from ._paper import stroke_width

__all__ = ["Located", "locate", "finder_input", "finder_onnx", "expected_shapes", "peaks", "centres_in_marks",
           "split_at_centres"]

# Convolutions of the network, in order: (name, filters, dilation). "stem" runs
# at the input's resolution, "downN*" at 1 / 2**N of it, each level after a
# pooling by 2; the decoder's (name, filters, dilation, skip) come back up a
# level at a time, the encoder's features at that level joined on. Its field
# of view, about 200 pixels, holds a digit and its neighbours, or a box of a form.
ENCODER = (("stem", 8, 1), ("down1a", 16, 1), ("down1b", 16, 1), ("down2a", 32, 1), ("down2b", 32, 1),
           ("down3a", 48, 2), ("down3b", 48, 2), ("down4a", 64, 1), ("down4b", 64, 1))
DECODER = (("up3", 48, 1, "down3b"), ("up2", 32, 1, "down2b"), ("up1", 16, 1, "down1b"))
OUTPUTS = 2
BN_EPSILON = 1e-3
# The input's sides are padded to a multiple of this (four poolings by 2).
MULTIPLE = 16
# Strokes are scaled to about this many pixels wide ...
TARGET_STROKE = 3.0
# ... within these bounds of the input's long side (never enlarged past the working size).
MIN_SIDE, MAX_SIDE = 96, 384
# Contrast is given relative to the pen's, capped (a dark blot is no more ink than a stroke).
MAX_CONTRAST = 1.5
# The contrast within this many stroke widths of the rules' ink is given; elsewhere zero.
NEAR_INK = 1.0
# A digit's ink: channel 0 at least this.
INK_PROBABILITY = 0.5
# A digit's centre: a peak of channel 1 at least this high, the highest within
# PEAK_WINDOW cells: a "1" that overlaps its neighbour can have its centre two cells from the neighbour's.
CENTRE_PROBABILITY = 0.4
PEAK_WINDOW = 3
# Where no centre is found, the finder looks again at these factors of the first look's scale: the
# pen's width tells a digit's size only roughly (a thick pen's digit comes out small, a fine pen's large).
RETRY_SCALES = (1.5, 0.67)

FILE = "finder.safetensors"
RECORD = "finder.json"


def expected_shapes():
    """The finder's tensors by name and shape (Keras layout), as ``skdigits.reader._finder_network`` builds them."""
    shapes, channels = {}, 1
    skips = {}
    for name, filters, _ in ENCODER:
        shapes.update(_conv_shapes(name, channels, filters))
        channels = skips[name] = filters
    for name, filters, _, skip in DECODER:
        shapes.update(_conv_shapes(name, channels + skips[skip], filters))
        channels = filters
    shapes["head/kernel"] = (1, 1, channels, OUTPUTS)
    shapes["head/bias"] = (OUTPUTS,)
    return shapes


def _conv_shapes(name, channels, filters):
    return {f"{name}/kernel": (3, 3, channels, filters), **{f"{name}_bn/{v}": (filters,) for v in
                                                              ("gamma", "beta", "moving_mean", "moving_variance")}}


def finder_input(contrast, level, mask, *, jitter=1.0, measured=None):
    """The finder's input: the contrast map relative to the pen's, scaled to strokes of ``TARGET_STROKE`` pixels.

    Only the contrast within ``NEAR_INK`` stroke widths of ``mask`` is kept.

    Parameters
    ----------
    contrast : ndarray (h, w)
        The contrast map at working size (``Ink.contrast``).
    level : float
        The pen's contrast (``Ink.level``).
    mask : ndarray of bool (h, w)
        The ink the rules found (its stroke width sets the scale).
    jitter : float, default=1.0
        A factor on the scale (training varies it, so that the finder does
        not depend on the stroke width being measured exactly).
    measured : ndarray of bool (h, w), default=None
        The ink whose stroke width sets the scale, when not all of ``mask``:
        the marks the rules took for digits (a desk or a shadow in the mask
        would make the strokes seem many times wider than the pen's).

    Returns
    -------
    grid : ndarray of float32 (H, W)
        Padded with zeros at the bottom and right to multiples of ``MULTIPLE``.
    size : (int, int)
        The scaled picture's (width, height) within ``grid``.
    scale : float
        Grid pixels per working pixel.

    Examples
    --------
    >>> import numpy as np
    >>> con = np.zeros((300, 400), np.float32); con[100:200, 150:162] = 0.8
    >>> grid, size, scale = finder_input(con, 0.8, con > 0.4)     # a stroke 12 pixels wide
    >>> grid.shape, size, round(12 * scale, 1)                    # comes out about 3 wide
    ((96, 112), (110, 82), 3.3)
    """
    return _grid(contrast, level, mask, pen_width(mask, measured), jitter)


def pen_width(mask, measured=None):
    """The stroke width that sets the finder's scale: of ``measured`` if it holds ink, else of ``mask``."""
    measured = mask if measured is None or not measured.any() else measured
    return stroke_width(measured) if measured.any() else TARGET_STROKE


def _grid(contrast, level, mask, stroke, jitter):
    """:func:`finder_input` with the pen's width ``stroke`` already measured."""
    height, width = contrast.shape
    scale = jitter * TARGET_STROKE / max(stroke, 1e-6)
    side = min(max(max(height, width) * scale, MIN_SIDE), MAX_SIDE, max(height, width))
    scale = side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    # Scaled first, then divided and capped: the picture at working size is many times the grid.
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    small = cv2.resize(contrast.astype(np.float32, copy=False), size, interpolation=interpolation)
    # Only the ink and a stroke's width around it: what the rules erased (rulings, dots, the
    # paper's texture) is left out, so the finder never learns what one kind of paper looks like.
    # Done at the grid's size, where a stroke is a few pixels: at working size it cost more than the network.
    near = cv2.resize(mask.astype(np.float32), size, interpolation=interpolation) > 0
    reach = max(1, int(round(NEAR_INK * stroke * scale)))
    near = cv2.dilate(near.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1,) * 2))
    grid = np.zeros((-(-size[1] // MULTIPLE) * MULTIPLE, -(-size[0] // MULTIPLE) * MULTIPLE), np.float32)
    grid[:size[1], :size[0]] = np.where(near > 0, np.clip(small / max(level, 1e-6), 0, MAX_CONTRAST), 0)
    return grid, size, scale


def finder_onnx(tensors):
    """The finder as a serialised ONNX model, its weights ``tensors`` (Keras names and layout).

    Input ``grid`` (1, 1, H, W) float32, H and W multiples of ``MULTIPLE``; output
    ``maps`` (1, 2, H / 2, W / 2): the digit-ink probability and the centre heatmap.
    Batch normalisation is folded into each convolution's weights.
    """
    graph = proto.Graph()
    nodes, weights, constant, node = graph.nodes, graph.weights, graph.constant, graph.node

    def conv(x, name, dilation):
        kernel = tensors[f"{name}/kernel"]
        gamma, beta, mean, var = (tensors[f"{name}_bn/{v}"] for v in ("gamma", "beta", "moving_mean",
                                                                      "moving_variance"))
        factor = gamma / np.sqrt(var + BN_EPSILON)
        w = (kernel * factor).transpose(3, 2, 0, 1)  # (h, w, in, out) -> (out, in, h, w)
        b = beta - mean * factor
        x = node("Conv", [x, constant(f"{name}_w", w), constant(f"{name}_b", b)], name,
                 pads=[dilation] * 4, dilations=[dilation, dilation])
        return node("Relu", [x], f"{name}_relu")

    def pool(x, name):
        return node("MaxPool", [x], name, kernel_shape=[2, 2], strides=[2, 2])

    def up(x, name):
        return node("Resize", [x, "", constant(f"{name}_scales", [1, 1, 2, 2])], name, mode="nearest",
                    coordinate_transformation_mode="asymmetric", nearest_mode="floor")

    x, skips = "grid", {}
    for name, _, dilation in ENCODER:
        if name.endswith("a"):
            x = pool(x, f"pool_{name}")
        x = skips[name] = conv(x, name, dilation)
    for name, _, dilation, skip in DECODER:
        x = node("Concat", [up(x, f"up_{name}"), skips[skip]], f"join_{name}", axis=1)
        x = conv(x, name, dilation)
    head = tensors["head/kernel"].transpose(3, 2, 0, 1)
    x = node("Conv", [x, constant("head_w", head), constant("head_b", tensors["head/bias"])], "head")
    nodes.append(proto.node("Sigmoid", [x], ["maps"], "maps"))
    return proto.model(nodes, "skdigits_finder", [proto.value_info("grid", proto.FLOAT, [1, 1, "h", "w"])],
                       [proto.value_info("maps", proto.FLOAT, [1, OUTPUTS, "h2", "w2"])], weights,
                       opset=18, ir_version=8, producer="skdigits")


class Located:
    """What the finder found in a picture, at working size.

    Attributes
    ----------
    zone : ndarray of bool (h, w)
        Where ink belongs to a digit.
    centres : ndarray of float (n, 2)
        Each digit's centre (x, y), left to right.
    """

    def __init__(self, zone, centres):
        self.zone, self.centres = zone, centres


class Finder(OnnxNetwork):
    """The finder network run by ONNX Runtime (see :func:`locate`)."""

    def __init__(self, tensors):
        super().__init__(finder_onnx(tensors))

    def maps(self, grid):
        """The network's two maps (2, H / 2, W / 2) of an input ``grid`` (H, W)."""
        return self.run("maps", "grid", grid)

    def locate(self, contrast, level, mask, measured=None):
        """A :class:`Located` (see :func:`finder_input`), from the first scale at which a centre is found."""
        stroke = pen_width(mask, measured)  # measured once: only the scale changes between looks
        grid, size, scale = _grid(contrast, level, mask, stroke, 1.0)
        # Each look is at a factor of the scale the first one used: a small picture's first
        # grid is held at MIN_SIDE, and a factor on the pen's scale alone gave the same grid again.
        first, seen = scale * stroke / TARGET_STROKE, set()
        for factor in (None, *RETRY_SCALES):
            if factor is not None:
                grid, size, scale = _grid(contrast, level, mask, stroke, first * factor)
            if size in seen:
                continue
            seen.add(size)
            ink, heat = self.maps(grid)
            found = located(ink, heat, size, scale, contrast.shape)
            if len(found.centres):
                break
        return found


def located(ink, heat, size, scale, shape):
    """A :class:`Located` at working ``shape`` from the finder's maps of a picture scaled by ``scale`` to ``size``."""
    half = ((size[1] + 1) // 2, (size[0] + 1) // 2)
    ink, heat = ink[:half[0], :half[1]], heat[:half[0], :half[1]]
    height, width = shape
    zone = cv2.resize(ink, (width, height), interpolation=cv2.INTER_LINEAR) >= INK_PROBABILITY
    rows, cols = np.nonzero(peaks(heat))
    order = np.argsort(cols, kind="stable")
    # Cell (r, c) covers grid pixels 2r..2r+1: its centre is grid pixel 2r + 1, or (2r + 1) / scale in the picture.
    centres = np.stack([(2 * cols[order] + 1) / scale, (2 * rows[order] + 1) / scale], axis=1) if rows.size \
        else np.zeros((0, 2))
    return Located(zone, centres)


def peaks(heat):
    """Where the centre heatmap peaks: at least ``CENTRE_PROBABILITY``, the highest within ``PEAK_WINDOW`` cells."""
    return (heat >= cv2.dilate(heat, np.ones((PEAK_WINDOW, PEAK_WINDOW), np.uint8))) & (heat >= CENTRE_PROBABILITY)


def centres_in_marks(mask, centres):
    """The marks of ``mask`` and which ``centres`` lie in each one's box: (labels, stats, holds).

    ``labels`` and ``stats`` as ``cv2.connectedComponentsWithStats`` gives them
    (mark m is label m, its box ``stats[m, :4]``); ``holds[m - 1, c]``: centre c
    lies in mark m's box. A mark that holds two or more centres holds digits that touch.
    """
    _, labels, stats, _ = labelled(mask.astype(np.uint8))
    x0, y0 = stats[1:, 0, None], stats[1:, 1, None]
    holds = ((centres[:, 0] >= x0) & (centres[:, 0] < x0 + stats[1:, 2, None])
             & (centres[:, 1] >= y0) & (centres[:, 1] < y0 + stats[1:, 3, None]))
    return labels, stats, holds


def split_at_centres(mask, centres, marks=None):
    """``mask`` with each mark that holds two or more ``centres`` cut between them.

    A mark's pixels go to their nearest centre; those that border another
    centre's pixels are removed, which leaves one mark per centre. ``marks``:
    :func:`centres_in_marks` of ``mask`` and ``centres``, if already made.

    Examples
    --------
    >>> import numpy as np
    >>> mask = np.zeros((20, 40), bool); mask[5:15, 5:35] = True    # two digits run together
    >>> import cv2
    >>> cv2.connectedComponents(split_at_centres(mask, np.array([[12., 10.], [28., 10.]])).astype(np.uint8))[0] - 1
    2
    """
    if len(centres) < 2:
        return mask
    labels, stats, holds = centres_in_marks(mask, centres) if marks is None else marks
    out = mask.copy()
    for mark in np.flatnonzero(holds.sum(axis=1) >= 2) + 1:
        x, y, w, h = stats[mark, :4]
        inside = centres[holds[mark - 1]]
        yy, xx = np.mgrid[y:y + h, x:x + w]
        nearest = np.argmin((xx[None] - inside[:, 0, None, None]) ** 2 + (yy[None] - inside[:, 1, None, None]) ** 2,
                            axis=0)
        # A pixel whose neighbour to either side, above or below went to another centre.
        across, down = nearest[:, 1:] != nearest[:, :-1], nearest[1:] != nearest[:-1]
        border = np.zeros((h, w), bool)
        border[:, 1:] |= across
        border[:, :-1] |= across
        border[1:] |= down
        border[:-1] |= down
        out[y:y + h, x:x + w] &= ~(border & (labels[y:y + h, x:x + w] == mark))
    return out


def locate(contrast, level, mask, measured=None):
    """Run the shipped finder on a picture's contrast map: a :class:`Located` (see :func:`finder_input`)."""
    return load_finder().locate(contrast, level, mask, measured)


def finder_path():
    return data_path(FILE)


def finder_record():
    """The record of how the shipped finder was trained (command, revision, seed, data, fit time, scores)."""
    return read_record(RECORD)


@functools.lru_cache(maxsize=1)
def load_finder():
    """The shipped finder, its tensors checked against ``expected_shapes`` and the record's SHA-256."""
    return Finder(read_finder_tensors(finder_path(), finder_record()["tensors_sha256"]))


def read_finder_tensors(path, checksum):
    """A finder file's tensors, checked as a model file's are: names, shapes, dtype, finiteness and ``checksum``."""
    return read_checked_tensors(path, expected_shapes(), checksum, RECORD)
