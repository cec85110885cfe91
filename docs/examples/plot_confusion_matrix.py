"""
The pretrained model's confusion matrix on MNIST
================================================

The model that ships with skdigits, run by ONNX Runtime (no TensorFlow), on
the 10,000 MNIST test images, then its most confident mistakes.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import ConfusionMatrixDisplay

from skdigits import load_mnist, load_pretrained

_, X_test, _, y_test = load_mnist()
model = load_pretrained(runtime="onnx")
proba = model.predict_proba(X_test)
predicted = model.classes_[proba.argmax(axis=1)]
print(f"accuracy: {np.mean(predicted == y_test):.4f} ({np.sum(predicted != y_test)} errors)")

fig, ax = plt.subplots(figsize=(6, 6))
ConfusionMatrixDisplay.from_predictions(y_test, predicted, ax=ax, colorbar=False)
ax.set_title("pretrained model, MNIST test set")

# %%
# The mistakes it is surest of: true label, then what it read and how sure it was.
wrong = np.flatnonzero(predicted != y_test)
worst = wrong[np.argsort(-proba[wrong].max(axis=1))][:8]
fig, axes = plt.subplots(1, len(worst), figsize=(12, 2))
for ax, i in zip(axes, worst):
    ax.imshow(X_test[i], cmap="gray_r")
    ax.set_title(f"{y_test[i]} -> {predicted[i]}\np={proba[i].max():.2f}", fontsize=9)
    ax.axis("off")
