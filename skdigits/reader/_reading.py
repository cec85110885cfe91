"""Reading a written number: find the digits in a picture, classify each, join them."""

import numpy as np

from ..model_files._model_files import load_pretrained
from ._images import find_digits

__all__ = ["read_digits", "Reading"]


class Reading:
    """What :func:`read_digits` read in one picture.

    Attributes
    ----------
    text : str
        The labels of the digits, left to right, joined.
    labels : list
        Each digit's predicted label (from the model's ``classes_``).
    probabilities : list of float
        The model's probability of each predicted label.
    boxes : list of (left, top, right, bottom)
        Each digit's box, in the picture's pixels.
    images : ndarray of shape (n_digits, 28, 28), uint8
        The MNIST-style images given to the network.
    """

    def __init__(self, labels, probabilities, boxes, images):
        self.labels = labels
        self.probabilities = probabilities
        self.boxes = boxes
        self.images = images
        self.text = "".join(str(label) for label in labels)

    def to_dict(self):
        """JSON-ready: ``text`` and ``digits`` (each with ``label``, ``probability`` and ``box``)."""
        return {
            "text": self.text,
            "digits": [
                {"label": label, "probability": probability, "box": list(box)}
                for label, probability, box in zip(self.labels, self.probabilities, self.boxes)
            ],
        }

    def __repr__(self):
        return f"Reading(text={self.text!r}, probabilities={[round(p, 3) for p in self.probabilities]})"


def read_digits(image, model=None, *, invert="auto", learned=False):
    """Read the digits written left to right in a picture (a number, or one digit).

    The picture's ink is found (see :func:`skdigits.to_mnist`), split into
    digits (with ``learned=True``, by the learned finder, which also cuts
    touching digits apart: see :func:`skdigits.find_digits`), ordered left
    to right; each is made an MNIST-style image and classified.

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
    learned : bool, default=False
        Whether the learned finder is used (see :func:`skdigits.find_digits`).

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
    proba = model.predict_proba(found.images)
    best = np.argmax(proba, axis=1)
    labels = [model.classes_[i].item() if hasattr(model.classes_[i], "item") else model.classes_[i] for i in best]
    probabilities = [float(proba[row, i]) for row, i in enumerate(best)]
    return Reading(labels, probabilities, found.boxes, found.images)
