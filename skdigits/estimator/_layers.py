"""Custom Keras layers of the digit networks."""

import math

import keras
from keras import layers, ops


class _RandomInTraining(layers.Layer):
    """Changes each image at random in training; passes it through unchanged otherwise.

    Subclasses name their settings in ``_settings`` (saved by ``get_config``)
    and implement ``change(images)``, drawing from ``self.seed_generator``.
    """

    _settings = ()

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=None):
        return self.change(images) if training else images

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({name: getattr(self, name) for name in self._settings}, seed=self.seed)
        return config


@keras.saving.register_keras_serializable(package="skdigits")
class RandomAffine(_RandomInTraining):
    """Random rotation, zoom and shift of each image, in one resampling, in training only.

    Keras's RandomRotation, RandomZoom and RandomTranslation each resample the
    whole batch; composing the three into one affine map per image costs one
    resampling instead of three, which matters on a CPU.

    Parameters
    ----------
    rotation : float
        Largest rotation, in degrees, either way.
    zoom : float
        Largest relative change of scale, either way (0.1: 90% to 110%).
    shift : float
        Largest shift, as a fraction of the image's height and width, either way.
    seed : int or None
        Seed of the random draws.
    """

    _settings = ("rotation", "zoom", "shift")

    def __init__(self, rotation=10.0, zoom=0.1, shift=0.1, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.rotation = rotation
        self.zoom = zoom
        self.shift = shift

    def change(self, images):
        n = ops.shape(images)[0]
        height, width = images.shape[1], images.shape[2]

        def draw(limit):
            return keras.random.uniform((n,), -limit, limit, seed=self.seed_generator)

        angle = draw(self.rotation * math.pi / 180)
        scale = 1.0 + draw(self.zoom)
        tx, ty = draw(self.shift) * width, draw(self.shift) * height
        # The transform maps each output pixel back to where it is read in the
        # input: rotate and scale about the centre, then shift.
        a, b = ops.cos(angle) / scale, ops.sin(angle) / scale
        cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
        zeros = ops.zeros_like(a)
        transform = ops.stack(
            [a, -b, cx - a * cx + b * cy - tx, b, a, cy - b * cx - a * cy - ty, zeros, zeros], axis=1
        )
        return ops.image.affine_transform(
            images, transform, interpolation="bilinear", fill_mode="nearest", data_format="channels_last"
        )


@keras.saving.register_keras_serializable(package="skdigits")
class RandomInk(_RandomInTraining):
    """Random pen changes of each image, in training only: a thicker or thinner stroke, a blur.

    Photos of digits come in every pen and resolution: a felt pen on a
    small digit nearly fills its loops, a thin pen in a small picture fades
    and spreads over its neighbouring pixels. Seeing such versions of the
    training digits teaches the network that an 8 with small loops is still
    an 8. Each image is, independently, thickened by a pixel on every side
    (a 3x3 maximum) with probability ``thicken``, else thinned (a 2x2
    minimum) with probability ``thin``, and then blurred (a 3x3 mean) with
    probability ``blur``. On standardised pixels as on raw ones: both
    operations commute with an increasing affine map.

    Parameters
    ----------
    thicken, thin, blur : float
        Probabilities of each change.
    seed : int or None
        Seed of the random draws.
    """

    _settings = ("thicken", "thin", "blur")

    def __init__(self, thicken=0.25, thin=0.1, blur=0.3, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.thicken = thicken
        self.thin = thin
        self.blur = blur

    def change(self, images):
        n = ops.shape(images)[0]
        pen = keras.random.uniform((n, 1, 1, 1), seed=self.seed_generator)
        thick = ops.nn.max_pool(images, 3, strides=1, padding="same")
        thin = -ops.nn.max_pool(-images, 2, strides=1, padding="same")
        images = ops.where(pen < self.thicken, thick, ops.where(pen < self.thicken + self.thin, thin, images))
        blur = keras.random.uniform((n, 1, 1, 1), seed=self.seed_generator)
        blurred = ops.nn.average_pool(images, 3, strides=1, padding="same")
        return ops.where(blur < self.blur, blurred, images)
