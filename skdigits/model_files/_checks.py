"""Checks on a model file before anything is built from it: its header, parameters, sizes and tensors.

Every number is finite and within bounds, the tensors' names and shapes are compared
with those the parameters imply, and their SHA-256 with the one stored in the header.
"""

import hashlib
import json
import math
import numbers
import os
import warnings

import numpy as np

from ..estimator._architecture import ESTIMATOR_PARAMS, ROUTED_PREFIXES

FORMAT = "skdigits-cnn"
# Version 2 added "tensors_sha256"; version 1 files still load, with a warning.
FORMAT_VERSION = 2
METADATA_KEY = "skdigits"

# The header of a default model is about 2 KB; a long history adds ~100 bytes an epoch.
MAX_HEADER_BYTES = 1 << 20

_HEADER_KEYS = {1: {"format", "format_version", "written_by", "params", "fitted"}}
_HEADER_KEYS[2] = _HEADER_KEYS[1] | {"tensors_sha256"}
_FITTED_KEYS = {"classes", "n_features_in", "image_shape", "pixel_mean", "pixel_std", "history"}
_LABEL_TYPES = {"int": numbers.Integral, "str": str, "bool": bool, "float": numbers.Real}
# Parameters the estimator gained after format version 1 was first written, and
# the value that reproduces how a file without them was trained. Any other
# missing parameter is an error.
_PARAMS_ADDED = {"warm_start": False, "tta": False, "augment_ink": False}

# Bounds on what a model file may ask the builder for, checked before anything
# is built: far above any network that reads digits (the default is 32 filters,
# 3 blocks, 3x3 kernels, 128 units), far below what would exhaust memory.
SIZE_LIMITS = {"filters": 4096, "conv_blocks": 12, "kernel_size": 64, "dense_units": 65536}
MAX_IMAGE_SIDE = 4096
MAX_CLASSES = 100_000
# Pixel statistics: any real images' mean and spread lie well within these.
PIXEL_MEAN_LIMIT = 1e6
PIXEL_STD_RANGE = (1e-6, 1e6)
# Integers in a header must fit the int64 labels and shapes they become.
_INT64 = 2**63


class ModelFileError(ValueError):
    """A file that is not a valid skdigits model; the message names the problem."""


def tensors_sha256(tensors):
    """A SHA-256 of named tensors: each one's name, dtype, shape and bytes, in order of name.

    It depends on the tensors only, not on how a file lays them out.

    Examples
    --------
    >>> import numpy as np
    >>> a = tensors_sha256({"w": np.zeros(3, np.float32)})
    >>> a == tensors_sha256({"w": np.zeros(3, np.float32)}), a == tensors_sha256({"w": np.ones(3, np.float32)})
    (True, False)
    """
    digest = hashlib.sha256()
    for name in sorted(tensors):
        tensor = np.ascontiguousarray(tensors[name])
        digest.update(json.dumps([name, tensor.dtype.str, list(tensor.shape)]).encode())
        digest.update(tensor.tobytes())
    return digest.hexdigest()


def describe_file(head):
    """A few words on what a file is, from its first bytes (for error messages)."""
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return "a Python pickle (such as a joblib file)"
    if head.startswith(b"PK\x03\x04"):
        return "a zip archive (such as a Keras .keras file or a NumPy .npz)"
    if head.startswith(b"\x93NUMPY"):
        return "a NumPy .npy array"
    if head.startswith(b"\x89HDF"):
        return "an HDF5 file (such as a Keras .h5 model)"
    if head.startswith((b"\x89PNG", b"\xff\xd8\xff")):
        return "an image"
    return None


def _fail(path, problem):
    return ModelFileError(f"{path}: {problem}")


