"""Custom Keras layers of the digit networks."""

import math

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="skdigits")
class RandomAffine(layers.Layer):
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

    def __init__(self, rotation=10.0, zoom=0.1, shift=0.1, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rotation = rotation
        self.zoom = zoom
        self.shift = shift
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=None):
        if not training:
            return images
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

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(rotation=self.rotation, zoom=self.zoom, shift=self.shift, seed=self.seed)
        return config
