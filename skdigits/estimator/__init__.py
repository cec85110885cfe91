"""The estimator: CNNDigitClassifier, the Keras network it builds and the checks on its parameters and inputs.

The public names are imported from :mod:`skdigits`.
"""
