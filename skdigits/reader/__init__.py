"""The photo reader: finding the ink in a picture, cutting it into digits, and reading them.

Importing it does not import TensorFlow: reading runs the network through ONNX Runtime.

The public names are imported from :mod:`skdigits`.
"""
