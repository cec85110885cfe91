"""The digit CNN as an ONNX graph, run by ONNX Runtime: predictions without TensorFlow.

The graph is written by ``onnx_model`` from the model's parameters, op by op
as ``skdigits.estimator._network.build_cnn`` builds the Keras network, as ONNX protobuf
bytes (``skdigits.model_files._onnx_proto``); the weights are the model file's tensors. Nothing in a model
file is taken as a program: a file only says how many filters, blocks and
units, and holds the numbers.

Test-time averaging is part of the graph: the image and its four copies
shifted by a pixel go through the network as one batch, and their outputs
are averaged there, so it costs one call.
"""

import numpy as np

from ..estimator._architecture import BN_EPSILON, TTA_SHIFTS, kernel_pair
from . import _onnx_proto as proto

__all__ = ["onnx_model", "OnnxDigitClassifier"]

# ONNX's opset: Pad with mode "edge", ReduceMean with axes as an input.
OPSET = 18
# Views of each image with test-time averaging: itself and one per shift.
VIEWS = len(TTA_SHIFTS) + 1
# Images per run of the graph: their activations (five views each with
# averaging) stay within the caches; all of MNIST's test set at once would
# need gigabytes.
PREDICT_BATCH = 256


def _same_pads(kernel):
    """Keras's "same" padding for a stride-1 kernel: the odd pixel at the end, as TensorFlow puts it."""
    total = kernel - 1
    return total // 2, total - total // 2


def onnx_model(params, image_shape, classes_count, pixel_mean, pixel_std, tensors, *, tta=False):
    """An ONNX model of the network ``params`` describe, with ``tensors`` as its weights.

    Parameters
    ----------
    params : object
        ``filters``, ``conv_blocks``, ``kernel_size``, ``dense_units`` and
        ``activation`` attributes (an estimator, a namespace).
    image_shape : (int, int)
    classes_count : int
    pixel_mean, pixel_std : float
        The standardisation learned in ``fit``.
    tensors : dict of str -> ndarray
        The Keras weights by name (``conv1/kernel``, ...), float32.
    tta : bool, default=False
        Average the outputs over the image and its shifted copies, in the graph.

    Returns
    -------
    model : bytes
        A serialised ONNX ModelProto. Input ``pixels`` (n, height*width)
        float32; output ``probabilities`` (n, classes_count) float32.
    """
    height, width = image_shape
    graph = proto.Graph()
    nodes, weights, constant, node = graph.nodes, graph.weights, graph.constant, graph.node

    x = node("Reshape", ["pixels", constant("image_shape", [-1, 1, height, width], np.int64)], "images")
    if tta:
        # Each view is the image moved by (rows, columns), its edge repeated, as shifted_views makes it.
        padded = node("Pad", [x, constant("pads", [0, 0, 1, 1, 0, 0, 1, 1], np.int64)], "padded", mode="edge")
        views = [x]
        for k, (dy, dx) in enumerate(TTA_SHIFTS):
            starts = constant(f"view{k}_starts", [1 - dy, 1 - dx], np.int64)
            ends = constant(f"view{k}_ends", [1 - dy + height, 1 - dx + width], np.int64)
            views.append(node("Slice", [padded, starts, ends, constant(f"view{k}_axes", [2, 3], np.int64)],
                              f"view{k}"))
        x = node("Concat", views, "views", axis=0)
    # Keras's Rescaling: x * (1 / std) + (-mean / std), in float32.
    x = node("Mul", [x, constant("scale", 1.0 / pixel_std)], "scaled")
    x = node("Add", [x, constant("offset", -pixel_mean / pixel_std)], "standardized")
    kernel_h, kernel_w = kernel_pair(params.kernel_size)
    (top, bottom), (left, right) = _same_pads(kernel_h), _same_pads(kernel_w)
    activation = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh"}[params.activation]
    for block in range(1, params.conv_blocks + 1):
        # Keras keeps kernels as (h, w, in, out); ONNX as (out, in, h, w).
        kernel = constant(f"conv{block}_w", tensors[f"conv{block}/kernel"].transpose(3, 2, 0, 1))
        x = node("Conv", [x, kernel, constant(f"conv{block}_b", tensors[f"conv{block}/bias"])], f"conv{block}",
                 pads=[top, left, bottom, right])
        x = node(activation, [x], f"conv{block}_act")
        # "same" pooling by 2: a side of n becomes ceil(n / 2), the last window cut short.
        x = node("MaxPool", [x], f"pool{block}", kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1)
    # Keras flattens (h, w, channels) in that order.
    x = node("Transpose", [x], "channels_last", perm=[0, 2, 3, 1])
    x = node("Reshape", [x, constant("flat_shape", [0, -1], np.int64)], "flat")
    x = node("MatMul", [x, constant("dense_w", tensors["dense/kernel"])], "dense")
    x = node("BatchNormalization", [x, constant("bn_gamma", tensors["dense_bn/gamma"]),
                                    constant("bn_beta", tensors["dense_bn/beta"]),
                                    constant("bn_mean", tensors["dense_bn/moving_mean"]),
                                    constant("bn_var", tensors["dense_bn/moving_variance"])],
             "dense_bn", epsilon=BN_EPSILON)
    x = node(activation, [x], "dense_act")
    x = node("MatMul", [x, constant("softmax_w", tensors["softmax/kernel"])], "logits_w")
    x = node("Add", [x, constant("softmax_b", tensors["softmax/bias"])], "logits")
    x = node("Softmax", [x], "softmax", axis=-1)
    if tta:
        x = node("Reshape", [x, constant("views_shape", [VIEWS, -1, classes_count], np.int64)], "by_view")
        x = node("ReduceMean", [x, constant("view_axis", [0], np.int64)], "averaged", keepdims=0)
    nodes.append(proto.node("Identity", [x], ["probabilities"], "probabilities"))
    # IR version 8 is the first that opset 18 may be used with.
    return proto.model(nodes, "skdigits_cnn", [proto.value_info("pixels", proto.FLOAT, ["n", height * width])],
                       [proto.value_info("probabilities", proto.FLOAT, ["n", classes_count])], weights,
                       opset=OPSET, ir_version=8, producer="skdigits")


