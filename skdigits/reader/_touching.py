"""Reading digits that touch: the ink of a run of digits read as one line, segmentation-free.

Where two or more digits run together into one mark, no cut between them
gives each digit only its own strokes: they overlap. A small convolutional
network reads the mark whole instead, as a line recogniser does (a CNN
trained with CTC, Connectionist Temporal Classification): the mark's ink,
scaled to ``INK_HEIGHT`` pixels high, is read in columns ``FRAME`` pixels
wide, each column answered with the probability of each digit and of
"nothing new here" (CTC's blank). The labels of the columns, repeats and
blanks dropped, are the digits, however many there are.

The network is written as an ONNX graph by :func:`touching_onnx` from the
tensors in ``data/touching.safetensors`` (only tensors are read from the
file) and run by ONNX Runtime; ``skdigits.reader._touching_network`` builds
the same network with Keras for training (``benchmarks/train_touching.py``).
"""

import functools

import cv2
import numpy as np

from ..model_files import _onnx_proto as proto
from ._networks import OnnxNetwork, data_path, read_checked_tensors, read_record

__all__ = ["strip", "decode", "touching_onnx", "expected_shapes", "load_touching", "touching_marks", "line_marks",
           "mark_patch", "Run"]

# The strip the network reads: ink INK_HEIGHT pixels high in a strip STRIP_HEIGHT high,
# MARGIN pixels of paper before and after it; one output column per FRAME pixels.
STRIP_HEIGHT, INK_HEIGHT, MARGIN, FRAME = 32, 24, 6, 4
# Convolutions: (name, filters, (kernel height, kernel width), pooling after it (height, width) or None).
# Three poolings in height and two in width leave 4 rows of FRAME-pixel columns, which
# "rows" folds into one; "context1" and "context2" then look along the line, about two digits each way.
LAYERS = (("conv1", 16, (3, 3), (2, 2)), ("conv2", 32, (3, 3), (2, 2)), ("conv3a", 64, (3, 3), None),
          ("conv3b", 64, (3, 3), (2, 1)), ("conv4", 96, (3, 3), None))
ROWS = ("rows", 128, (4, 1))
CONTEXT = (("context1", 128, (1, 5)), ("context2", 128, (1, 5)))
CLASSES = 11  # the ten digits, then CTC's blank
BLANK = 10
BN_EPSILON = 1e-3
# Ink at most this fraction of the strongest is not part of the mark's extent.
FAINT = 0.05
# A mark is read at its own width, squeezed and stretched: digits written narrower or
# wider than the training lines' read right at one of them, and the reading most agree on wins.
STRETCHES = (1.0, 0.75, 1.3)

FILE = "touching.safetensors"
RECORD = "touching.json"