def _read_header(path):
    with open(path, "rb") as file:
        head = file.read(8)
        size = os.fstat(file.fileno()).st_size
        kind = describe_file(head + file.read(8))
        if kind is not None:
            pickle_hint = ""
            if "pickle" in kind:
                pickle_hint = (
                    "; pickles can run code when loaded, so skdigits does not open them. If you made "
                    "this model or trust it, convert it once with: skdigits convert OLD NEW"
                )
            raise _fail(path, f"is {kind}, not a skdigits model file{pickle_hint}")
        if len(head) < 8:
            raise _fail(path, f"is truncated or not a skdigits model file ({size} bytes)")
        length = int.from_bytes(head, "little")
        if length > MAX_HEADER_BYTES:
            raise _fail(
                path,
                f"header of {length:,} bytes is over the {MAX_HEADER_BYTES:,}-byte limit: "
                "not a skdigits model file, or a damaged one",
            )
        if 8 + length > size:
            raise _fail(path, f"is truncated: its header needs {length:,} bytes, the file has {size - 8:,}")
        file.seek(8)
        raw = file.read(length)
    try:
        outer = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise _fail(path, "is not a safetensors file (its header is not JSON)") from None
    except RecursionError:
        raise _fail(path, "is not a skdigits model file (its header nests too deeply)") from None
    meta = outer.get("__metadata__") if isinstance(outer, dict) else None
    if not isinstance(meta, dict) or METADATA_KEY not in meta:
        raise _fail(path, "is a safetensors file without skdigits's header: not a skdigits model")
    if not isinstance(meta[METADATA_KEY], str):
        raise _fail(path, f"skdigits header must be a JSON string, got {type(meta[METADATA_KEY]).__name__}")
    try:
        header = json.loads(meta[METADATA_KEY], parse_constant=_refuse_constant, parse_float=_finite_float,
                            parse_int=_int64)
    except json.JSONDecodeError as exc:
        raise _fail(path, f"skdigits header is not valid JSON ({exc})") from None
    except ValueError as exc:
        raise _fail(path, f"skdigits header holds {exc}") from None
    except RecursionError:
        raise _fail(path, "skdigits header nests too deeply to be a model's") from None
    if not isinstance(header, dict):
        raise _fail(path, f"skdigits header must be a JSON object, got {type(header).__name__}")
    version = header.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise _fail(path, f"format_version must be a positive integer, got {version!r}")
    if version > FORMAT_VERSION:
        raise _fail(
            path,
            f"was written in format version {version}; this skdigits reads up to version "
            f"{FORMAT_VERSION}: upgrade skdigits",
        )
    _check_keys(path, "header", header, _HEADER_KEYS[version])
    if header["format"] != FORMAT:
        raise _fail(path, f"format is {header['format']!r}, not {FORMAT!r}")
    checksum = header.get("tensors_sha256")
    if version >= 2 and not (isinstance(checksum, str) and len(checksum) == 64
                             and all(c in "0123456789abcdef" for c in checksum)):
        raise _fail(path, f"tensors_sha256 must be 64 lower-case hex digits, got {checksum!r}")
    written_by = header["written_by"]
    if not isinstance(written_by, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in written_by.items()
    ):
        raise _fail(path, "written_by must map names to version strings")
    return header


def _refuse_constant(name):
    raise ValueError(f"a {name} value; model files hold finite numbers only")


def _finite_float(text):
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]}, too large for a float; model files hold finite numbers only")
    return value


def _int64(text):
    if len(text.lstrip("-")) > 19 or not -_INT64 <= int(text) < _INT64:
        raise ValueError(f"the integer {text[:40]}, beyond 64 bits")
    return int(text)


def _check_keys(path, where, mapping, expected):
    if not isinstance(mapping, dict):
        raise _fail(path, f"{where} must be a JSON object, got {type(mapping).__name__}")
    unknown = sorted(set(mapping) - expected)
    missing = sorted(expected - set(mapping))
    if unknown:
        raise _fail(path, f"unknown key(s) in {where}: {unknown}")
    if missing:
        raise _fail(path, f"missing key(s) in {where}: {missing}")


