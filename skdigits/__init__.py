"""skdigits: a convolutional neural network for handwritten digits, as a scikit-learn classifier."""

import importlib
import os

# TensorFlow's C++ start-up chatter is noise for a scikit-learn user; the user's own setting wins.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from ._version import __version__  # noqa: E402

# Public names and the private modules that define them. They are imported on
# first use, so that `import skdigits` (and the command line's start-up, which
# must silence TensorFlow before importing it) does not import TensorFlow.
_EXPORTS = {
    "CNNDigitClassifier": ".estimator._classifier",
    "ImageError": ".reader._images",
    "MNISTPreprocessor": ".reader._preprocessor",
    "ModelFileError": ".model_files._model_files",
    "Reading": ".reader._reading",
    "find_digits": ".reader._images",
    "load_idx": "._datasets",
    "load_mnist": "._datasets",
    "load_model": ".model_files._model_files",
    "load_pretrained": ".model_files._model_files",
    "pretrained_record": ".model_files._model_files",
    "read_digits": ".reader._reading",
    "read_many": ".reader._bulk",
    "read_image": ".reader._images",
    "save_model": ".model_files._model_files",
    "to_mnist": ".reader._images",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'skdigits' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))