def strip(patch, stretch=1.0):
    """A soft ink patch (ink high) as the network reads it: (strip, scale, left).

    Parameters
    ----------
    patch : ndarray (h, w)
        The mark's ink, 0 where there is none.
    stretch : float, default=1.0
        How much more the ink's width is scaled than its height.

    Returns
    -------
    strip : ndarray of float32 (STRIP_HEIGHT, W)
        The ink cropped, scaled to ``INK_HEIGHT`` pixels high, its peak 1,
        with ``MARGIN`` pixels before it; W a multiple of ``FRAME``.
    scale : float
        Strip columns per patch column.
    left : int
        The patch's column at the ink's left edge (strip column ``MARGIN``).

    Examples
    --------
    >>> import numpy as np
    >>> patch = np.zeros((60, 200)); patch[10:58, 20:140] = 0.5
    >>> line, scale, left = strip(patch)
    >>> line.shape, scale, left, float(line.max())
    ((32, 72), 0.5, 20, 1.0)
    >>> strip(patch, stretch=1.5)[0].shape
    (32, 104)
    """
    patch = np.asarray(patch, np.float32)
    peak = float(patch.max()) if patch.size else 0.0
    if peak <= 0:
        raise ValueError("the patch holds no ink")
    rows = np.flatnonzero(patch.max(axis=1) > FAINT * peak)
    cols = np.flatnonzero(patch.max(axis=0) > FAINT * peak)
    ink = patch[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1] / peak
    scale = INK_HEIGHT / ink.shape[0]
    width = max(1, round(ink.shape[1] * scale * stretch))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    ink = cv2.resize(ink, (width, INK_HEIGHT), interpolation=interpolation)
    total = -(-(width + 2 * MARGIN) // FRAME) * FRAME
    out = np.zeros((STRIP_HEIGHT, total), np.float32)
    top = (STRIP_HEIGHT - INK_HEIGHT) // 2
    out[top:top + INK_HEIGHT, MARGIN:MARGIN + width] = np.clip(ink, 0, 1)
    return out, scale * stretch, int(cols[0])


def decode(proba):
    """The digits in a line from its columns' probabilities (T, CLASSES): greedy CTC decoding.

    Returns
    -------
    digits : list of (ndarray (10,), int, int)
        Per digit, left to right: the probability of each digit at the column
        where it is surest (the blank left out, the rest scaled to sum to 1),
        and its first and last column.

    Examples
    --------
    >>> import numpy as np
    >>> columns = np.full((6, 11), 0.01); columns[:, 10] = 0.9           # blank everywhere ...
    >>> columns[1, 10], columns[1, 4] = 0.01, 0.9                        # ... but a 4
    >>> columns[2, 10], columns[2, 4] = 0.01, 0.9                        # (two columns long)
    >>> columns[4, 10], columns[4, 7] = 0.01, 0.9                        # and a 7
    >>> [(int(p.argmax()), first, last) for p, first, last in decode(columns)]
    [(4, 1, 2), (7, 4, 4)]
    """
    best = np.argmax(proba, axis=1)
    digits, start = [], 0
    for t in range(1, len(best) + 1):
        if t == len(best) or best[t] != best[start]:
            if best[start] != BLANK:
                surest = start + int(np.argmax(proba[start:t, best[start]]))
                p = proba[surest, :BLANK] / max(float(proba[surest, :BLANK].sum()), 1e-12)
                digits.append((p, start, t - 1))
            start = t
    return digits


def expected_shapes():
    """The network's tensors by name and shape (Keras layout), as ``_touching_network`` builds them."""
    shapes, channels = {}, 1
    for name, filters, kernel, *_ in (*LAYERS, ROWS, *CONTEXT):
        shapes[f"{name}/kernel"] = (*kernel, channels, filters)
        shapes.update({f"{name}_bn/{v}": (filters,) for v in ("gamma", "beta", "moving_mean", "moving_variance")})
        channels = filters
    shapes["head/kernel"] = (1, 1, channels, CLASSES)
    shapes["head/bias"] = (CLASSES,)
    return shapes


def touching_onnx(tensors):
    """The network as a serialised ONNX model, its weights ``tensors`` (Keras names and layout).

    Input ``strip`` (1, 1, STRIP_HEIGHT, W) float32, W a multiple of ``FRAME``;
    output ``columns`` (1, W / FRAME, CLASSES), each column's probabilities.
    Batch normalisation is folded into each convolution's weights.
    """
    graph = proto.Graph()
    node, constant = graph.node, graph.constant

    def conv(x, name, kernel, same=True):
        weights = tensors[f"{name}/kernel"]
        gamma, beta, mean, var = (tensors[f"{name}_bn/{v}"] for v in ("gamma", "beta", "moving_mean",
                                                                      "moving_variance"))
        factor = gamma / np.sqrt(var + BN_EPSILON)
        w = (weights * factor).transpose(3, 2, 0, 1)  # (h, w, in, out) -> (out, in, h, w)
        b = beta - mean * factor
        pads = [kernel[0] // 2, kernel[1] // 2] * 2 if same else [0, 0, 0, 0]
        x = node("Conv", [x, constant(f"{name}_w", w), constant(f"{name}_b", b)], name, pads=pads)
        return node("Relu", [x], f"{name}_relu")

    x = "strip"
    for name, _, kernel, pool in LAYERS:
        x = conv(x, name, kernel)
        if pool is not None:
            x = node("MaxPool", [x], f"pool_{name}", kernel_shape=list(pool), strides=list(pool))
    x = conv(x, ROWS[0], ROWS[2], same=False)
    for name, _, kernel in CONTEXT:
        x = conv(x, name, kernel)
    head = tensors["head/kernel"].transpose(3, 2, 0, 1)
    x = node("Conv", [x, constant("head_w", head), constant("head_b", tensors["head/bias"])], "head")
    x = node("Squeeze", [x, constant("rows_axis", [2], np.int64)], "one_row")        # (1, CLASSES, T)
    x = node("Transpose", [x], "by_column", perm=[0, 2, 1])                           # (1, T, CLASSES)
    graph.nodes.append(proto.node("Softmax", [x], ["columns"], "columns", axis=2))
    return proto.model(graph.nodes, "skdigits_touching",
                       [proto.value_info("strip", proto.FLOAT, [1, 1, STRIP_HEIGHT, "w"])],
                       [proto.value_info("columns", proto.FLOAT, [1, "t", CLASSES])], graph.weights,
                       opset=18, ir_version=8, producer="skdigits")


class TouchingReader(OnnxNetwork):
    """The network run by ONNX Runtime: :meth:`read` a mark's ink patch."""

    def __init__(self, tensors):
        super().__init__(touching_onnx(tensors))

    def columns(self, line):
        """Each column's probabilities (T, CLASSES) of a ``strip`` (STRIP_HEIGHT, W)."""
        return self.run("columns", "strip", line)

    def read(self, patch):
        """The digits in a mark's ``patch``: list of (probabilities (10,), left, right) in patch columns.

        The mark is read at each of ``STRETCHES``; the reading most of them
        give wins, the surest (its columns' most probable labels) among equals.
        A digit's left and right are halfway to its neighbours' surest columns
        (the ink's ends for the first and the last).
        """
        readings = [self._read_at(patch, stretch) for stretch in STRETCHES]
        texts = [text for text, _, _ in readings]
        return max(readings, key=lambda reading: (texts.count(reading[0]), reading[1]))[2]

    def _read_at(self, patch, stretch):
        """(text, log-probability of its columns' labels, digits) of ``patch`` read at ``stretch``."""
        line, scale, left = strip(patch, stretch)
        columns = self.columns(line)
        digits = decode(columns)
        sure = float(np.log(np.maximum(columns.max(axis=1), 1e-12)).sum())
        if not digits:
            return "", sure, []
        peaks = [(first + last + 1) / 2 * FRAME for _, first, last in digits]
        ink_cols = np.flatnonzero(line.max(axis=0) > FAINT)
        edges = [ink_cols[0]] + [(a + b) / 2 for a, b in zip(peaks, peaks[1:])] + [ink_cols[-1] + 1]
        # Strip column c is patch column left + (c - MARGIN) / scale.
        to_patch = [int(round(left + (e - MARGIN) / scale)) for e in edges]
        text = "".join(str(int(p.argmax())) for p, _, _ in digits)
        return text, sure, [(p, to_patch[k], to_patch[k + 1]) for k, (p, _, _) in enumerate(digits)]


class Run:
    """The digits the line reader read in one mark.

    Attributes
    ----------
    groups : list of int
        The indices of the groups of ink cut from the mark, which these digits replace.
    digits : list of (ndarray (10,), (left, top, right, bottom), ndarray)
        Per digit, left to right: its probabilities, its box in working
        pixels and its ink patch (for its 28x28 image).
    """

    def __init__(self, groups, digits):
        self.groups, self.digits = groups, digits


def touching_marks(ink, marks, labels, stats, groups, reader=None):
    """Read each mark that holds two or more digits as a line: a list of :class:`Run`.

    A mark holds two or more digits where two or more of the finder's
    ``centres`` lie in its box (a mark with one centre is not read so,
    however wide: a flat "0" was read "09"); it is read only if
    groups cut from it are among ``groups`` (groups of components of
    ``labels``), and replaces them only if the reader finds two or more
    digits in it (one: the groups are read as they are).

    Parameters
    ----------
    ink : Ink
        The picture's ink (its contrast map gives each mark's soft ink).
    marks : (labels, stats, holds)
        The marks of the digits' ink before touching digits were cut apart,
        and the finder's centres in each (``_finder.centres_in_marks``).
    labels, stats : ndarray
        The components of the cut ink, which ``groups`` lists: component k is
        label k + 1, its box ``stats[k, :4]`` (``skdigits.reader._groups.digit_groups``).
    groups : list of list of int
        The digits as groups of components, left to right.
    reader : TouchingReader, default=None
        None: the shipped one.
    """
    lines = line_marks(marks)
    if not lines:
        return []
    marks, boxes, _ = marks
    in_line = {}
    for k, group in enumerate(groups):
        for component in group:
            mark = _mark_under(labels, stats, component, marks)
            if mark in lines:
                in_line.setdefault(mark, []).append(k)
                break
    reader = load_touching() if reader is None else reader
    runs = []
    for mark, ks in in_line.items():
        left, top = boxes[mark, :2]
        patch = mark_patch(ink, marks, boxes, mark)
        read = reader.read(patch)
        if len(read) < 2:
            continue
        digits = []
        for p, a, b in read:
            piece = np.zeros_like(patch)
            piece[:, a:b] = patch[:, a:b]
            rows = np.flatnonzero(piece.max(axis=1) > FAINT)
            if rows.size:
                digits.append((p, (int(left + a), int(top + rows[0]), int(left + b), int(top + rows[-1] + 1)), piece))
        runs.append(Run(ks, digits))
    return runs


def line_marks(marks):
    """The labels of the marks read as lines: those that hold two or more centres (``_finder.centres_in_marks``)."""
    return {int(m) + 1 for m in np.flatnonzero(marks[2].sum(axis=1) >= 2)}


def mark_patch(ink, marks, boxes, mark):
    """The soft ink of one mark (label ``mark`` of ``marks``, its box in ``boxes``), cut out of the contrast map.

    Its own pixels and a one-pixel rim (their anti-aliased edges), relative to the pen's contrast.
    """
    left, top, width, height = boxes[mark, :4]
    own = cv2.dilate((marks[top:top + height, left:left + width] == mark).astype(np.uint8), np.ones((3, 3), np.uint8))
    return np.clip(ink.contrast[top:top + height, left:left + width] / max(ink.level, 1e-6), 0, 1) * own


def _mark_under(labels, stats, component, marks):
    """The mark of ``marks`` under ``component`` (label ``component + 1``, box ``stats[component]``)."""
    left, top, width, height = stats[component, :4]
    rows, cols = np.nonzero(labels[top:top + height, left:left + width] == component + 1)
    return int(marks[top + rows[0], left + cols[0]]) if rows.size else 0


def touching_path():
    return data_path(FILE)


def touching_record():
    """The record of how the shipped network was trained (command, revision, seed, data, fit time, scores)."""
    return read_record(RECORD)


@functools.lru_cache(maxsize=1)
def load_touching():
    """The shipped reader of touching digits, its tensors checked against ``expected_shapes`` and its record."""
    return TouchingReader(read_touching_tensors(touching_path(), touching_record()["tensors_sha256"]))


def read_touching_tensors(path, checksum):
    """A file's tensors, checked as a model file's are: names, shapes, dtype, finiteness and ``checksum``."""
    return read_checked_tensors(path, expected_shapes(), checksum, RECORD)
