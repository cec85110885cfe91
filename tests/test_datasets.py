import gzip
import hashlib
from importlib import resources

import numpy as np
import pytest

from skdigits import load_idx, load_mnist

# The identifying checks of shared/data/README.md.
SHA256 = "06af5dfe73b70e3bc1c36439982b18a8d76803db9b544f6fdf838a37fbb01b64"
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(scope="module")
def mnist():
    return load_mnist()


def test_bundled_file_is_the_canonical_mnist():
    data = resources.files("skdigits").joinpath("data", "mnist.npz").read_bytes()
    assert hashlib.sha256(data).hexdigest() == SHA256


def test_mnist_shapes_and_dtypes(mnist):
    X_train, X_test, y_train, y_test = mnist
    assert X_train.shape == (60000, 28, 28) and X_test.shape == (10000, 28, 28)
    assert y_train.shape == (60000,) and y_test.shape == (10000,)
    for a in mnist:
        assert a.dtype == np.uint8
    assert X_train.min() == 0 and X_train.max() == 255


def test_mnist_identifying_statistics(mnist):
    X_train, X_test, y_train, y_test = mnist
    assert X_train.mean() == pytest.approx(33.318421449829934, rel=1e-12)
    assert X_train.std() == pytest.approx(78.56748998339798, rel=1e-9)
    assert X_test.mean() == pytest.approx(33.791224489795916, rel=1e-12)
    assert np.bincount(y_train).tolist() == TRAIN_COUNTS
    assert np.bincount(y_test).tolist() == TEST_COUNTS
    assert y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert y_test[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


def test_white_digit_on_black(mnist):
    X_train = mnist[0]
    # The border is background: black (a few digits touch it) for white-on-black digits.
    assert X_train[:, 0, :].mean() < 0.5 and X_train[:, :, 0].mean() < 0.5
    assert X_train[:, 14, 14].mean() > 100


def test_flatten():
    X_train, X_test, _, _ = load_mnist(flatten=True)
    assert X_train.shape == (60000, 784) and X_test.shape == (10000, 784)
    assert X_train.flags["C_CONTIGUOUS"]


def test_stratified_seeded_subsets():
    a = load_mnist(n_train=500, n_test=200, random_state=1)
    b = load_mnist(n_train=500, n_test=200, random_state=1)
    c = load_mnist(n_train=500, n_test=200, random_state=2)
    assert a[0].shape == (500, 28, 28) and a[1].shape == (200, 28, 28)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[2], c[2])
    # Stratified: class proportions follow the full training set's within one image.
    expected = np.array(TRAIN_COUNTS) / 60000 * 500
    assert np.all(np.abs(np.bincount(a[2], minlength=10) - expected) <= 1)


@pytest.mark.parametrize("n", [0, -5, 60001, 2.5, "100", True])
def test_bad_subset_size(n):
    with pytest.raises(ValueError, match="n_train"):
        load_mnist(n_train=n)


def _idx_bytes(array, code=0x08):
    header = bytes([0, 0, code, array.ndim]) + b"".join(
        int(s).to_bytes(4, "big") for s in array.shape
    )
    return header + array.tobytes()


def test_idx_images_round_trip(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    path = tmp_path / "images-idx3-ubyte"
    path.write_bytes(_idx_bytes(images))
    out = load_idx(path)
    assert out.dtype == np.uint8 and out.shape == (5, 28, 28)
    np.testing.assert_array_equal(out, images)


def test_idx_gzip(tmp_path):
    labels = np.array([5, 0, 4, 1, 9], dtype=np.uint8)
    path = tmp_path / "labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(_idx_bytes(labels)))
    np.testing.assert_array_equal(load_idx(str(path)), labels)


@pytest.mark.parametrize(
    "code, dtype", [(0x09, ">i1"), (0x0B, ">i2"), (0x0C, ">i4"), (0x0D, ">f4"), (0x0E, ">f8")]
)
def test_idx_other_dtypes_in_native_order(tmp_path, code, dtype):
    values = np.arange(-3, 3).reshape(2, 3).astype(dtype)
    path = tmp_path / "values.idx"
    path.write_bytes(_idx_bytes(values, code))
    out = load_idx(path)
    assert out.dtype.isnative and out.dtype.kind == np.dtype(dtype).kind
    np.testing.assert_array_equal(out, values.astype(out.dtype))


def test_idx_matches_bundled_mnist(tmp_path, mnist):
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(_idx_bytes(mnist[1][:100])))
    np.testing.assert_array_equal(load_idx(path), mnist[1][:100])


def test_idx_missing_file(tmp_path):
    missing = tmp_path / "nope.idx"
    with pytest.raises(FileNotFoundError, match="nope.idx"):
        load_idx(missing)


def test_idx_wrong_magic(tmp_path):
    path = tmp_path / "picture.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    with pytest.raises(ValueError, match=r"picture\.png.*wrong magic number"):
        load_idx(path)


def test_idx_unknown_type_code(tmp_path):
    path = tmp_path / "odd.idx"
    path.write_bytes(bytes([0, 0, 0x07, 1, 0, 0, 0, 1, 1]))
    with pytest.raises(ValueError, match="wrong magic number"):
        load_idx(path)


def test_idx_truncated_data(tmp_path):
    images = np.zeros((3, 28, 28), dtype=np.uint8)
    path = tmp_path / "short.idx"
    path.write_bytes(_idx_bytes(images)[:-10])
    with pytest.raises(ValueError, match=r"short\.idx.*truncated"):
        load_idx(path)


def test_idx_truncated_header(tmp_path):
    path = tmp_path / "header.idx"
    path.write_bytes(bytes([0, 0, 0x08, 3, 0, 0]))
    with pytest.raises(ValueError, match="truncated"):
        load_idx(path)
    path.write_bytes(bytes([0, 0]))
    with pytest.raises(ValueError, match="truncated"):
        load_idx(path)


def test_idx_trailing_bytes(tmp_path):
    path = tmp_path / "long.idx"
    path.write_bytes(_idx_bytes(np.zeros(4, dtype=np.uint8)) + b"extra")
    with pytest.raises(ValueError, match="longer than its header says"):
        load_idx(path)


def test_idx_corrupt_gzip(tmp_path):
    path = tmp_path / "bad.gz"
    path.write_bytes(gzip.compress(_idx_bytes(np.zeros(50, dtype=np.uint8)))[:20])
    with pytest.raises(ValueError, match=r"bad\.gz.*corrupt gzip"):
        load_idx(path)
