"""Model files: safetensors with a JSON header (no code), their checks, the pretrained model, and the ONNX graphs written from them.

The public names are imported from :mod:`skdigits`.
"""
