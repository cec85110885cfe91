"""
The report's theory as parameters
=================================

The report skdigits grew from explains activations (sigmoid, ReLU), costs
(squared error, cross-entropy) and gradient descent with momentum and
Nesterov's look-ahead. Each is a parameter of
:class:`skdigits.CNNDigitClassifier`; here each is switched on scikit-learn's
8x8 digits and its validation accuracy followed epoch by epoch from
``history_``. (The full study on MNIST, with three seeds and tuned learning
rates, is on the benchmark pages.)
"""

import matplotlib.pyplot as plt
from sklearn.datasets import load_digits

from skdigits import CNNDigitClassifier

X, y = load_digits(return_X_y=True)
base = dict(epochs=10, conv_blocks=2, augment=False, lr_schedule="constant", random_state=0)
studies = {
    "activation": {"relu": dict(activation="relu"), "sigmoid": dict(activation="sigmoid")},
    "cost": {"cross-entropy": dict(loss="categorical_crossentropy"), "squared error": dict(loss="mse")},
    "optimizer": {"gradient descent": dict(optimizer="sgd", learning_rate=0.1),
                  "momentum": dict(optimizer="momentum", learning_rate=0.03),
                  "Nesterov": dict(optimizer="nesterov", learning_rate=0.03)},
}
fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), sharey=True)
for ax, (study, variants) in zip(axes, studies.items()):
    for name, params in variants.items():
        clf = CNNDigitClassifier(**{**base, "learning_rate": 3e-3, **params}).fit(X, y)
        ax.plot(range(1, base["epochs"] + 1), clf.history_["val_accuracy"], label=name)
    ax.set(title=study, xlabel="epoch")
    ax.legend()
    ax.grid(alpha=0.3)
axes[0].set_ylabel("validation accuracy")
fig.tight_layout()
