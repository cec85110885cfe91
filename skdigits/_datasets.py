"""Offline MNIST and the IDX file format it is distributed in."""

import gzip
import os
from importlib import resources

import numpy as np
from sklearn.model_selection import train_test_split

__all__ = ["load_mnist", "load_idx"]

# IDX type codes (third byte of the magic number) -> big-endian numpy dtype.
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _subset(X, y, n, random_state, name):
    """A stratified, seeded subset of ``n`` rows, or everything when ``n`` is None."""
    if n is None or n == len(y):
        return X, y
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or not 0 < n <= len(y):
        raise ValueError(f"{name} must be an integer in [1, {len(y)}] or None, got {n!r}.")
    if n < 10:
        # Too few rows to hold one of each digit: a plain seeded draw.
        idx = np.random.default_rng(random_state).choice(len(y), size=n, replace=False)
        return X[np.sort(idx)], y[np.sort(idx)]
    X_sub, _, y_sub, _ = train_test_split(
        X, y, train_size=n, stratify=y, random_state=random_state
    )
    return X_sub, y_sub


def load_mnist(*, flatten=False, n_train=None, n_test=None, random_state=0):
    """Load the MNIST digits that ship inside the package.

    The canonical split of 60,000 training and 10,000 test images, read from
    the copy of ``mnist.npz`` bundled as package data: nothing is downloaded.

    Parameters
    ----------
    flatten : bool, default=False
        Return X as ``(n, 784)`` rows instead of ``(n, 28, 28)`` images.
    n_train, n_test : int or None, default=None
        Return a stratified random subset of this many training / test images
        instead of the whole split.
    random_state : int, default=0
        Seed for the subsets; ignored when both ``n_train`` and ``n_test`` are None.

    Returns
    -------
    X_train, X_test : ndarray of uint8
        Pixel intensities 0..255, white digit on black.
    y_train, y_test : ndarray of uint8
        Digit labels 0..9.

    Examples
    --------
    >>> from skdigits import load_mnist
    >>> X_train, X_test, y_train, y_test = load_mnist()
    >>> X_train.shape, X_test.shape, X_train.dtype
    ((60000, 28, 28), (10000, 28, 28), dtype('uint8'))
    >>> X_train, _, y_train, _ = load_mnist(flatten=True, n_train=1000)
    >>> X_train.shape, sorted(set(y_train.tolist())) == list(range(10))
    ((1000, 784), True)
    """
    with resources.files("skdigits").joinpath("data", "mnist.npz").open("rb") as fh:
        with np.load(fh) as data:
            X_train, y_train = data["x_train"], data["y_train"]
            X_test, y_test = data["x_test"], data["y_test"]
    X_train, y_train = _subset(X_train, y_train, n_train, random_state, "n_train")
    X_test, y_test = _subset(X_test, y_test, n_test, random_state, "n_test")
    if flatten:
        X_train = X_train.reshape(len(X_train), -1)
        X_test = X_test.reshape(len(X_test), -1)
    return X_train, X_test, y_train, y_test


def load_idx(path):
    """Read an IDX file, plain or gzip-compressed, into a numpy array.

    IDX is the format in which MNIST, EMNIST and Fashion-MNIST are
    distributed: two zero bytes, a type code, the number of dimensions, one
    big-endian 32-bit size per dimension, then the data in C order.

    Parameters
    ----------
    path : str or path-like
        The file; a name ending in ``.gz`` or a file starting with gzip's magic
        bytes is decompressed.

    Returns
    -------
    array : ndarray
        Of the file's shape and its dtype in native byte order
        (``uint8`` for MNIST images and labels).

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the file is not IDX (wrong magic number, unknown type code) or is
        truncated or has trailing bytes.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from skdigits import load_idx
    >>> path = os.path.join(tempfile.mkdtemp(), "labels.idx1-ubyte")
    >>> with open(path, "wb") as fh:
    ...     _ = fh.write(bytes([0, 0, 0x08, 1, 0, 0, 0, 3, 7, 2, 1]))
    >>> load_idx(path)
    array([7, 2, 1], dtype=uint8)
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"IDX file {path!r} does not exist.")
    with open(path, "rb") as fh:
        raw = fh.read()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise ValueError(f"IDX file {path!r}: corrupt gzip data ({exc}).") from None
    if len(raw) < 4:
        raise ValueError(f"IDX file {path!r} is truncated: {len(raw)} bytes, no complete header.")
    if raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(
            f"IDX file {path!r} has a wrong magic number {raw[:4].hex()}: expected two zero "
            f"bytes, a type code in {sorted(hex(c) for c in _IDX_DTYPES)} and a dimension count."
        )
    dtype, ndim = _IDX_DTYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise ValueError(
            f"IDX file {path!r} is truncated or malformed: header declares {ndim} dimensions "
            f"but the file has {len(raw)} bytes."
        )
    shape = tuple(int(s) for s in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        problem = "truncated" if len(raw) < expected else "longer than its header says"
        raise ValueError(
            f"IDX file {path!r} is {problem}: shape {shape} of {dtype.name} needs "
            f"{expected} bytes, the file has {len(raw)}."
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))