def _checked_params(path, params):
    """The estimator's parameters from a file, checked as the estimator checks them (without importing it)."""
    from types import SimpleNamespace

    from ..estimator._validation import check_params

    if not isinstance(params, dict):
        raise _fail(path, f"params must be a JSON object, got {type(params).__name__}")
    routed = {key for key in params if key.startswith(tuple(p + "__" for p in ROUTED_PREFIXES))}
    params = {**{k: v for k, v in _PARAMS_ADDED.items() if k not in params}, **params}
    _check_keys(path, "params", {k: v for k, v in params.items() if k not in routed}, set(ESTIMATOR_PARAMS))
    values = {}
    for key, value in params.items():
        if isinstance(value, list):
            if not all(item is None or isinstance(item, (bool, int, float, str)) for item in value):
                raise _fail(path, f"parameter {key} holds a list of non-scalars")
            value = tuple(value)
        elif not (value is None or isinstance(value, (bool, int, float, str))):
            raise _fail(path, f"parameter {key} must be a number, string, boolean or null")
        values[key] = value
    if values.get("callbacks") is not None:
        raise _fail(path, "parameter callbacks must be null (callbacks are code and are never stored)")
    random_state = values.get("random_state")
    if random_state is not None and (not isinstance(random_state, int) or isinstance(random_state, bool)):
        raise _fail(path, f"parameter random_state must be an integer or null, got {random_state!r}")
    params = SimpleNamespace(**values)
    try:
        check_params(params)
        if not isinstance(params.tta, bool):
            raise TypeError(f"tta must be True or False, got {params.tta!r}.")
    except (TypeError, ValueError) as exc:
        raise _fail(path, f"invalid parameters: {exc}") from None
    return params


def _check_fitted(path, fitted):
    _check_keys(path, "fitted", fitted, _FITTED_KEYS)
    classes = fitted["classes"]
    _check_keys(path, "fitted.classes", classes, {"type", "values"})
    kind, values = classes["type"], classes["values"]
    if not isinstance(kind, str) or kind not in _LABEL_TYPES:
        raise _fail(path, f"class label type must be one of {sorted(_LABEL_TYPES)}, got {kind!r}")
    expected = _LABEL_TYPES[kind]
    if not isinstance(values, list) or not all(
        isinstance(v, expected) and (kind == "bool" or not isinstance(v, bool)) for v in values
    ):
        raise _fail(path, f"class labels must be a list of {kind} values")
    labels = np.asarray(values, dtype={"int": np.int64, "bool": bool, "float": np.float64}.get(kind))
    if len(labels) < 2:
        raise _fail(path, f"a classifier needs at least 2 class labels, the file lists {len(labels)}")
    if len(np.unique(labels)) != len(labels) or not np.array_equal(np.unique(labels), labels):
        raise _fail(path, "class labels must be distinct and sorted")
    shape = fitted["image_shape"]
    if not (isinstance(shape, list) and len(shape) == 2
            and all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in shape)):
        raise _fail(path, f"image_shape must be two positive integers, got {shape!r}")
    n_features = fitted["n_features_in"]
    if n_features != shape[0] * shape[1] or isinstance(n_features, bool):
        raise _fail(path, f"n_features_in ({n_features!r}) must equal the image's height x width ({shape})")
    for key in ("pixel_mean", "pixel_std"):
        if not isinstance(fitted[key], (int, float)) or isinstance(fitted[key], bool):
            raise _fail(path, f"{key} must be a number, got {fitted[key]!r}")
    if abs(fitted["pixel_mean"]) > PIXEL_MEAN_LIMIT:
        raise _fail(path, f"pixel_mean must lie within +-{PIXEL_MEAN_LIMIT:g}, got {fitted['pixel_mean']!r}")
    if not PIXEL_STD_RANGE[0] <= fitted["pixel_std"] <= PIXEL_STD_RANGE[1]:
        raise _fail(path, f"pixel_std must lie within {PIXEL_STD_RANGE[0]:g} and {PIXEL_STD_RANGE[1]:g}, "
                          f"got {fitted['pixel_std']!r}")
    history = fitted["history"]
    if not isinstance(history, dict) or not all(
        isinstance(k, str) and isinstance(v, list)
        and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)
        for k, v in history.items()
    ):
        raise _fail(path, "history must map metric names to lists of numbers")
    return {
        "classes_": labels,
        "image_shape_": (shape[0], shape[1]),
        "pixel_mean_": float(fitted["pixel_mean"]),
        "pixel_std_": float(fitted["pixel_std"]),
        "history_": {key: list(map(float, values)) for key, values in history.items()},
    }


