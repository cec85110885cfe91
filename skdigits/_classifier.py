"""CNNDigitClassifier: the scikit-learn face of the digit CNN."""

import inspect

import keras
import numpy as np
from scikeras.wrappers import KerasClassifier
from sklearn.base import BaseEstimator
from sklearn.metrics import accuracy_score
from sklearn.utils import ClassifierTags, check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from ._input import training_datasets
from ._labels import OneHotLabels
from ._network import LOSSES, build_cnn, cosine_schedule, make_optimizer, predict_in_batches
from ._runtime import limit_tensorflow_threads
from ._validation import check_params, validate_images

# Prefixes of the scikeras-routed parameters this estimator accepts as **kwargs.
_ROUTED_PREFIXES = ("optimizer", "compile", "fit", "callbacks")


class CNNDigitClassifier(KerasClassifier):
    """A convolutional neural network for images of handwritten digits.

    A scikit-learn classifier built on scikeras's ``KerasClassifier``: it
    clones, pickles, and works in pipelines, ``cross_val_score`` and
    ``GridSearchCV``. The network (see ``skdigits._network.build_cnn``) is the
    report's: blocks of convolution, activation and max pooling (three by
    default), then a dense layer (batch-normalised), dropout and a softmax over the classes;
    training images are randomly rotated, zoomed and shifted.

    Parameters
    ----------
    filters : int, default=32
        Convolution filters of the first block; each further block has twice
        as many as the one before.
    conv_blocks : int >= 1, default=3
        Blocks of convolution -> activation -> 2x2 max pooling.
    kernel_size : int or (int, int), default=3
        Size of the convolution windows.
    dense_units : int, default=128
        Units of the dense layer before the softmax.
    dropout : float in [0, 1), default=0.25
        Dropout rate before the softmax layer.
    activation : {"relu", "sigmoid", "tanh"}, default="relu"
        Activation of the hidden layers; the output is always softmax.
    optimizer : {"adam", "sgd", "momentum", "nesterov", "rmsprop"}, default="adam"
        "momentum" and "nesterov" are SGD with the report's momentum 0.9,
        plain and Nesterov accelerated. ``optimizer__<name>`` parameters are
        passed to the Keras optimizer (e.g. ``optimizer__momentum=0.5``).
    learning_rate : float > 0, default=1e-3
        Initial learning rate.
    lr_schedule : {"cosine", "constant"}, default="cosine"
        "cosine" decays the learning rate towards zero over ``epochs``.
    loss : {"categorical_crossentropy", "mse"}, default="categorical_crossentropy"
        Cost function: cross-entropy, or the report's mean squared error
        between the softmax output and the one-hot label.
    epochs : int, default=14
        Passes over the training data.
    batch_size : int, default=128
        Images per gradient step.
    augment : bool, default=True
        Random small rotations (up to 10 degrees), shifts (10%) and zooms (10%)
        of the training images, in training only. Skipped for images under 16
        pixels on a side (scikit-learn's 8x8 digits), where they mostly blur.
    validation_fraction : float in [0, 1), default=0.1
        Fraction of the training data held out (at random, seeded by
        ``random_state``) to measure validation loss and accuracy each epoch
        (``history_["val_accuracy"]``). 0 trains on everything.
    early_stopping : bool, default=True
        Stop when the validation loss has not improved for
        ``n_iter_no_change`` epochs, and keep the best epoch's weights.
    n_iter_no_change : int, default=5
        Patience of early stopping, in epochs.
    image_shape : None or (int, int), default=None
        ``(height, width)`` of flat input rows. None takes square images
        (784 features are 28x28); one side may be -1 to be inferred, so
        ``(1, -1)`` treats each row as a one-pixel-high strip. Ignored when X
        is given as images ``(n, height, width[, 1])``.
    callbacks : list of keras.callbacks.Callback, default=None
        Extra Keras callbacks for training (scikeras routing applies).
    random_state : int, RandomState or None, default=None
        Seed of the weights, the validation split, augmentation, dropout and
        shuffling. With a seed, fits are reproducible (TensorFlow op
        determinism is enabled during fit).
    verbose : int, default=0
        0 is silent, 1 shows Keras's progress bar, 2 one line per epoch.
    **kwargs
        scikeras routed parameters: ``optimizer__*``, ``compile__*``,
        ``fit__*`` and ``callbacks__*``.

    Attributes
    ----------
    classes_ : ndarray
        The class labels seen in ``fit``.
    n_classes_ : int
        Number of classes.
    n_features_in_ : int
        Pixels per image (height * width) seen in ``fit``.
    feature_names_in_ : ndarray of str
        Column names, when ``fit`` was given a DataFrame with string columns.
    image_shape_ : (int, int)
        ``(height, width)`` of the images seen in ``fit``.
    pixel_mean_, pixel_std_ : float
        Mean and standard deviation of the training pixels; the network
        standardises its input with them, so raw 0..255 or 0..16 pixels and
        standardised features all work without a scaler.
    model_ : keras.Model
        The fitted network. It takes flat float32 rows of pixels and returns
        class probabilities; save it with ``model_.save("digits.keras")``.
    history_ : dict of lists
        Per-epoch ``loss``, ``accuracy`` and, with a validation fraction,
        ``val_loss`` and ``val_accuracy``.

    See Also
    --------
    skdigits.load_mnist : The MNIST digits bundled with the package.
    skdigits.MNISTPreprocessor : Turns photos and scans of digits into MNIST-style images.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.model_selection import train_test_split
    >>> from skdigits import CNNDigitClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    >>> clf = CNNDigitClassifier(epochs=8, random_state=0).fit(X_train, y_train)
    >>> clf.image_shape_, clf.n_features_in_
    ((8, 8), 64)
    >>> clf.score(X_test, y_test) > 0.9
    True
    """

    # scikeras reads these; this estimator builds its own network, once per fit.
    model = None
    build_fn = None
    warm_start = False
    class_weight = None
    metrics = None

    def __init__(
        self,
        *,
        filters=32,
        conv_blocks=3,
        kernel_size=3,
        dense_units=128,
        dropout=0.25,
        activation="relu",
        optimizer="adam",
        learning_rate=1e-3,
        lr_schedule="cosine",
        loss="categorical_crossentropy",
        epochs=14,
        batch_size=128,
        augment=True,
        validation_fraction=0.1,
        early_stopping=True,
        n_iter_no_change=5,
        image_shape=None,
        callbacks=None,
        random_state=None,
        verbose=0,
        **kwargs,
    ):
        self.filters = filters
        self.conv_blocks = conv_blocks
        self.kernel_size = kernel_size
        self.dense_units = dense_units
        self.dropout = dropout
        self.activation = activation
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.lr_schedule = lr_schedule
        self.loss = loss
        self.epochs = epochs
        self.batch_size = batch_size
        self.augment = augment
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.n_iter_no_change = n_iter_no_change
        self.image_shape = image_shape
        self.callbacks = callbacks
        self.random_state = random_state
        self.verbose = verbose
        vars(self).update(kwargs)

    def __sklearn_tags__(self):
        # scikeras 0.13 lists ClassifierMixin after BaseEstimator, whose
        # __sklearn_tags__ does not call super(): on scikit-learn >= 1.6 the
        # mixin's tags are lost, is_classifier() is False and CV stops
        # stratifying. This is the one place that repairs it.
        tags = super().__sklearn_tags__()
        tags.estimator_type = "classifier"
        tags.classifier_tags = ClassifierTags(multi_label=False)
        tags.target_tags.required = True
        tags.input_tags.three_d_array = True
        return tags

    def _routed(self, prefix):
        start = prefix + "__"
        return {
            key[len(start):]: value
            for key, value in self.get_params().items()
            if key.startswith(start) and "__" not in key[len(start):]
        }

    def _check_routed_params(self):
        own = inspect.signature(type(self).__init__).parameters
        routed = tuple(prefix + "__" for prefix in _ROUTED_PREFIXES)
        for key in self.get_params():
            if key not in own and not key.startswith(routed):
                raise TypeError(
                    f"Unknown parameter {key!r} for {type(self).__name__}; routed "
                    f"parameters start with one of {list(routed)}."
                )

    @property
    def target_encoder(self):
        return OneHotLabels()

    @property
    def partial_fit(self):
        # scikeras's partial_fit would skip this estimator's input checks.
        raise AttributeError(f"{type(self).__name__} does not support partial_fit; use fit.")

    def _keras_build_fn(self):
        model = build_cnn(
            self.image_shape_,
            self.n_classes_,
            filters=self.filters,
            conv_blocks=self.conv_blocks,
            kernel_size=self.kernel_size,
            dense_units=self.dense_units,
            dropout=self.dropout,
            activation=self.activation,
            augment=self.augment,
            pixel_mean=self.pixel_mean_,
            pixel_std=self.pixel_std_,
            seed=self._random_state,  # scikeras's integer form of random_state
        )
        optimizer = make_optimizer(self.optimizer, self.learning_rate, **self._routed("optimizer"))
        model.compile(
            optimizer=optimizer,
            loss=LOSSES[self.loss],
            metrics=["accuracy"],
            **self._routed("compile"),
        )
        return model

    def _initialize_callbacks(self):
        super()._initialize_callbacks()
        own = []
        if self.lr_schedule == "cosine":
            own.append(keras.callbacks.LearningRateScheduler(cosine_schedule(self.learning_rate, self.epochs)))
        if self.early_stopping:
            own.append(
                keras.callbacks.EarlyStopping(
                    monitor="val_loss", patience=self.n_iter_no_change, restore_best_weights=True
                )
            )
        self._fit_callbacks = self._fit_callbacks + own

    def _fit_keras_model(self, X, y, sample_weight, warm_start, epochs, initial_epoch, **kwargs):
        # Train from skdigits's own tf.data pipeline, not from arrays: Keras's
        # pipeline for arrays stalls for seconds at each new epoch (see _input.py).
        fraction = kwargs.pop("validation_split", 0.0)
        if "validation_data" in kwargs:
            fraction = 0.0
        train, validation = training_datasets(
            X,
            y,
            sample_weight,
            batch_size=kwargs.get("batch_size", self.batch_size),
            validation_fraction=fraction,
            seed=self._random_state,
        )
        if validation is not None:
            kwargs["validation_data"] = validation
        kwargs["shuffle"] = False  # the dataset reshuffles itself each epoch
        super()._fit_keras_model(train, None, None, warm_start, epochs, initial_epoch, **kwargs)

    def fit(self, X, y, sample_weight=None, **kwargs):
        """Train the network on images X with labels y.

        Parameters
        ----------
        X : array-like of shape (n, height*width), (n, height, width) or (n, height, width, 1)
            Grayscale images with pixels on any scale (learned here).
        y : array-like of shape (n,)
            Class labels: any hashable values, at least two distinct.
        sample_weight : array-like of shape (n,), default=None
            Non-negative weights; samples of weight 0 are dropped.
        **kwargs
            Passed on to ``keras.Model.fit``.

        Returns
        -------
        self : CNNDigitClassifier
        """
        check_params(self)
        self._check_routed_params()
        limit_tensorflow_threads()
        X, y = validate_images(self, X, y, reset=True)
        check_classification_targets(y)
        if sample_weight is not None:
            X, y, sample_weight = _drop_zero_weights(X, y, sample_weight)
        classes = np.unique(y)
        if len(classes) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes, but the "
                f"training data contain only one class: {classes[0]!r}."
            )
        self.pixel_mean_ = float(X.mean(dtype=np.float64))
        std = float(X.std(dtype=np.float64))
        self.pixel_std_ = std if std > 0 else 1.0
        if self.validation_fraction > 0:
            # The last rows are held out: shuffle first, so the held-out part is random.
            order = check_random_state(self.random_state).permutation(len(X))
            X, y = X[order], y[order]
            if sample_weight is not None:
                sample_weight = sample_weight[order]
            kwargs.setdefault("validation_split", self.validation_fraction)
        super().fit(X, y, sample_weight=sample_weight, **kwargs)
        return self

    def predict_proba(self, X):
        """Class probabilities of images X, one row per image, columns in ``classes_`` order.

        Parameters
        ----------
        X : array-like of shape (n, height*width), (n, height, width) or (n, height, width, 1)

        Returns
        -------
        proba : ndarray of shape (n, n_classes)
            Rows sum to 1.
        """
        check_is_fitted(self, "model_")
        limit_tensorflow_threads()
        X = validate_images(self, X, reset=False)
        proba = predict_in_batches(self.model_, X).astype(np.float64)
        return proba / proba.sum(axis=1, keepdims=True)

    def predict(self, X):
        """Predicted class label of each image in X.

        Parameters
        ----------
        X : array-like of shape (n, height*width), (n, height, width) or (n, height, width, 1)

        Returns
        -------
        y : ndarray of shape (n,)
            Labels from ``classes_``.
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def score(self, X, y, sample_weight=None):
        """Accuracy of ``predict(X)`` against y.

        Parameters
        ----------
        X : array-like of images
        y : array-like of shape (n,)
        sample_weight : array-like of shape (n,), default=None

        Returns
        -------
        score : float
        """
        return accuracy_score(y, self.predict(X), sample_weight=sample_weight)

    # scikeras prints one parameter a line; scikit-learn's repr shows what differs from the defaults.
    __repr__ = BaseEstimator.__repr__

    def __getstate__(self):
        # Training callbacks hold the Keras model and its best weights again:
        # transient state that fit rebuilds, not worth pickling.
        state = super().__getstate__()
        state.pop("_fit_callbacks", None)
        state.pop("_predict_callbacks", None)
        return state


def _drop_zero_weights(X, y, sample_weight):
    sample_weight = np.asarray(sample_weight, dtype=np.float64)
    if sample_weight.ndim == 0:
        sample_weight = np.full(len(y), float(sample_weight))
    if sample_weight.shape != (len(y),):
        raise ValueError(
            f"sample_weight has shape {sample_weight.shape}, expected ({len(y)},) to match X and y."
        )
    if not np.all(np.isfinite(sample_weight)) or np.any(sample_weight < 0):
        raise ValueError("sample_weight must be finite and non-negative.")
    keep = sample_weight > 0
    if not keep.any():
        raise ValueError("sample_weight is zero for every sample: nothing to train on.")
    return X[keep], y[keep], sample_weight[keep]
