"""The Keras networks and optimizers behind CNNDigitClassifier.

Everything here is plain Keras: the estimator decides the parameters, these
functions turn them into layers, optimizers and losses.
"""

import itertools
import math

import keras
import numpy as np
from keras import layers

from ._architecture import (  # noqa: F401 (re-exported)
    ACTIVATIONS,
    BN_EPSILON,
    LOSSES,
    MIN_AUGMENT_SIDE,
    OPTIMIZERS,
    SCHEDULES,
    TTA_SHIFTS,
)
from ._layers import RandomAffine, RandomInk

# The report's momentum coefficient (gamma = 0.9), for "momentum" and "nesterov".
REPORT_MOMENTUM = 0.9

# Keras's default of 0.99 needs hundreds of steps before the moving statistics
# used at inference settle; short fits on small data (load_digits) never get there.
BN_MOMENTUM = 0.9



def build_cnn(
    image_shape,
    n_classes,
    *,
    filters=32,
    conv_blocks=3,
    kernel_size=3,
    dense_units=128,
    dropout=0.25,
    activation="relu",
    augment=True,
    augment_ink=False,
    pixel_mean=0.0,
    pixel_std=1.0,
    seed=None,
):
    """Build the (uncompiled) digit CNN.

    The report's design: blocks of convolution -> activation -> max pooling
    (each block has twice the filters of the one before), then flatten -> dense ->
    batch normalisation -> activation -> dropout -> softmax over the classes.
    With ``augment``, a random rotation, zoom and shift of the training images
    comes first; with ``augment_ink``, random thicker, thinner and blurred
    strokes after it.

    The network takes flat rows of ``height * width`` pixels as they come from
    the estimator, so ``model.predict(X)`` and the estimator see the same input;
    it reshapes them to images and standardises them with the pixel statistics
    learned in ``fit``.

    Parameters
    ----------
    image_shape : tuple of int
        ``(height, width)`` of the images.
    n_classes : int
        Number of output classes (softmax units).
    filters, conv_blocks, kernel_size, dense_units, dropout, activation, augment, augment_ink
        See :class:`skdigits.CNNDigitClassifier`.
    pixel_mean, pixel_std : float
        Statistics of the training pixels, used to standardise the input.
    seed : int or None
        Seed of the weights, the augmentation and the dropout.

    Returns
    -------
    model : keras.Model
    """
    height, width = image_shape
    # Explicit seeds for every random layer: Keras's default seeds come from
    # Python's global random module, which other threads of a host process (a
    # Dask worker's event loop, say) may draw from in the middle of a build.
    seeds = itertools.count(seed) if seed is not None else itertools.repeat(None)

    def glorot():
        return keras.initializers.GlorotUniform(seed=next(seeds))

    inputs = keras.Input(shape=(height * width,), name="pixels")
    x = layers.Reshape((height, width, 1))(inputs)
    x = layers.Rescaling(1.0 / pixel_std, offset=-pixel_mean / pixel_std, name="standardize")(x)
    if augment and min(height, width) >= MIN_AUGMENT_SIDE:
        # Active in training only; one resampling for rotation, zoom and shift.
        x = RandomAffine(rotation=10.0, zoom=0.1, shift=0.1, seed=next(seeds), name="augment")(x)
    if augment_ink and min(height, width) >= MIN_AUGMENT_SIDE:
        x = RandomInk(seed=next(seeds), name="augment_ink")(x)
    for block in range(conv_blocks):
        n_filters = filters * 2**block
        # No batch normalisation on the convolutions: on a CPU it costs more
        # time per step (15-60% in our measurements) than it buys in accuracy.
        x = layers.Conv2D(n_filters, kernel_size, padding="same", activation=activation,
                          kernel_initializer=glorot(), name=f"conv{block + 1}")(x)
        # "same" pooling keeps tiny images (1 x n strips) valid: a side of 1 stays 1.
        x = layers.MaxPooling2D(2, padding="same")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(dense_units, use_bias=False, kernel_initializer=glorot(), name="dense")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name="dense_bn")(x)
    x = layers.Activation(activation)(x)
    if dropout > 0:
        x = layers.Dropout(dropout, seed=next(seeds))(x)
    outputs = layers.Dense(n_classes, activation="softmax", kernel_initializer=glorot(), name="softmax")(x)
    return keras.Model(inputs, outputs, name="digit_cnn")


def make_optimizer(name, learning_rate, **kwargs):
    """A Keras optimizer from the estimator's name for it.

    ``"momentum"`` and ``"nesterov"`` are SGD with the report's momentum of
    0.9 (plain and Nesterov accelerated gradient); ``kwargs`` are the routed
    ``optimizer__*`` parameters and override these defaults.
    """
    if name == "adam":
        cls, defaults = keras.optimizers.Adam, {}
    elif name == "rmsprop":
        cls, defaults = keras.optimizers.RMSprop, {}
    elif name == "sgd":
        cls, defaults = keras.optimizers.SGD, {}
    elif name == "momentum":
        cls, defaults = keras.optimizers.SGD, {"momentum": REPORT_MOMENTUM}
    elif name == "nesterov":
        cls, defaults = keras.optimizers.SGD, {"momentum": REPORT_MOMENTUM, "nesterov": True}
    else:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {name!r}.")
    return cls(**{"learning_rate": learning_rate, **defaults, **kwargs})


# batch_size="auto": about this many steps an epoch, within these bounds: the default
# recipe was tuned at 512 on MNIST, and a small training set needs enough steps.
AUTO_BATCH_STEPS = 100
AUTO_BATCH_RANGE = (32, 512)


