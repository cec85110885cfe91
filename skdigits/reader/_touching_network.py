"""The reader of touching digits (``skdigits.reader._touching``) built with Keras, for training; imports TensorFlow."""

from ._touching import BN_EPSILON, CLASSES, CONTEXT, LAYERS, ROWS, STRIP_HEIGHT

__all__ = ["build_touching", "touching_tensors"]


def build_touching():
    """The network as a Keras model: (batch, STRIP_HEIGHT, W, 1) -> (batch, W / FRAME, CLASSES) logits.

    The layers are named as ``skdigits.reader._touching.expected_shapes`` names
    the tensors; ``touching_onnx`` writes the same network (softmax applied) as ONNX.
    """
    import keras
    from keras import layers

    def conv(x, name, filters, kernel, padding="same"):
        x = layers.Conv2D(filters, kernel, padding=padding, use_bias=False, name=name)(x)
        x = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_bn")(x)
        return layers.ReLU(name=f"{name}_relu")(x)

    inputs = keras.Input((STRIP_HEIGHT, None, 1), name="strip")
    x = inputs
    for name, filters, kernel, pool in LAYERS:
        x = conv(x, name, filters, kernel)
        if pool is not None:
            x = layers.MaxPooling2D(pool, name=f"pool_{name}")(x)
    x = conv(x, ROWS[0], ROWS[1], ROWS[2], padding="valid")
    for name, filters, kernel in CONTEXT:
        x = conv(x, name, filters, kernel)
    x = layers.Conv2D(CLASSES, 1, name="head")(x)
    outputs = layers.Reshape((-1, CLASSES), name="columns")(x)
    return keras.Model(inputs, outputs, name="touching")


def touching_tensors(model):
    """The model's weights by name (``conv1/kernel``, ``conv1_bn/gamma``, ...), float32 arrays."""
    import numpy as np

    return {variable.path: np.asarray(variable.numpy(), np.float32) for variable in model.weights}
