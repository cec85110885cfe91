"""skdigits: a convolutional neural network for handwritten digits, as a scikit-learn classifier."""

import os

# TensorFlow's C++ start-up chatter is noise for a scikit-learn user; the user's own setting wins.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from ._classifier import CNNDigitClassifier  # noqa: E402
from ._datasets import load_idx, load_mnist  # noqa: E402
from ._images import ImageError, MNISTPreprocessor, read_image, to_mnist  # noqa: E402
from ._version import __version__  # noqa: E402

__all__ = [
    "CNNDigitClassifier",
    "ImageError",
    "MNISTPreprocessor",
    "load_idx",
    "load_mnist",
    "read_image",
    "to_mnist",
    "__version__",
]