def auto_batch_size(n_samples):
    """The batch size "auto" picks for ``n_samples`` training images."""
    low, high = AUTO_BATCH_RANGE
    return int(min(high, max(low, n_samples // AUTO_BATCH_STEPS)))


# Share of a one-cycle fit spent warming the learning rate up to its peak.
WARMUP_FRACTION = 0.15


class OneCycle(keras.callbacks.Callback):
    """A learning rate set before every step: a linear warm-up, then a cosine decay to zero.

    Short fits need the rate annealed fully, and per step rather than per
    epoch: with 6 or 7 epochs, a per-epoch schedule leaves the last epoch
    at a rate well above zero. The warm-up (``warmup`` of all the steps,
    from ``peak / 10``) lets Adam's moment estimates settle before the large
    steps.

    Parameters
    ----------
    peak : float
        Largest learning rate, reached at the end of the warm-up.
    epochs : int
        Epochs of the whole fit; the rate reaches zero at the end of the last.
    warmup : float in [0, 1)
        Fraction of all the steps spent warming up.
    """

    def __init__(self, peak, epochs, warmup=WARMUP_FRACTION):
        super().__init__()
        self.peak = peak
        self.epochs = epochs
        self.warmup = warmup

    def rate(self, progress):
        """The learning rate at ``progress`` (0 at the first step, 1 after the last)."""
        progress = min(max(progress, 0.0), 1.0)
        if progress < self.warmup:
            return self.peak * (0.1 + 0.9 * progress / self.warmup)
        decay = (progress - self.warmup) / (1.0 - self.warmup)
        return self.peak * 0.5 * (1.0 + math.cos(math.pi * decay))

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        steps = self.params.get("steps") or 1
        progress = (self._epoch * steps + batch) / (self.epochs * steps)
        self.model.optimizer.learning_rate.assign(self.rate(progress))


def cosine_schedule(learning_rate, epochs):
    """Per-epoch cosine decay from ``learning_rate`` towards zero over ``epochs``."""

    def schedule(epoch, lr=None):
        return learning_rate * 0.5 * (1.0 + math.cos(math.pi * min(epoch, epochs) / epochs))

    return schedule




def shifted_views(X, image_shape, shifts=TTA_SHIFTS):
    """``X`` (flat rows of ``image_shape`` images) and copies shifted by each ``(rows, columns)``.

    The pixels that come in at an edge repeat that edge (the paper, in a
    picture of a digit). Returns one array of ``len(shifts) + 1`` times the rows,
    the original first.
    """
    height, width = image_shape
    images = X.reshape(len(X), height, width)
    reach = max(max(abs(dy), abs(dx)) for dy, dx in shifts)
    padded = np.pad(images, ((0, 0), (reach, reach), (reach, reach)), mode="edge")
    views = [images] + [
        padded[:, reach - dy:reach - dy + height, reach - dx:reach - dx + width] for dy, dx in shifts
    ]
    return np.concatenate(views).reshape(-1, height * width)


def predict_averaged(model, X, image_shape, shifts=TTA_SHIFTS, batch_size=None):
    """Softmax outputs of ``model`` averaged over ``X`` and its shifted views (see ``shifted_views``).

    ``batch_size`` images (default ``PREDICT_BATCH``) and their views go
    through the network in one call of a fixed number of rows, the last
    chunk padded, as in ``predict_in_batches``: one call per chunk, not one
    per view, and an image's outputs do not depend on the rest of its batch.
    """
    if len(X) == 0:
        return predict_in_batches(model, X)
    batch_size = batch_size or PREDICT_BATCH
    parts = []
    for start in range(0, len(X), batch_size):
        chunk = X[start:start + batch_size]
        proba = _forward(model, shifted_views(_padded(chunk, batch_size), image_shape, shifts))
        parts.append(proba.reshape(len(shifts) + 1, batch_size, -1).mean(axis=0)[:len(chunk)])
    return np.concatenate(parts)


def _forward(model, rows):
    """The network's outputs on ``rows``, run with ``SPARE_ROWS`` copies of the first row after them."""
    return np.asarray(model.predict_on_batch(np.concatenate([rows] + [rows[:1]] * SPARE_ROWS)))[:len(rows)]


def _padded(chunk, rows):
    """``chunk`` with copies of its first row added up to ``rows`` rows."""
    if len(chunk) == rows:
        return chunk
    return np.concatenate([chunk, np.repeat(chunk[:1], rows - len(chunk), axis=0)])


# Images in every forward pass when predicting; a chunk of fewer images is padded to
# this many, because TensorFlow's kernels order their sums by a batch's size, and an
# image's probabilities must not depend on the other images predicted with it.
PREDICT_BATCH = 16
# Rows added after every pass's images and never returned: on AVX2 machines the kernels
# sum a batch's last rows in another order, so no image may sit there (with one spare
# row, the last two images of an averaged chunk still read apart; with two, none did).
SPARE_ROWS = 2


def predict_in_batches(model, X, batch_size=PREDICT_BATCH):
    """Softmax outputs of ``model`` on ``X``, one compiled call per chunk of ``batch_size`` rows.

    ``model.predict`` builds a data pipeline on every call (tens of ms),
    which dominates for a single image; ``predict_on_batch`` runs the
    compiled forward pass directly. The last chunk is padded with copies of
    its first row, so every call has the same shape.
    """
    if len(X) == 0:
        return np.zeros((0,) + tuple(model.output_shape[1:]), dtype=np.float32)
    chunks = []
    for start in range(0, len(X), batch_size):
        chunk = X[start:start + batch_size]
        chunks.append(_forward(model, _padded(chunk, batch_size))[:len(chunk)])
    return np.concatenate(chunks)
