"""The finder network (``skdigits.reader._finder``) built with Keras, for training; imports TensorFlow."""

from ._finder import BN_EPSILON, DECODER, ENCODER, OUTPUTS

__all__ = ["build_finder", "finder_tensors"]


def build_finder():
    """The finder as a Keras model: (batch, H, W, 1) -> (batch, H / 2, W / 2, 2) logits.

    The layers are named as ``skdigits.reader._finder.expected_shapes`` names the
    tensors; ``finder_onnx`` writes the same network (sigmoid applied) as ONNX.
    """
    import keras
    from keras import layers

    def conv(x, name, filters, dilation):
        x = layers.Conv2D(filters, 3, padding="same", dilation_rate=dilation, use_bias=False, name=name)(x)
        x = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_bn")(x)
        return layers.ReLU(name=f"{name}_relu")(x)

    inputs = keras.Input((None, None, 1), name="grid")
    x, skips = inputs, {}
    for name, filters, dilation in ENCODER:
        if name.endswith("a"):
            x = layers.MaxPooling2D(2, name=f"pool_{name}")(x)
        x = skips[name] = conv(x, name, filters, dilation)
    for name, filters, dilation, skip in DECODER:
        x = layers.Concatenate(name=f"join_{name}")([layers.UpSampling2D(2, name=f"up_{name}")(x), skips[skip]])
        x = conv(x, name, filters, dilation)
    # Both maps start near 0.1 everywhere (CenterNet's prior), not 0.5: most of a picture is neither.
    outputs = layers.Conv2D(OUTPUTS, 1, name="head", bias_initializer=keras.initializers.Constant(-2.19))(x)
    return keras.Model(inputs, outputs, name="finder")


def finder_tensors(model):
    """The model's weights by name (``stem/kernel``, ``stem_bn/gamma``, ...), float32 arrays."""
    import numpy as np

    return {variable.path: np.asarray(variable.numpy(), np.float32) for variable in model.weights}