def inference_session(model, threads=None):
    """An ONNX Runtime session of ``model`` (bytes) on the CPU, ``threads`` within an operator (None: its default)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])


class OnnxDigitClassifier:
    """A skdigits model run by ONNX Runtime: ``predict`` and ``predict_proba`` without TensorFlow.

    Made by :func:`skdigits.load_model` with ``runtime="onnx"`` (or
    :func:`skdigits.load_pretrained`): it predicts what the Keras model
    predicts (the same labels on MNIST's test set, probabilities within 1e-4),
    in a process that never imports TensorFlow. It cannot be trained: fit a
    :class:`CNNDigitClassifier` and save it.

    Attributes
    ----------
    classes_ : ndarray
        The class labels, in the order of ``predict_proba``'s columns.
    image_shape_ : (int, int)
    n_features_in_ : int
    tta : bool
        Whether ``predict_proba`` averages over shifted copies (from the model's ``tta``).
    onnx_model_ : bytes
        The graph run, a serialised ONNX model (what ``skdigits export`` writes).

    Examples
    --------
    >>> from skdigits import load_mnist, load_pretrained
    >>> _, X_test, _, y_test = load_mnist(n_test=500)
    >>> clf = load_pretrained(runtime="onnx")
    >>> type(clf).__name__, clf.score(X_test, y_test) > 0.99
    ('OnnxDigitClassifier', True)
    """

    def __init__(self, onnx_model_, classes, image_shape, *, tta):
        self.onnx_model_ = onnx_model_
        self.classes_ = np.asarray(classes)
        self.image_shape_ = tuple(image_shape)
        self.n_features_in_ = self.image_shape_[0] * self.image_shape_[1]
        self.tta = tta
        self._session = None

    def __sklearn_is_fitted__(self):
        return True

    def __sklearn_tags__(self):
        # Not a BaseEstimator: it has no parameters to get, set or clone; a fitted classifier all the same.
        from sklearn.utils import ClassifierTags, InputTags, Tags, TargetTags

        return Tags(estimator_type="classifier", target_tags=TargetTags(required=True),
                    classifier_tags=ClassifierTags(), input_tags=InputTags())

    def __getstate__(self):
        return {**self.__dict__, "_session": None}  # a session is rebuilt where it is unpickled

    @property
    def session(self):
        if self._session is None:
            from .._threads import thread_limit

            self._session = inference_session(self.onnx_model_, thread_limit())
        return self._session

    def fit(self, X, y=None):
        """Not possible: an ONNX model cannot be trained. Fit a CNNDigitClassifier and save it."""
        raise TypeError("an OnnxDigitClassifier predicts only; train a CNNDigitClassifier, save it with "
                        "save_model, and load the file with load_model(path, runtime='onnx')")

    def _images(self, X):
        X = np.asarray(X)
        if not np.issubdtype(X.dtype, np.number) or np.issubdtype(X.dtype, np.complexfloating):
            raise ValueError(f"images must hold real numbers, got dtype {X.dtype}")
        height, width = self.image_shape_
        if X.ndim == 4 and X.shape[3] == 1:
            X = X[..., 0]
        if X.ndim == 3 and X.shape[1:] == (height, width):
            X = X.reshape(len(X), height * width)
        if X.ndim != 2 or X.shape[1] != height * width:
            raise ValueError(f"X has shape {X.shape}; this model takes images of {height}x{width} pixels: "
                             f"(n, {height * width}), (n, {height}, {width}) or (n, {height}, {width}, 1)")
        X = X.astype(np.float32)
        if not np.all(np.isfinite(X)):
            raise ValueError("X holds NaN or infinite values")
        return X

    def predict_proba(self, X):
        """Class probabilities of images X, one row per image, columns in ``classes_`` order."""
        X = self._images(X)
        if len(X) == 0:
            return np.zeros((0, len(self.classes_)))
        session = self.session
        proba = np.concatenate([session.run(["probabilities"], {"pixels": X[start:start + PREDICT_BATCH]})[0]
                                for start in range(0, len(X), PREDICT_BATCH)]).astype(np.float64)
        return proba / proba.sum(axis=1, keepdims=True)

    def predict(self, X):
        """The predicted label of each image in X."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def score(self, X, y, sample_weight=None):
        """Accuracy of ``predict(X)`` against y (weighted by ``sample_weight``), as scikit-learn's classifiers."""
        right = self.predict(X) == np.asarray(y)
        return float(np.average(right, weights=sample_weight))

    def __repr__(self):
        return f"OnnxDigitClassifier(image_shape={self.image_shape_}, classes={len(self.classes_)}, tta={self.tta})"
