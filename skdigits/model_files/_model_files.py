"""Model files that hold numbers only: safetensors weights and a JSON header.

A pickle runs code when it is loaded; a digit model is exactly the kind of
file people download and share. A skdigits model file is a safetensors file:
the network's weights as named tensors, and in the safetensors metadata one
JSON document with the format's name and version, the versions that wrote it,
the estimator's parameters and its fitted attributes. Loading rebuilds the
network with skdigits's own builder from those parameters and then sets the
weights; no architecture, Keras config or Python object is read from the file,
and everything that is read is checked before it is used: every number is
finite and within bounds, the tensors' names and shapes are compared with
those the parameters imply before the network is built, and a SHA-256 of the
tensors, stored in the header, is compared with theirs.
"""

import hashlib
import json
import math
import numbers
import os
import tempfile
import warnings
from importlib import resources

import numpy as np

from ..estimator._architecture import ESTIMATOR_PARAMS, ROUTED_PREFIXES, expected_shapes

__all__ = ["ModelFileError", "save_model", "load_model", "load_pretrained", "pretrained_record"]

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
# Parameters that hold code or process state rather than numbers: not saved.
_UNSAVED_PARAMS = {"callbacks": None}
# Parameters the estimator gained after format version 1 was first written, and
# the value that reproduces how a file without them was trained. Any other
# missing parameter is an error.
_PARAMS_ADDED = {"warm_start": False, "tta": False, "augment_ink": False}
# How the pretrained model differs from CNNDigitClassifier's defaults: it reads
# photos, so it is trained with random pen changes (measured in the README).
PRETRAINED_PARAMS = {"augment_ink": True}

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

PRETRAINED_FILE = "pretrained.safetensors"
PRETRAINED_RECORD = "pretrained.json"


class ModelFileError(ValueError):
    """A file that is not a valid skdigits model; the message names the problem."""


def save_model(estimator, path):
    """Save a fitted CNNDigitClassifier to one file that cannot carry code.

    The file is a `safetensors <https://github.com/huggingface/safetensors>`_
    file: the network's weights, plus a JSON header with the parameters and
    the fitted attributes. It is written to a temporary file in the same folder
    and renamed, so an interrupted save never leaves a partial file at ``path``.
    ``callbacks`` (code) and a ``RandomState`` object as ``random_state``
    (process state) are not saved; the loaded model has None for them.

    Parameters
    ----------
    estimator : CNNDigitClassifier
        A fitted classifier.
    path : str or path-like
        Where to write the model.

    Raises
    ------
    NotFittedError
        If the estimator is not fitted.
    ValueError
        If a parameter or label cannot be stored as JSON numbers or strings.

    See Also
    --------
    load_model : Read the file back.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn.datasets import load_digits
    >>> from skdigits import CNNDigitClassifier, load_model, save_model
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = CNNDigitClassifier(epochs=1, random_state=0).fit(X[:300], y[:300])
    >>> path = os.path.join(tempfile.mkdtemp(), "digits.safetensors")
    >>> save_model(clf, path)
    >>> again = load_model(path)
    >>> bool((again.predict_proba(X[:5]) == clf.predict_proba(X[:5])).all())
    True
    """
    from safetensors.numpy import save
    from sklearn.utils.validation import check_is_fitted

    from ..estimator._classifier import CNNDigitClassifier

    if not isinstance(estimator, CNNDigitClassifier):
        raise TypeError(f"save_model saves a CNNDigitClassifier, got a {type(estimator).__name__}.")
    check_is_fitted(estimator, "model_")
    tensors = {v.path: np.ascontiguousarray(v.numpy()) for v in estimator.model_.weights}
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "written_by": _versions(),
        "params": _params_to_json(estimator),
        "fitted": _fitted_to_json(estimator),
        "tensors_sha256": tensors_sha256(tensors),
    }
    data = save(tensors, metadata={METADATA_KEY: json.dumps(header, allow_nan=False)})
    _write_atomically(os.fspath(path), data)


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


def _versions():
    import keras

    from .._version import __version__

    return {"skdigits": __version__, "keras": keras.__version__}