def _check_sizes(path, estimator, fitted):
    """Refuse parameters that would build a network too large to be a digit model (``SIZE_LIMITS``)."""
    for name, limit in SIZE_LIMITS.items():
        value = getattr(estimator, name)
        for side in value if isinstance(value, tuple) else (value,):
            if side > limit:
                raise _fail(path, f"parameter {name}={value!r} is over the limit of {limit:,}")
    if max(fitted["image_shape_"]) > MAX_IMAGE_SIDE:
        raise _fail(path, f"image_shape {list(fitted['image_shape_'])} is over the limit of {MAX_IMAGE_SIDE} a side")
    if len(fitted["classes_"]) > MAX_CLASSES:
        raise _fail(path, f"{len(fitted['classes_']):,} class labels is over the limit of {MAX_CLASSES:,}")


def _check_tensor_shapes(path, expected):
    """Compare the file's tensors (read from its header, not loaded) with the shapes the parameters imply."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(path, framework="numpy") as file:
            found = {name: tuple(file.get_slice(name).get_shape()) for name in file.keys()}
    except SafetensorError as exc:
        raise _fail(path, f"damaged or truncated safetensors data ({exc})") from None
    missing, unknown = sorted(set(expected) - set(found)), sorted(set(found) - set(expected))
    if missing or unknown:
        raise _fail(
            path,
            "its tensors do not match the network its parameters build: "
            + "; ".join(part for part in (
                f"missing {missing}" if missing else "",
                f"unexpected {unknown}" if unknown else "") if part),
        )
    if "softmax/bias" in found and found["softmax/bias"] != expected["softmax/bias"]:
        raise _fail(path, f"lists {expected['softmax/bias'][0]} class labels but its output layer has "
                          f"{found['softmax/bias'][0]} units")
    for name, shape in expected.items():
        if found[name] != shape:
            raise _fail(path, f"tensor {name} has shape {list(found[name])}, its parameters need {list(shape)}")


def _read_tensors(path, expected, checksum, checksum_from="its header"):
    """The file's tensors (their names and shapes already checked against ``expected``), checked and returned.

    ``checksum`` is their SHA-256 as ``checksum_from`` gives it (named in the error when they differ).
    """
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(path, framework="numpy") as file:
            tensors = {name: file.get_tensor(name) for name in file.keys()}
    except SafetensorError as exc:
        raise _fail(path, f"damaged or truncated safetensors data ({exc})") from None
    for name, shape in expected.items():
        tensor = tensors[name]
        if tensor.shape != shape or tensor.dtype != np.float32:
            raise _fail(path, f"tensor {name} is {tensor.dtype}{list(tensor.shape)}, the network needs "
                              f"float32{list(shape)}")
        if not np.all(np.isfinite(tensor)):
            raise _fail(path, f"tensor {name} holds NaN or infinite values")
    if checksum is None:
        warnings.warn(f"{path}: written by an older skdigits, with no checksum of its weights, so damage to them "
                      "cannot be found; save it again with skdigits.save_model to add one", UserWarning,
                      stacklevel=3)
    elif tensors_sha256(tensors) != checksum:
        raise _fail(path, f"its weights do not match the SHA-256 in {checksum_from}: the file was damaged or altered")
    return tensors


