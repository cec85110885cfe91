"""Digits found in a picture, and the one JSON shape of a digit (command line, HTTP API, Reading.to_dict)."""

from dataclasses import dataclass

import numpy as np

__all__ = ["plain", "digit_record", "FoundDigits"]


def plain(value):
    """A label as a plain Python value (a NumPy scalar's ``item()``), ready for JSON.

    Examples
    --------
    >>> import numpy as np
    >>> plain(np.int64(7)), plain("seven")
    (7, 'seven')
    """
    return value.item() if isinstance(value, np.generic) else value


def digit_record(classes, proba, box=None):
    """One digit as JSON: ``label``, ``probability``, ``probabilities`` (in ``classes`` order), ``top3`` and ``box``.

    Parameters
    ----------
    classes : sequence
        The model's ``classes_``.
    proba : array-like of shape (n_classes,)
        The model's probabilities for this digit.
    box : (left, top, right, bottom), default=None
        Where the digit lies in the picture's pixels; no ``box`` key when None
        (an image given as an array has none).

    Examples
    --------
    >>> record = digit_record([0, 1, 2], [0.1, 0.7, 0.2], box=(3, 4, 20, 30))
    >>> record["label"], record["probability"], record["box"], [t["label"] for t in record["top3"]]
    (1, 0.7, [3, 4, 20, 30], [1, 2, 0])
    """
    proba = np.asarray(proba, dtype=float)
    top = np.argsort(-proba, kind="stable")[:3]
    record = {"label": plain(classes[top[0]]), "probability": float(proba[top[0]]),
              "probabilities": [float(p) for p in proba],
              "top3": [{"label": plain(classes[i]), "probability": float(proba[i])} for i in top]}
    if box is not None:
        record["box"] = [int(v) for v in box]
    return record


@dataclass
class FoundDigits:
    """Digits found in a picture: 28x28 images and their boxes, left to right.

    Attributes
    ----------
    images : ndarray of shape (n, 28, 28), uint8
        MNIST-style images, as given to the network.
    boxes : list of (left, top, right, bottom)
        Each digit's box in the input picture's pixels.
    size : (int, int)
        The input picture's (width, height) in pixels.
    read : ndarray of shape (n, 10), default=None
        For digits that touch their neighbours, read as a line
        (``skdigits.reader._touching``): the probability of each digit 0-9;
        NaN for the digits a classifier reads from ``images``; None if none
        was read so.
    """

    images: np.ndarray
    boxes: list
    size: tuple
    read: np.ndarray = None

    def probabilities(self, proba, classes):
        """``proba`` (n, n_classes) of a classifier of ``images``, with the digits ``read`` as a line put in.

        The line reader's probabilities replace the classifier's where it
        read a digit, when the classifier's ``classes`` are the ten digits
        (in any order or type); otherwise ``proba`` is returned as it is.
        """
        if self.read is None:
            return proba
        # The digit each column is (the module's plain() keeps a label's type; here only its value counts).
        digits = [int(c) if str(c).isdigit() else None for c in classes]
        if sorted(d for d in digits if d is not None) != list(range(10)) or len(digits) != 10:
            return proba
        out = np.array(proba, dtype=np.float64)
        rows = np.flatnonzero(~np.isnan(self.read[:, 0]))
        out[rows] = self.read[rows][:, digits]
        return out
