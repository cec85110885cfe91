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

import json
import math
import numbers
import os
import tempfile
from importlib import resources

import numpy as np

from ..estimator._architecture import expected_shapes
from ..reader._records import plain
from ._checks import (
    FORMAT,
    FORMAT_VERSION,
    METADATA_KEY,
    ModelFileError,
    _check_fitted,
    _check_sizes,
    _check_tensor_shapes,
    _checked_params,
    _fail,
    _read_header,
    _read_tensors,
    tensors_sha256,
)

__all__ = ["ModelFileError", "save_model", "load_model", "load_pretrained", "pretrained_record"]

# Parameters that hold code or process state rather than numbers: not saved.
_UNSAVED_PARAMS = {"callbacks": None}
# How the pretrained model differs from CNNDigitClassifier's defaults: it reads
# photos, so it is trained with random pen changes.
PRETRAINED_PARAMS = {"augment_ink": True}
PRETRAINED_FILE = "pretrained.safetensors"
PRETRAINED_RECORD = "pretrained.json"


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
        "classes": {"type": kind, "values": [_json_scalar(plain(c)) for c in classes]},
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
