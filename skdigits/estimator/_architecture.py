"""What network a set of parameters describes, known without importing Keras.

``skdigits.estimator._network.build_cnn`` builds it with Keras; ``skdigits.model_files._onnx`` writes
the same network as an ONNX graph; the model files check a file's tensors
against ``expected_shapes`` before either is built. The three are tested
against one another (``tests/test_onnx.py``, ``tests/test_model_files.py``).
"""

ACTIVATIONS = ("relu", "sigmoid", "tanh")
OPTIMIZERS = ("adam", "sgd", "momentum", "nesterov", "rmsprop")
LOSSES = {
    "cross_entropy": "categorical_crossentropy",
    "categorical_crossentropy": "categorical_crossentropy",
    "mse": "mean_squared_error",
    "mean_squared_error": "mean_squared_error",
}
SCHEDULES = ("one_cycle", "cosine", "constant")

# CNNDigitClassifier's parameters, in its signature's order (checked by
# tests/test_model_files.py): a model file's keys are checked against them
# where the estimator itself is not imported.
ESTIMATOR_PARAMS = (
    "filters", "conv_blocks", "kernel_size", "dense_units", "dropout", "activation", "optimizer",
    "learning_rate", "lr_schedule", "loss", "epochs", "batch_size", "augment", "augment_ink", "tta",
    "validation_fraction", "early_stopping", "n_iter_no_change", "image_shape", "warm_start", "callbacks",
    "random_state", "verbose",
)
# Routed parameters (``optimizer__momentum``, ...) start with one of these and "__".
ROUTED_PREFIXES = ("optimizer", "compile", "fit", "callbacks")

# Keras's BatchNormalization epsilon (its default), used by the dense layer's normalisation.
BN_EPSILON = 1e-3

# Augmentation needs room to move the digit: on 8x8 images a 10% shift or a
# 10 degree turn is mostly interpolation blur, so below this side it is skipped,
# and so is test-time averaging.
MIN_AUGMENT_SIDE = 16

# Test-time averaging: the network also sees each image shifted by one pixel
# right, left, down and up, and its outputs on the five views are averaged.
# MNIST digits are centred by mass, and that centre is off by a pixel often
# enough for the guesses at the neighbouring positions to settle a close call.
TTA_SHIFTS = ((0, 1), (0, -1), (1, 0), (-1, 0))


def kernel_pair(kernel_size):
    """``kernel_size`` (an int or a pair) as (height, width)."""
    return tuple(kernel_size) if isinstance(kernel_size, (tuple, list)) else (kernel_size, kernel_size)


def expected_shapes(params, image_shape, n_classes):
    """The tensors (name -> shape) of the network ``build_cnn`` makes from ``params``.

    ``params`` is anything with ``filters``, ``conv_blocks``, ``kernel_size``
    and ``dense_units`` attributes (an estimator, a namespace).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> shapes = expected_shapes(SimpleNamespace(filters=32, conv_blocks=3, kernel_size=3, dense_units=128),
    ...                          (28, 28), 10)
    >>> shapes["conv3/kernel"], shapes["dense/kernel"], shapes["softmax/bias"]
    ((3, 3, 64, 128), (2048, 128), (10,))
    """
    kernel = kernel_pair(params.kernel_size)
    height, width = image_shape
    shapes, channels = {}, 1
    for block in range(params.conv_blocks):
        out = params.filters * 2**block
        shapes[f"conv{block + 1}/kernel"] = (*kernel, channels, out)
        shapes[f"conv{block + 1}/bias"] = (out,)
        # "same" max pooling by 2: a side of n becomes ceil(n / 2).
        channels, height, width = out, -(-height // 2), -(-width // 2)
    units = params.dense_units
    shapes["dense/kernel"] = (height * width * channels, units)
    for name in ("gamma", "beta", "moving_mean", "moving_variance"):
        shapes[f"dense_bn/{name}"] = (units,)
    shapes["softmax/kernel"] = (units, n_classes)
    shapes["softmax/bias"] = (n_classes,)
    return shapes
