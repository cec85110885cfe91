"""Checks of the estimator's parameters and of image-shaped X."""

import math
import numbers

import numpy as np

from ._architecture import ACTIVATIONS, LOSSES, OPTIMIZERS, SCHEDULES


def _check_number(name, value, kind, low, *, low_inclusive=True, high=None):
    if kind is int:
        ok_type = isinstance(value, numbers.Integral) and not isinstance(value, bool)
        kind_name = "an integer"
    else:
        ok_type = isinstance(value, numbers.Real) and not isinstance(value, bool)
        kind_name = "a number"
    if not ok_type:
        raise TypeError(f"{name} must be {kind_name}, got {value!r} of type {type(value).__name__}.")
    too_low = value < low if low_inclusive else value <= low
    too_high = high is not None and value >= high
    if too_low or too_high or not math.isfinite(value):
        bound = f">= {low}" if low_inclusive else f"> {low}"
        if high is not None:
            bound += f" and < {high}"
        raise ValueError(f"{name} must be {bound}, got {value!r}.")


def _check_choice(name, value, choices):
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}.")


def check_flag(est, name):
    """A boolean parameter, or TypeError naming it."""
    if not isinstance(getattr(est, name), (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {getattr(est, name)!r}.")


def check_params(est):
    """Validate the estimator's own parameters; raise a clear error naming the bad one."""
    _check_number("filters", est.filters, int, 1)
    _check_number("conv_blocks", est.conv_blocks, int, 1)
    _check_number("dense_units", est.dense_units, int, 1)
    _check_number("epochs", est.epochs, int, 1)
    if not (isinstance(est.batch_size, str) and est.batch_size == "auto"):
        if isinstance(est.batch_size, str):
            raise ValueError(f"batch_size must be a positive integer or 'auto', got {est.batch_size!r}.")
        _check_number("batch_size", est.batch_size, int, 1)
    _check_number("n_iter_no_change", est.n_iter_no_change, int, 1)
    _check_number("learning_rate", est.learning_rate, float, 0, low_inclusive=False)
    _check_number("dropout", est.dropout, float, 0, high=1)
    _check_number("validation_fraction", est.validation_fraction, float, 0, high=1)
    if isinstance(est.kernel_size, (tuple, list)):
        if len(est.kernel_size) != 2:
            raise ValueError(f"kernel_size must be an int or a pair of ints, got {est.kernel_size!r}.")
        for k in est.kernel_size:
            _check_number("kernel_size", k, int, 1)
    else:
        _check_number("kernel_size", est.kernel_size, int, 1)
    for name in ("augment", "augment_ink", "tta", "early_stopping", "warm_start"):
        check_flag(est, name)
    _check_choice("activation", est.activation, ACTIVATIONS)
    _check_choice("optimizer", est.optimizer, OPTIMIZERS)
    _check_choice("loss", est.loss, LOSSES)
    _check_choice("lr_schedule", est.lr_schedule, SCHEDULES)
    if est.early_stopping and est.validation_fraction == 0:
        raise ValueError("early_stopping=True needs a validation_fraction > 0 to monitor.")
    if est.image_shape is not None:
        shape = est.image_shape
        if (
            not isinstance(shape, (tuple, list))
            or len(shape) != 2
            or not all(isinstance(s, numbers.Integral) and (s > 0 or s == -1) for s in shape)
            or list(shape) == [-1, -1]
        ):
            raise ValueError(
                "image_shape must be None or a pair (height, width) of positive ints, "
                f"one of which may be -1 (inferred), got {shape!r}."
            )


def _ndim(X):
    ndim = getattr(X, "ndim", None)
    return np.asarray(X).ndim if ndim is None else ndim


def _flat_shape(n_features, image_shape):
    """The (height, width) of flat rows of ``n_features`` pixels."""
    if image_shape is None:
        side = math.isqrt(n_features)
        if side * side != n_features:
            raise ValueError(
                f"X has {n_features} features per row, which is not a square image "
                f"(784 = 28x28 for MNIST, 64 = 8x8 for load_digits). Pass images of shape "
                f"(n, height, width), or set image_shape=(height, width) for flat rows of "
                f"non-square images."
            )
        return side, side
    height, width = image_shape
    if height == -1:
        height = n_features // width
    elif width == -1:
        width = n_features // height
    if height * width != n_features:
        raise ValueError(
            f"X has {n_features} features per row, which does not fit image_shape={tuple(image_shape)}."
        )
    return int(height), int(width)


def validate_images(est, X, y="no_validation", *, reset):
    """Check X (and y), and return X as float32 flat rows of pixels.

    X may be flat rows ``(n, height * width)``, images ``(n, height, width)``
    or single-channel images ``(n, height, width, 1)``. With ``reset=True``
    the image shape is learned (``image_shape_``) along with
    ``n_features_in_``; otherwise X must match what ``fit`` saw.
    """
    try:
        return _validate_images(est, X, y, reset=reset)
    except ValueError as exc:
        if "could not convert" in str(exc) or "bytes/strings" in str(exc):
            raise TypeError(f"X must hold numeric pixel values: {exc}") from None
        raise


def _validate_images(est, X, y, *, reset):
    # Imported here: the parameter checks above also serve the ONNX path, which never imports scikit-learn.
    from sklearn.utils.validation import check_array, validate_data

    ndim = _ndim(X)
    image_hw = None
    if ndim in (3, 4):
        X = check_array(X, allow_nd=True, dtype="numeric", ensure_all_finite=True, input_name="X")
        if X.ndim == 4 and X.shape[3] != 1:
            raise ValueError(
                f"X has images of shape {X.shape[1:]} with {X.shape[3]} channels; "
                "CNNDigitClassifier takes grayscale images (n, height, width) or "
                "(n, height, width, 1). Colour pictures are not converted silently: "
                "convert them with skdigits.MNISTPreprocessor (photos and scans) or "
                "average their channels yourself."
            )
        image_hw = X.shape[1:3]
        if not reset and tuple(image_hw) != tuple(est.image_shape_):
            raise ValueError(
                f"X has images of {image_hw[0]}x{image_hw[1]} pixels, but this "
                f"{type(est).__name__} was fitted on {est.image_shape_[0]}x{est.image_shape_[1]} images."
            )
        X = X.reshape(len(X), -1)
    elif ndim not in (None, 1, 2):
        raise ValueError(
            f"X has {ndim} dimensions; expected flat rows (n, height*width), images "
            "(n, height, width) or (n, height, width, 1)."
        )
    kwargs = {"dtype": [np.float32, np.float64], "ensure_all_finite": True, "reset": reset}
    no_y = isinstance(y, str) and y == "no_validation"
    if no_y:
        X = validate_data(est, X, **kwargs)
    else:
        X, y = validate_data(est, X, y, **kwargs)
    if reset:
        shape = image_hw if image_hw is not None else _flat_shape(X.shape[1], est.image_shape)
        est.image_shape_ = tuple(int(side) for side in shape)
    X = np.asarray(X, dtype=np.float32)
    return X if no_y else (X, y)
