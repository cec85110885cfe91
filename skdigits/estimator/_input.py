"""The tf.data pipelines that feed training.

Keras turns NumPy arrays into a tf.data pipeline with autotuning on, and starts
a fresh iterator each epoch; on a 2-core machine, destroying the previous
epoch's iterator could wait half a minute for the autotuner's thread, with
both cores idle.

The pipelines below do the same work (a seeded shuffle of indices each epoch,
then one gather per batch) with autotuning off, so no such thread exists.
"""

import math

import numpy as np
import tensorflow as tf

# Batches prepared ahead of the training step; one gather each, so two suffice.
PREFETCH = 2


def _options():
    options = tf.data.Options()
    options.autotune.enabled = False
    # Keras turns these off as well: graph rewrites cost more than they save here.
    options.experimental_optimization.apply_default_optimizations = False
    options.deterministic = True
    return options


def batches(arrays, batch_size, *, shuffle=False, seed=None):
    """A dataset of batches of ``arrays`` (a tuple of equally long arrays).

    With ``shuffle``, the order is drawn afresh each epoch, from ``seed``.
    """
    n = len(arrays[0])
    indices = tf.data.Dataset.range(n)
    if shuffle:
        indices = indices.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    indices = indices.batch(batch_size)
    # The arrays ride along as one repeated element instead of being captured
    # in the map function, which would copy them into its graph.
    data = tf.data.Dataset.from_tensors(tuple(arrays)).repeat()

    def gather(index, tensors):
        return tuple(tf.gather(t, index) for t in tensors)

    dataset = tf.data.Dataset.zip((indices, data)).map(gather).prefetch(PREFETCH)
    return dataset.with_options(_options())


def training_datasets(X, y, sample_weight=None, *, batch_size, validation_fraction=0.0, seed=None):
    """Training and validation datasets, split as Keras's ``validation_split`` splits.

    The last ``validation_fraction`` of the rows (rounded as Keras rounds) are
    held out for validation and never shuffled; the rest is shuffled each epoch.

    Returns
    -------
    train : tf.data.Dataset
        Batches of ``(X, y)`` or ``(X, y, sample_weight)``.
    validation : tf.data.Dataset or None
        Batches of the held-out rows, None without a validation fraction.
    """
    arrays = (X, y) if sample_weight is None else (X, y, np.asarray(sample_weight, dtype=np.float32))
    n = len(X)
    split = int(math.floor(n * (1.0 - validation_fraction))) if validation_fraction else n
    if validation_fraction and split in (0, n):
        part = "training" if split == 0 else "validation"
        raise ValueError(
            f"validation_fraction={validation_fraction} of {n} samples leaves no {part} samples; "
            "use more samples or another validation_fraction."
        )
    train = batches(tuple(a[:split] for a in arrays), batch_size, shuffle=True, seed=seed)
    validation = None
    if split < n:
        validation = batches(tuple(a[split:] for a in arrays), batch_size)
    return train, validation
