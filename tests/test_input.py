"""The training input pipelines (skdigits.estimator._input)."""

import numpy as np
import pytest

from skdigits.estimator._input import batches, training_datasets


def _rows(dataset):
    return [tuple(np.asarray(t) for t in batch) for batch in dataset]


def test_split_like_keras_validation_split():
    X = np.arange(50, dtype=np.float32).reshape(25, 2)
    y = np.arange(25)
    train, validation = training_datasets(X, y, batch_size=4, validation_fraction=0.1, seed=0)
    # Keras's validation_split holds out the last floor(25 * 0.1) rows, in order.
    val = np.concatenate([b[1] for b in _rows(validation)])
    np.testing.assert_array_equal(val, [22, 23, 24])
    seen = np.concatenate([b[1] for b in _rows(train)])
    assert sorted(seen) == list(range(22)) and list(seen) != list(range(22))  # all rows, shuffled
    for xb, yb in _rows(train):
        np.testing.assert_array_equal(xb[:, 0], 2 * yb)  # rows stay paired with their labels


def test_shuffle_is_seeded_and_new_each_epoch():
    X = np.arange(40, dtype=np.float32).reshape(40, 1)
    dataset = batches((X,), 8, shuffle=True, seed=3)
    first, second = (np.concatenate([b[0] for b in _rows(dataset)]).ravel() for _ in range(2))
    again = np.concatenate([b[0] for b in _rows(batches((X,), 8, shuffle=True, seed=3))]).ravel()
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, second)
    assert dataset.options().autotune.enabled is False


def test_sample_weights_travel_with_their_rows():
    X = np.arange(10, dtype=np.float32).reshape(10, 1)
    y = np.arange(10)
    w = np.linspace(0.1, 1.0, 10)
    train, validation = training_datasets(X, y, w, batch_size=3, seed=0)
    assert validation is None
    for xb, yb, wb in _rows(train):
        np.testing.assert_allclose(wb, w[yb], rtol=1e-6)


@pytest.mark.parametrize("n, fraction, part", [(5, 1e-17, "validation"), (3, 0.99, "training")])
def test_a_split_with_an_empty_side_is_refused(n, fraction, part):
    X = np.zeros((n, 4), dtype=np.float32)
    with pytest.raises(ValueError, match=f"leaves no {part} samples"):
        training_datasets(X, np.arange(n), batch_size=2, validation_fraction=fraction)