def _json_scalar(value):
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real) and math.isfinite(value):
        return float(value)
    raise TypeError


def _params_to_json(estimator):
    params = {}
    for key, value in estimator.get_params(deep=False).items():
        if key in _UNSAVED_PARAMS:
            value = _UNSAVED_PARAMS[key]
        elif key == "random_state" and not (value is None or isinstance(value, numbers.Integral)):
            value = None  # a RandomState only decides how training draws
        try:
            if isinstance(value, (list, tuple)):
                params[key] = [_json_scalar(item) for item in value]
            else:
                params[key] = _json_scalar(value)
        except TypeError:
            raise ValueError(
                f"parameter {key}={value!r} cannot be saved in a model file: only numbers, "
                "strings, booleans, None and lists of them are stored."
            ) from None
    return params


def _fitted_to_json(estimator):
    classes = np.asarray(estimator.classes_)
    kind = {"i": "int", "u": "int", "b": "bool", "f": "float", "U": "str"}.get(classes.dtype.kind)
    if kind is None and all(isinstance(c, str) for c in classes):
        kind = "str"
    if kind is None:
        raise ValueError(
            f"class labels of dtype {classes.dtype} cannot be saved in a model file: "
            "only integer, string, boolean or float labels are stored."
        )
    if kind == "float" and not np.all(np.isfinite(classes)):
        raise ValueError("class labels must be finite to be saved in a model file.")
    return {
        "classes": {"type": kind, "values": [_json_scalar(c.item() if hasattr(c, "item") else c)
                                             for c in classes]},
        "n_features_in": int(estimator.n_features_in_),
        "image_shape": [int(side) for side in estimator.image_shape_],
        "pixel_mean": float(estimator.pixel_mean_),
        "pixel_std": float(estimator.pixel_std_),
        "history": {key: [float(v) for v in values] for key, values in estimator.history_.items()},
    }


def _write_atomically(path, data):
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{path}: folder {folder} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=".skdigits-", suffix=".partial", dir=folder)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the model from other users
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_model(path, *, runtime="keras"):
    """Load a CNNDigitClassifier saved by :func:`save_model`.

    Nothing in the file is executed or unpickled: the network is rebuilt
    from the stored parameters by skdigits's own code, and the stored
    weights must match it name for name, shape for shape and dtype for
    dtype.

    Parameters
    ----------
    path : str or path-like
    runtime : {"keras", "onnx"}, default="keras"
        "keras": the estimator itself, which can also be trained further.
        "onnx": an :class:`~skdigits.model_files._onnx.OnnxDigitClassifier` that runs the
        same network with ONNX Runtime, for predictions only, without
        importing TensorFlow (a fraction of a second to start, not seconds).

    Returns
    -------
    estimator : CNNDigitClassifier or OnnxDigitClassifier
        Fitted, with ``classes_``, ``image_shape_``, ``pixel_mean_``,
        ``pixel_std_``, ``n_features_in_`` and ``history_`` as saved
        (the ONNX predictor: ``classes_``, ``image_shape_`` and ``n_features_in_``).

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path``.
    ModelFileError
        If the file is not a valid skdigits model: a pickle or another kind
        of file, a truncated or damaged file, an oversized header, a newer
        format version, unknown or missing keys, values of the wrong type,
        NaN, or weights that do not match the network the parameters build.
    """
    if runtime not in ("keras", "onnx"):
        raise ValueError(f"runtime must be 'keras' or 'onnx', got {runtime!r}")
    return _load(path, runtime)


