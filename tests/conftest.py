import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from skdigits import CNNDigitClassifier, load_mnist  # noqa: E402

# Small, quick settings for the tests that need a trained model.
FAST = dict(epochs=6, batch_size=64, random_state=0)


@pytest.fixture(scope="session")
def digits():
    """scikit-learn's 8x8 digits (pixels 0..16), split 75/25."""
    X, y = load_digits(return_X_y=True)
    return train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)


@pytest.fixture(scope="session")
def mnist_small():
    """A stratified 3,000 / 1,000 subset of MNIST, raw uint8 28x28 images."""
    return load_mnist(n_train=3000, n_test=1000, random_state=0)


@pytest.fixture(scope="session")
def fitted_digits(digits):
    """A classifier fitted once on the digits, shared by read-only tests."""
    X_train, _, y_train, _ = digits
    return CNNDigitClassifier(**FAST).fit(X_train, y_train)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def mnist_model(mnist_small):
    """A CNN trained briefly on the MNIST subset (about 95% accurate)."""
    X_train, _, y_train, _ = mnist_small
    return CNNDigitClassifier(epochs=3, batch_size=64, random_state=0).fit(X_train, y_train)


class _Bomb:
    """Unpickling this runs ``touch SENTINEL``: what a malicious model file would do."""

    def __init__(self, sentinel):
        self.sentinel = str(sentinel)

    def __reduce__(self):
        return (os.system, (f"touch {self.sentinel}",))


@pytest.fixture
def pickle_bomb(tmp_path):
    """(path of a pickle that creates a file when loaded, path of that file)."""
    import pickle

    sentinel = tmp_path / "SENTINEL"
    bomb = tmp_path / "model.joblib"
    bomb.write_bytes(pickle.dumps(_Bomb(sentinel)))
    return bomb, sentinel
