"""CNNDigitClassifier: the scikit-learn face of the digit CNN."""

import inspect

import keras
import numpy as np
from scikeras.wrappers import BaseWrapper
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import accuracy_score
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from ._architecture import ROUTED_PREFIXES
from ._input import training_datasets
from ._labels import OneHotLabels
from ._network import (
    LOSSES,
    MIN_AUGMENT_SIDE,
    OneCycle,
    auto_batch_size,
    build_cnn,
    cosine_schedule,
    make_optimizer,
    predict_averaged,
    predict_in_batches,
)
from ._runtime import limit_tensorflow_threads
from ._validation import check_flag, check_params, validate_images

# Prefixes of the scikeras-routed parameters this estimator accepts as **kwargs.
_ROUTED_PREFIXES = ROUTED_PREFIXES


class CNNDigitClassifier(ClassifierMixin, BaseWrapper):
    """A convolutional neural network for images of handwritten digits.

    A scikit-learn classifier (``ClassifierMixin`` first, as scikit-learn
    requires) built on scikeras's ``BaseWrapper``, which routes parameters
    and runs the Keras training: it clones, pickles, and works in pipelines,
    ``cross_val_score`` and ``GridSearchCV``. The network (see ``skdigits.estimator._network.build_cnn``) is the
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
    learning_rate : float > 0, default=8e-3
        Peak learning rate of the schedule ("one_cycle"), or the initial one
        ("cosine", "constant").
    lr_schedule : {"one_cycle", "cosine", "constant"}, default="one_cycle"
        "one_cycle" sets the rate before every step: a linear warm-up over
        the first 15% of the steps from ``learning_rate / 10`` to
        ``learning_rate``, then a cosine decay to zero at the last step, which
        is what lets a short fit reach a long one's accuracy. "cosine" decays
        it towards zero over ``epochs``, once per epoch (the schedule of the
        earlier 14-epoch default: ``epochs=14, batch_size=128,
        learning_rate=1e-3, lr_schedule="cosine", early_stopping=True,
        tta=False``). "constant" keeps it.
    loss : {"categorical_crossentropy", "mse"}, default="categorical_crossentropy"
        Cost function: cross-entropy, or the report's mean squared error
        between the softmax output and the one-hot label.
    epochs : int, default=7
        Passes over the training data.
    batch_size : int or "auto", default="auto"
        Images per gradient step. "auto" takes about 100 steps per epoch,
        within 32 to 512: ``min(512, max(32, n_train // 100))``, with
        ``n_train`` the images left after the validation split (512 on
        MNIST's 54,000; small sets get more, smaller steps).
    augment : bool, default=True
        Random small rotations (up to 10 degrees), shifts (10%) and zooms (10%)
        of the training images, in training only. Skipped for images under 16
        pixels on a side (scikit-learn's 8x8 digits), where they mostly blur.
    augment_ink : bool, default=False
        Random pen changes of the training images, in training only: a
        quarter drawn a pixel thicker on every side, a tenth thinner, and
        three in ten blurred (see ``skdigits.estimator._layers.RandomInk``). For models
        that read photos, where pens and resolutions vary: the pretrained
        model is trained with it. Skipped below 16 pixels on a side, as
        ``augment``.
    tta : bool, default=True
        Test-time averaging: ``predict_proba`` (and so ``predict`` and
        ``score``) averages the network's output on each image and on four
        copies shifted by one pixel (right, left, down, up), at five times
        the cost of one pass; False predicts from the image alone. A prediction-time
        switch: ``set_params(tta=False)`` on a fitted estimator takes effect
        at once. Skipped for images under 16 pixels on a side, as ``augment``.
    validation_fraction : float in [0, 1), default=0.1
        Fraction of the training data held out (at random, seeded by
        ``random_state``) to measure validation loss and accuracy each epoch
        (``history_["val_accuracy"]``). 0 trains on everything.
    early_stopping : bool, default=False
        Stop when the validation loss has not improved for
        ``n_iter_no_change`` epochs, and keep the best epoch's weights
        (meant for long fits; "one_cycle" ends at its lowest rate, where the
        last epoch is the best).
    n_iter_no_change : int, default=5
        Patience of early stopping, in epochs.
    image_shape : None or (int, int), default=None
        ``(height, width)`` of flat input rows. None takes square images
        (784 features are 28x28); one side may be -1 to be inferred, so
        ``(1, -1)`` treats each row as a one-pixel-high strip. Ignored when X
        is given as images ``(n, height, width[, 1])``.
    warm_start : bool, default=False
        When True, ``fit`` on a fitted estimator continues training its
        network (the learning-rate schedule starts again) instead of building
        a new one, as in ``MLPClassifier``. The images must have the shape
        seen before and the labels must be among ``classes_``; the pixel
        statistics of the first fit are kept.
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

    Continue training for two more epochs, or train from chunks of data:

    >>> clf = clf.set_params(warm_start=True, epochs=2).fit(X_train, y_train)
    >>> stream = CNNDigitClassifier(random_state=0)
    >>> for start in range(0, len(X_train), 450):
    ...     stream = stream.partial_fit(X_train[start:start + 450], y_train[start:start + 450],
    ...                                 classes=range(10))
    >>> len(stream.history_["loss"])
    3
    """

    # scikeras reads these; this estimator builds its own network, once per fit.
    model = None
    build_fn = None
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
        learning_rate=8e-3,
        lr_schedule="one_cycle",
        loss="categorical_crossentropy",
        epochs=7,
        batch_size="auto",
        augment=True,
        augment_ink=False,
        tta=True,
        validation_fraction=0.1,
        early_stopping=False,
        n_iter_no_change=5,
        image_shape=None,
        warm_start=False,
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
        self.augment_ink = augment_ink
        self.tta = tta
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.n_iter_no_change = n_iter_no_change
        self.image_shape = image_shape
        self.warm_start = warm_start
        self.callbacks = callbacks
        self.random_state = random_state
        self.verbose = verbose
        vars(self).update(kwargs)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True  # images (n, height, width)
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
            augment_ink=self.augment_ink,
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
        self._user_fit_callbacks = self._fit_callbacks
        own = []
        if self.lr_schedule == "one_cycle":
            own.append(OneCycle(self.learning_rate, self.epochs))
        elif self.lr_schedule == "cosine":
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
        batch_size = kwargs.get("batch_size", self.batch_size)
        if batch_size == "auto":
            batch_size = auto_batch_size(int(len(X) * (1.0 - fraction)))
        kwargs["batch_size"] = batch_size
        train, validation = training_datasets(
            X,
            y,
            sample_weight,
            batch_size=batch_size,
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
        warm = self.warm_start and hasattr(self, "model_")
        X, y, sample_weight = self._training_data(X, y, sample_weight, first=not warm)
        if warm:
            self._check_known_labels(y, "warm_start")
            self._initialize_callbacks()  # not pickled with the estimator
        else:
            classes = np.unique(y)
            if len(classes) < 2:
                raise ValueError(
                    f"{type(self).__name__} needs samples of at least 2 classes, but the "
                    f"training data contain only one class: {classes[0]!r}."
                )
            self._learn_pixel_scale(X)
        if self.validation_fraction > 0:
            # The last rows are held out: shuffle first, so the held-out part is random.
            order = check_random_state(self.random_state).permutation(len(X))
            X, y = X[order], y[order]
            if sample_weight is not None:
                sample_weight = sample_weight[order]
            kwargs.setdefault("validation_split", self.validation_fraction)
        super().fit(X, y, sample_weight=sample_weight, **kwargs)
        return self

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train the network for one epoch on the batch X, y, keeping what it learned before.

        For data that come in chunks or do not fit in memory. The first call
        builds the network for all of ``classes`` and learns the pixel scale
        from its batch; later calls (or calls after ``fit``) continue
        training it at the constant ``learning_rate``, without a validation
        split or early stopping.

        Parameters
        ----------
        X : array-like of shape (n, height*width), (n, height, width) or (n, height, width, 1)
        y : array-like of shape (n,)
        classes : array-like, default=None
            Every label the data will hold. Required on the first call, as in
            scikit-learn; later calls may omit it, or must repeat the same.
        sample_weight : array-like of shape (n,), default=None

        Returns
        -------
        self : CNNDigitClassifier
        """
        first = not hasattr(self, "model_")
        if first and classes is None:
            raise ValueError(
                "classes must be passed on the first call to partial_fit: every label the data will hold."
            )
        X, y, sample_weight = self._training_data(X, y, sample_weight, first=first)
        if first:
            classes = np.unique(np.asarray(list(classes)))
            if len(classes) < 2:
                raise ValueError(f"classes must hold at least 2 labels, got {classes!r}.")
            unknown = np.setdiff1d(np.unique(y), classes)
            if unknown.size:
                raise ValueError(f"y holds labels {unknown.tolist()} that are not in classes {classes.tolist()}.")
            self._learn_pixel_scale(X)
            # scikeras's way to build the network without training it, for all the classes.
            self.initialize(np.zeros((len(classes), X.shape[1]), dtype=np.float32), classes)
        else:
            if classes is not None and not np.array_equal(np.unique(np.asarray(classes)), self.classes_):
                raise ValueError(
                    f"classes {np.unique(np.asarray(classes)).tolist()} differ from those of the first "
                    f"call, {self.classes_.tolist()}; partial_fit cannot add labels."
                )
            self._check_known_labels(y, "partial_fit")
            self._initialize_callbacks()
        # One epoch at the constant learning rate: the schedule and early
        # stopping belong to a whole fit.
        self._fit_callbacks = self._user_fit_callbacks
        self.model_.optimizer.learning_rate.assign(self.learning_rate)
        BaseWrapper.partial_fit(self, X, y, sample_weight=sample_weight)
        return self

    def _training_data(self, X, y, sample_weight, *, first):
        """Checked parameters, images, labels and weights; ``first`` learns the image shape."""
        check_params(self)
        self._check_routed_params()
        limit_tensorflow_threads()
        X, y = validate_images(self, X, y, reset=first)
        check_classification_targets(y)
        if sample_weight is not None:
            X, y, sample_weight = _drop_zero_weights(X, y, sample_weight)
        return X, y, sample_weight

    def _learn_pixel_scale(self, X):
        self.pixel_mean_ = float(X.mean(dtype=np.float64))
        std = float(X.std(dtype=np.float64))
        self.pixel_std_ = std if std > 0 else 1.0

    def _check_known_labels(self, y, how):
        unknown = np.setdiff1d(np.unique(y), self.classes_)
        if unknown.size:
            raise ValueError(
                f"y holds labels {unknown.tolist()} not seen when the network was built "
                f"(classes_ = {self.classes_.tolist()}); {how} cannot add labels: fit a new estimator."
            )

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
        check_flag(self, "tta")  # a prediction-time switch, settable after fit
        limit_tensorflow_threads()
        X = validate_images(self, X, reset=False)
        if self.tta and min(self.image_shape_) >= MIN_AUGMENT_SIDE:
            proba = predict_averaged(self.model_, X, self.image_shape_)
        else:
            proba = predict_in_batches(self.model_, X)
        proba = proba.astype(np.float64)
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
