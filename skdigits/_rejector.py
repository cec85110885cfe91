"""A learned last step of the reader: images that do not look like a digit are not read as one."""

import threading
from importlib import resources

import numpy as np

__all__ = ["THRESHOLD", "not_digits"]

REJECTOR_FILE = "rejector.safetensors"
# An image is "no digit" when the rejector gives that at least this probability:
# on held-out photos, 0.9 refused under 1% of digits' images (rejector.json).
THRESHOLD = 0.9

_model = None
_lock = threading.Lock()


def _rejector():
    """The shipped "digit or not" network, run by ONNX Runtime, loaded once per process (None if absent)."""
    global _model
    with _lock:
        if _model is None:
            from ._model_files import _load

            path = resources.files("skdigits") / "data" / REJECTOR_FILE
            _model = _load(path, "onnx") if path.is_file() else False
    return _model or None


def not_digits(images):
    """Which of the reader's 28x28 images (n, 28, 28) look like no digit: a frame, a box, an edge, a speck.

    Returns all False when this installation has no rejector file.

    Examples
    --------
    >>> import numpy as np
    >>> from skdigits import load_mnist
    >>> _, X_test, _, _ = load_mnist(n_test=3, random_state=0)
    >>> frame = np.zeros((28, 28), np.uint8); frame[4:24, 4:24] = 255; frame[7:21, 7:21] = 0
    >>> not_digits(np.concatenate([X_test, frame[None]])).tolist()
    [False, False, False, True]
    """
    images = np.asarray(images)
    model = _rejector()
    if model is None or len(images) == 0:
        return np.zeros(len(images), dtype=bool)
    none = list(model.classes_).index("none")
    return model.predict_proba(images)[:, none] > THRESHOLD
