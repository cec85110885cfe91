"""Reading a written number: find the digits in a picture, classify each, join them."""

from dataclasses import dataclass

import numpy as np

from ..model_files._model_files import load_pretrained
from ._images import find_digits
from ._records import digit_record, plain

__all__ = ["read_digits", "Reading"]


@dataclass
class Reading:
    """What :func:`read_digits` read in one picture.

    Attributes
    ----------
    boxes : list of (left, top, right, bottom)
        Each digit's box, in the picture's pixels, left to right.
    images : ndarray of shape (n_digits, 28, 28), uint8
        The MNIST-style images given to the network.
    proba : ndarray of shape (n_digits, n_classes)
        The model's probabilities of every class, for each digit.
    classes : list
        The model's classes, in the columns' order of ``proba``.
    labels : list
        Each digit's predicted label (its most probable class).
    probabilities : list of float
        The model's probability of each predicted label.
    text : str
        The labels of the digits, left to right, joined.

    Examples
    --------
    >>> import numpy as np
    >>> reading = Reading([(0, 0, 10, 20), (12, 0, 22, 20)], np.zeros((2, 28, 28), np.uint8),
    ...                   np.array([[0.1, 0.9, 0.0], [0.0, 0.2, 0.8]]), [3, 4, 2])
    >>> reading.text, reading.probabilities, reading.to_dict()["digits"][1]["top3"][0]
    ('42', [0.9, 0.8], {'label': 2, 'probability': 0.8})
    """

    boxes: list
    images: np.ndarray
    proba: np.ndarray
    classes: list

    @property
    def labels(self):
        return [self.classes[i] for i in np.argmax(self.proba, axis=1)]

    @property
    def probabilities(self):
        return [float(p) for p in np.max(self.proba, axis=1)]

    @property
    def text(self):
        return "".join(str(label) for label in self.labels)

    def to_dict(self):
        """JSON-ready: ``text`` and ``digits``, each in the one shape of a digit (:func:`digit_record`)."""
        return {"text": self.text,
                "digits": [digit_record(self.classes, p, box) for p, box in zip(self.proba, self.boxes)]}

    def __repr__(self):
        return f"Reading(text={self.text!r}, probabilities={[round(p, 3) for p in self.probabilities]})"


def read_digits(image, model=None, *, invert="auto", learned=True):
    """Read the digits written left to right in a picture (a number, or one digit).

    The picture's ink is found (see :func:`skdigits.to_mnist`), split into
    digits (by the learned finder, which tells digits from frames, boxes and
    edges: see :func:`skdigits.find_digits`), ordered left to right; each is
    made an MNIST-style image and classified. Digits that run together into
    one mark are read whole by the line reader, whose probabilities replace
    the classifier's for them when its classes are the ten digits.

    Parameters
    ----------
    image : str, path-like, bytes, PIL.Image.Image or array-like
        A photo or scan of a number written left to right.
    model : fitted classifier, default=None
        Any fitted classifier of 28x28 MNIST-style images with
        ``predict_proba`` and ``classes_``; None uses the pretrained model,
        run by ONNX Runtime (``load_pretrained(runtime="onnx")``: no TensorFlow).
    invert : "auto" or bool, default="auto"
        Whether the ink is dark on light paper; see :func:`skdigits.to_mnist`.
    learned : bool, default=True
        Whether the learned finder is used (see :func:`skdigits.find_digits`);
        False: the rules alone.

    Returns
    -------
    reading : Reading
        ``text``, and per digit its label, probability, box and 28x28 image.

    Raises
    ------
    ImageError
        If the picture cannot be read, or holds no ink or no digit.

    Examples
    --------
    >>> import numpy as np
    >>> from skdigits import load_mnist, read_digits
    >>> _, X_test, _, y_test = load_mnist(n_test=3, random_state=0)
    >>> page = np.full((80, 200), 240, dtype=np.uint8)          # light paper
    >>> for i, digit in enumerate(X_test):                      # three digits, dark ink
    ...     page[10:66, 20 + 60 * i:76 + 60 * i] -= (np.kron(digit, np.ones((2, 2))) * 0.85).astype(np.uint8)
    >>> reading = read_digits(page)
    >>> reading.text == "".join(map(str, y_test)), len(reading.boxes)
    (True, 3)
    """
    if model is None:
        model = load_pretrained(runtime="onnx")
    found = find_digits(image, invert=invert, learned=learned)
    proba = found.probabilities(model.predict_proba(found.images), model.classes_)
    return Reading(found.boxes, found.images, proba, [plain(c) for c in model.classes_])
