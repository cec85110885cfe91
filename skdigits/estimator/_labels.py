"""Class labels <-> the one-hot targets and softmax outputs of the network."""

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin


class OneHotLabels(TransformerMixin, BaseEstimator):
    """Encode any class labels as one-hot rows; decode softmax rows to labels.

    Used as the estimator's scikeras ``target_encoder``. One-hot targets serve
    both costs of the report: categorical cross-entropy and the MSE between
    the softmax output and the one-hot label.
    """

    def fit(self, y):
        self.classes_ = np.unique(y)
        return self

    def transform(self, y):
        codes = np.searchsorted(self.classes_, y)
        codes = np.clip(codes, 0, len(self.classes_) - 1)
        unknown = self.classes_[codes] != y
        if np.any(unknown):
            raise ValueError(f"y contains labels not seen in fit: {np.unique(np.asarray(y)[unknown])[:5]}.")
        return np.eye(len(self.classes_), dtype=np.float32)[codes]

    def inverse_transform(self, proba, return_proba=False):
        if return_proba:
            return proba
        return self.classes_[np.argmax(proba, axis=1)]

    def get_metadata(self):
        # scikeras copies these onto the estimator after fitting the encoder.
        return {
            "classes_": self.classes_,
            "n_classes_": len(self.classes_),
            "n_outputs_": 1,
            "n_outputs_expected_": 1,
        }
