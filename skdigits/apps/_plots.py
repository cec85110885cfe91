"""PNG figures for ``skdigits evaluate --plots`` (matplotlib, the ``plots`` extra)."""

import os

import numpy as np

# Most misclassified images shown in the gallery.
GALLERY_SIZE = 36


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    return plt


def save_evaluation_plots(folder, model, X, y_true, y_pred, proba, labels, matrix):
    """Write the confusion matrix, the misclassified gallery and the training curves.

    Returns the paths written.
    """
    plt = _pyplot()
    os.makedirs(folder, exist_ok=True)
    paths = []

    fig, ax = plt.subplots(figsize=(7, 6))
    im = ax.imshow(matrix, cmap="Blues")
    ax.set(xticks=range(len(labels)), yticks=range(len(labels)), xticklabels=labels, yticklabels=labels,
           xlabel="predicted", ylabel="true", title=f"Confusion matrix ({len(y_true)} test images)")
    for (i, j), v in np.ndenumerate(matrix):
        ax.text(j, i, str(v), ha="center", va="center", fontsize=7,
                color="white" if v > matrix.max() / 2 else "black")
    fig.colorbar(im, ax=ax)
    paths.append(_save(fig, folder, "confusion_matrix.png", plt))

    wrong = np.flatnonzero(y_pred != y_true)
    # The most confident mistakes first: the most instructive.
    wrong = wrong[np.argsort(-proba[wrong].max(axis=1))][:GALLERY_SIZE]
    cols = 6
    rows = max(1, int(np.ceil(len(wrong) / cols)))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.6, rows * 1.8), squeeze=False)
    side = getattr(model, "image_shape_", None) or (int(np.sqrt(np.asarray(X[0]).size)),) * 2
    for ax in axes.ravel():
        ax.axis("off")
    for ax, i in zip(axes.ravel(), wrong):
        ax.imshow(np.asarray(X[i]).reshape(side), cmap="gray")
        ax.set_title(f"true {y_true[i]} / pred {y_pred[i]}\np={proba[i].max():.2f}", fontsize=8)
    fig.suptitle(f"{len(np.flatnonzero(y_pred != y_true))} misclassified; most confident shown")
    paths.append(_save(fig, folder, "misclassified.png", plt))

    history = _history(model)
    if history:
        fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
        epochs = np.arange(1, len(history["loss"]) + 1)
        for key, ax in (("loss", ax_loss), ("accuracy", ax_acc)):
            ax.plot(epochs, history[key], label=f"training {key}")
            if f"val_{key}" in history:
                ax.plot(epochs, history[f"val_{key}"], label=f"validation {key}")
            ax.set(xlabel="epoch", ylabel=key)
            ax.legend()
        fig.suptitle("Training curves")
        paths.append(_save(fig, folder, "training_curves.png", plt))
    return paths


def _history(model):
    # A bare estimator or the last step of a pipeline.
    final = model.steps[-1][1] if hasattr(model, "steps") else model
    history = getattr(final, "history_", None)
    return dict(history) if history and "loss" in history else None


def _save(fig, folder, name, plt):
    path = os.path.join(folder, name)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
