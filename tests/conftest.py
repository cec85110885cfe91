import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from skdigits import CNNDigitClassifier, load_mnist  # noqa: E402

# The pictures made to cost much are the benchmarks' own, shared with the tests from one place.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "benchmarks"))
from _common import dots, png_bytes, text_chunk_bomb  # noqa: E402, F401 (imported by the tests from here)

# Small, quick settings for the tests that need a trained model.
FAST = dict(epochs=6, batch_size=64, random_state=0)

# `pytest -m "not slow"` leaves out what trains on more than a toy set, starts a server,
# a browser or a process, or runs a benchmark; tests marked one by one carry
# @pytest.mark.slow, these are marked here as a whole.
SLOW_MODULES = {"test_benchmarks.py", "test_web.py", "test_common.py"}
SLOW_FIXTURES = {"mnist_model", "mnist_small", "live_server"}
SLOW_DOCTESTS = {"skdigits.estimator._classifier.CNNDigitClassifier", "skdigits.model_files._model_files.save_model"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if (item.path.name in SLOW_MODULES or item.name in SLOW_DOCTESTS
                or SLOW_FIXTURES & set(getattr(item, "fixturenames", ()))):
            item.add_marker(pytest.mark.slow)


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


@pytest.fixture(scope="session")
def pretrained():
    """The pretrained model shipped with the package."""
    from skdigits import load_pretrained

    return load_pretrained()


@pytest.fixture(scope="session")
def live_server(pretrained):
    """``skdigits serve``'s app on a real uvicorn server, on a free loopback port: its base URL."""
    import threading
    import time

    import uvicorn

    from skdigits.apps._server import create_app, loopback_hosts, uvicorn_options

    # As `skdigits serve` runs it: the same limits on connections and Host names.
    app = create_app(pretrained, description={"source": "pretrained", "file": "pretrained.safetensors"},
                     max_body_bytes=2 * 1024 * 1024, allowed_hosts=loopback_hosts("127.0.0.1"))
    server = uvicorn.Server(uvicorn.Config(app, **uvicorn_options(host="127.0.0.1", port=0)))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def canvas_png(digit, side=280, margin=40, dark_ink=True):
    """An MNIST digit as the web page's pad sends it: a ``side`` square PNG, black ink on white."""
    import io

    import cv2
    from PIL import Image

    big = cv2.resize(np.asarray(digit, dtype=np.uint8), (side - 2 * margin, side - 2 * margin),
                     interpolation=cv2.INTER_LINEAR)
    canvas = np.zeros((side, side), dtype=np.uint8)
    canvas[margin:side - margin, margin:side - margin] = big
    if dark_ink:
        canvas = 255 - canvas
    buffer = io.BytesIO()
    Image.fromarray(canvas).save(buffer, "PNG")
    return buffer.getvalue()


def number_png(digits, height=120, gap=20):
    """MNIST digits written side by side, dark on light paper, as PNG bytes."""
    import io

    import cv2
    from PIL import Image

    side = height - 2 * gap
    width = gap + len(digits) * (side + gap)
    page = np.full((height, width), 240, dtype=np.uint8)
    for i, digit in enumerate(digits):
        big = cv2.resize(np.asarray(digit, dtype=np.uint8), (side, side), interpolation=cv2.INTER_LINEAR)
        left = gap + i * (side + gap)
        page[gap:gap + side, left:left + side] = np.minimum(page[gap:gap + side, left:left + side],
                                                            255 - big)
    buffer = io.BytesIO()
    Image.fromarray(page).save(buffer, "PNG")
    return buffer.getvalue()


def random_batch_statistics(model, rng):
    """Give ``model``'s batch normalisations statistics and scales of their own, so that folding them is tested."""
    for variable in model.weights:
        if "moving_variance" in variable.path or "gamma" in variable.path:
            variable.assign(rng.uniform(0.5, 1.5, variable.shape).astype(np.float32))
        elif "moving_mean" in variable.path or "beta" in variable.path:
            variable.assign(rng.normal(0, 0.2, variable.shape).astype(np.float32))