def _load(path, runtime, tta=None):
    """load_model's work; ``tta`` (None: the model's own) decides the ONNX graph's averaging."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such model file")
    header = _read_header(path)
    params = _checked_params(path, header["params"])
    fitted = _check_fitted(path, header["fitted"])
    _check_sizes(path, params, fitted)
    expected = expected_shapes(params, fitted["image_shape_"], len(fitted["classes_"]))
    _check_tensor_shapes(path, expected)
    if runtime == "onnx":
        return _onnx_classifier(params, fitted, _read_tensors(path, expected, header.get("tensors_sha256")), tta)
    from ..estimator._classifier import CNNDigitClassifier

    estimator = CNNDigitClassifier(**vars(params))
    try:
        _build_network(estimator, fitted)
    except (TypeError, ValueError) as exc:  # a routed parameter Keras does not take, say
        raise _fail(path, f"its parameters do not build a network ({type(exc).__name__}: {exc})") from None
    _set_weights(path, estimator, _read_tensors(path, expected, header.get("tensors_sha256")))
    return estimator


def _onnx_classifier(params, fitted, tensors, tta=None):
    from ..estimator._architecture import MIN_AUGMENT_SIDE
    from ._onnx import OnnxDigitClassifier, onnx_model

    tta = bool(params.tta if tta is None else tta) and min(fitted["image_shape_"]) >= MIN_AUGMENT_SIDE
    graph = onnx_model(params, fitted["image_shape_"], len(fitted["classes_"]), fitted["pixel_mean_"],
                       fitted["pixel_std_"], tensors, tta=tta)
    return OnnxDigitClassifier(graph, fitted["classes_"], fitted["image_shape_"], tta=tta)


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


def _build_network(estimator, fitted):
    from ..estimator._runtime import limit_tensorflow_threads

    limit_tensorflow_threads()
    estimator.image_shape_ = fitted["image_shape_"]
    estimator.pixel_mean_ = fitted["pixel_mean_"]
    estimator.pixel_std_ = fitted["pixel_std_"]
    classes = fitted["classes_"]
    height, width = estimator.image_shape_
    # scikeras's documented way to set up a model without training it: it
    # learns the labels and input width from these rows and builds the network.
    estimator.initialize(np.zeros((len(classes), height * width), dtype=np.float32), classes)
    estimator.history_ = fitted["history_"]


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


def _set_weights(path, estimator, tensors):
    variables = {v.path: v for v in estimator.model_.weights}
    if set(tensors) != set(variables):  # expected_shapes and build_cnn disagree: a bug, not a bad file
        raise RuntimeError(f"the network built has tensors {sorted(variables)}, the file {sorted(tensors)}")
    for name, variable in variables.items():
        variable.assign(tensors[name])


def load_pretrained(*, runtime="keras"):
    """The CNNDigitClassifier that ships with skdigits, trained on MNIST.

    It was trained on the 60,000 MNIST training images, and on the first
    30,000 of them rendered as small degraded photos and read back through
    :func:`skdigits.to_mnist` (what the preprocessing makes of a digit in a
    photo), with the default parameters and ``augment_ink=True``
    (``PRETRAINED_PARAMS``) by ``benchmarks/pretrained.py``; :func:`pretrained_record`
    says when, from which revision, and how it scored on the 10,000 test
    images. Loading takes well under a second once TensorFlow is imported.

    Parameters
    ----------
    runtime : {"keras", "onnx"}, default="keras"
        As for :func:`load_model`: "onnx" predicts without importing TensorFlow.

    Returns
    -------
    estimator : CNNDigitClassifier or OnnxDigitClassifier
        Fitted on 28x28 MNIST-style images, labels 0 to 9.

    Examples
    --------
    >>> from skdigits import load_mnist, load_pretrained
    >>> _, X_test, _, y_test = load_mnist(n_test=500)
    >>> clf = load_pretrained()
    >>> clf.score(X_test, y_test) > 0.99
    True
    """
    with resources.as_file(resources.files("skdigits") / "data" / PRETRAINED_FILE) as path:
        if not path.is_file():
            raise FileNotFoundError(
                f"{path}: this installation of skdigits has no pretrained model file; "
                "train one with: skdigits train --output digits.safetensors"
            )
        return load_model(path, runtime=runtime)


def pretrained_path():
    """Where the pretrained model file lies (a path that exists while the package is installed)."""
    return resources.files("skdigits") / "data" / PRETRAINED_FILE


def pretrained_record():
    """How the shipped model was made: command, revision, date, seed, accuracy, fit time.

    Returns
    -------
    record : dict
    """
    text = (resources.files("skdigits") / "data" / PRETRAINED_RECORD).read_text(encoding="utf-8")
    return json.loads(text)
