"""MNISTPreprocessor: the photo preprocessing as a scikit-learn transformer.

Apart from ``skdigits.reader._images`` so that reading a picture does not import
scikit-learn (most of a second), which only a pipeline needs.
"""

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from ._images import to_mnist

__all__ = ["MNISTPreprocessor"]


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
