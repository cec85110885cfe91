"""One JSON shape for a digit, shared by the command line, the HTTP API and :meth:`Reading.to_dict`."""

import numpy as np

__all__ = ["plain", "digit_record"]


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
