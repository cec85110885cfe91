"""The line reader of touching digits (skdigits.reader._touching) and how the reader uses it."""

import shutil

import cv2
import numpy as np
import pytest
from conftest import random_batch_statistics

from skdigits import find_digits, load_mnist, read_digits
from skdigits.model_files._model_files import ModelFileError
from skdigits.reader import _touching
from skdigits.reader._images import FoundDigits
from skdigits.reader._touching import (
    FRAME,
    INK_HEIGHT,
    MARGIN,
    STRIP_HEIGHT,
    TouchingReader,
    decode,
    expected_shapes,
    load_touching,
    read_touching_tensors,
    strip,
    touching_path,
    touching_record,
)


@pytest.fixture(scope="module")
def test_digits():
    _, X_test, _, y_test = load_mnist(n_test=300, random_state=2)
    return X_test, y_test


def _touching_number(digits, rng, height=120):
    """Test ``digits`` written dark on light paper, each slid onto the one before until the strokes cross."""
    page = np.clip(rng.normal(235, 3, (height * 2, 60 + height * len(digits))), 0, 255)
    cover = np.zeros(page.shape, np.float32)
    x = 30
    for k, digit in enumerate(digits):
        glyph = np.clip(cv2.resize(digit.astype(np.float32) / 255, (height, height),
                                   interpolation=cv2.INTER_CUBIC) * 1.2, 0, 1)
        y = height // 2
        if k:
            x = int(np.flatnonzero((cover > 0.5).any(axis=0))[-1])
            while x > 0 and not ((cover[y:y + height, x:x + height] > 0.5) & (glyph > 0.5)).any():
                x -= 2
            x -= height // 40
        np.maximum(cover[y:y + height, x:x + height], glyph, out=cover[y:y + height, x:x + height])
    page = page * (1 - cover) + 30 * cover
    return np.uint8(page), cover > 0.5


def test_strip_scales_the_ink_to_its_height_and_pads_to_whole_columns():
    patch = np.zeros((90, 300), np.float32)
    patch[15:75, 40:250] = 0.4  # 60 high, 210 wide
    line, scale, left = strip(patch)
    assert line.shape[0] == STRIP_HEIGHT and line.shape[1] % FRAME == 0
    rows, cols = np.flatnonzero(line.max(axis=1) > 0.5), np.flatnonzero(line.max(axis=0) > 0.5)
    assert len(rows) == INK_HEIGHT and cols[0] == MARGIN and scale == INK_HEIGHT / 60 and left == 40
    assert len(cols) == round(210 * scale) and line.max() == 1.0
    wide, wide_scale, _ = strip(patch, stretch=1.3)  # the width scaled 1.3 times more than the height
    assert np.flatnonzero(wide.max(axis=1) > 0.5).size == INK_HEIGHT and wide_scale == scale * 1.3
    assert np.flatnonzero(wide.max(axis=0) > 0.5).size == round(210 * scale * 1.3)
    with pytest.raises(ValueError, match="no ink"):
        strip(np.zeros((10, 10)))


def test_decode_drops_blanks_and_repeats_but_not_a_digit_written_twice():
    columns = np.full((7, 11), 0.01, np.float32)
    columns[:, 10] = 0.9
    for t, digit in ((1, 3), (2, 3), (4, 3), (5, 8)):  # "3", blank, "3", "8"
        columns[t, 10], columns[t, digit] = 0.01, 0.9
    read = decode(columns)
    assert [int(p.argmax()) for p, _, _ in read] == [3, 3, 8]
    assert [(first, last) for _, first, last in read] == [(1, 2), (4, 4), (5, 5)]
    assert all(abs(p.sum() - 1) < 1e-6 for p, _, _ in read)
    assert decode(np.tile(np.eye(11)[10], (5, 1))) == []


def test_the_reading_most_stretches_agree_on_wins(monkeypatch):
    readings = dict(zip(_touching.STRETCHES, [("12", -3.0, ["a"]), ("17", -1.0, ["b"]), ("12", -5.0, ["c"])]))
    monkeypatch.setattr(TouchingReader, "_read_at", lambda self, patch, stretch: readings[stretch])
    reader = TouchingReader.__new__(TouchingReader)  # no network: each stretch's reading is given
    assert len(_touching.STRETCHES) == 3 and reader.read(None) == ["a"]  # two read "12": the surer of them
    readings[_touching.STRETCHES[2]] = ("172", -0.5, ["c"])
    assert reader.read(None) == ["c"]  # all differ: the surest


@pytest.mark.slow
def test_onnx_graph_computes_what_keras_computes():
    import keras

    from skdigits.reader._touching_network import build_touching, touching_tensors

    model = build_touching()
    rng = np.random.default_rng(0)
    random_batch_statistics(model, rng)
    tensors = touching_tensors(model)
    assert {name: t.shape for name, t in tensors.items()} == expected_shapes()
    line = rng.uniform(0, 1, (STRIP_HEIGHT, 136)).astype(np.float32)
    expected = np.asarray(keras.ops.softmax(model(line[None, :, :, None], training=False), axis=-1))[0]
    got = TouchingReader(tensors).columns(line)
    assert got.shape == (136 // FRAME, 11)
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_shipped_reader_loads_with_its_record():
    assert isinstance(load_touching(), TouchingReader)
    record = touching_record()
    assert record["training"]["fit_seconds"] > 0 and record["tensors_sha256"]
    assert record["data"]["digits"] == "MNIST training images"
    assert record["validation"]["lines_read"] > 0.8 and record["validation"]["by_length"]["2"] > 0.9


def test_damaged_file_is_refused(tmp_path):
    from safetensors.numpy import load_file, save_file

    tensors = load_file(touching_path())
    checksum = touching_record()["tensors_sha256"]
    flipped = dict(tensors, **{"conv1/kernel": tensors["conv1/kernel"].copy()})
    flipped["conv1/kernel"].view(np.uint32)[0, 0, 0, 0] ^= 1  # one bit of one weight
    save_file(flipped, tmp_path / "flipped.safetensors")
    with pytest.raises(ModelFileError, match=r"SHA-256 in its record \(touching.json\)"):
        read_touching_tensors(tmp_path / "flipped.safetensors", checksum)
    save_file({k: v for k, v in tensors.items() if k != "head/bias"}, tmp_path / "missing.safetensors")
    with pytest.raises(ModelFileError, match=r"missing \['head/bias'\]"):
        read_touching_tensors(tmp_path / "missing.safetensors", checksum)
    shutil.copy(touching_path(), tmp_path / "good.safetensors")
    assert set(read_touching_tensors(tmp_path / "good.safetensors", checksum)) == set(expected_shapes())


def test_touching_numbers_are_read_as_lines(test_digits):
    """Numbers whose digits all run into one mark, read whole (how often: benchmarks/photos.py)."""
    X, y = test_digits
    rng = np.random.default_rng(3)
    right, lines = 0, 0
    for _ in range(12):
        idx = rng.integers(len(y), size=int(rng.integers(2, 5)))
        page, ink = _touching_number(X[idx], rng)
        assert cv2.connectedComponents(ink.astype(np.uint8))[0] - 1 == 1  # one mark
        found = find_digits(page)
        lines += found.read is not None
        right += read_digits(page).text == "".join(map(str, y[idx]))
    # Where the finder finds one centre for two digits ("39" read "3"), the mark is read as one digit.
    # Numbers made so read about two in three right (85 of 130 in two larger draws).
    assert lines >= 9 and right >= 7


def test_a_line_reading_replaces_the_cut_groups_and_keeps_its_order(monkeypatch, test_digits):
    """What the reader does with a line's reading, whatever the network: a stand-in reads "4", "2", "7"."""
    X, y = test_digits
    page, _ = _touching_number(X[4:6], np.random.default_rng(0))  # a pair the finder finds two centres in
    loose = np.full((page.shape[0], 200), 235, np.uint8)  # a separate digit after the touching pair
    glyph = cv2.resize(X[20].astype(np.float32) / 255, (120, 120)) * 1.2
    loose[60:180, 40:160] = np.uint8(np.clip(235 - 205 * np.clip(glyph, 0, 1), 0, 255))
    page = np.hstack([page, loose])

    class StandIn:
        def read(self, patch):
            third = patch.shape[1] // 3
            return [(np.eye(10)[d], k * third, (k + 1) * third) for k, d in enumerate((4, 2, 7))]

    monkeypatch.setattr(_touching, "load_touching", lambda: StandIn())
    found = find_digits(page)
    assert len(found.images) == 4 and found.read.shape == (4, 10)
    assert np.isnan(found.read[3]).all() and found.read[:3].argmax(axis=1).tolist() == [4, 2, 7]
    lefts = [box[0] for box in found.boxes]
    assert lefts == sorted(lefts)
    assert read_digits(page).text.startswith("427") and len(read_digits(page).text) == 4


def test_probabilities_put_the_line_readings_in_the_classifiers_columns():
    read = np.full((2, 10), np.nan)
    read[1] = np.eye(10)[7]
    found = FoundDigits(np.zeros((2, 28, 28), np.uint8), [(0, 0, 1, 1)] * 2, (10, 10), read)
    proba = np.full((2, 10), 0.1)
    classes = [str(c) for c in (9, 8, 7, 6, 5, 4, 3, 2, 1, 0)]  # any order, any type
    out = found.probabilities(proba, classes)
    assert out[0].tolist() == [0.1] * 10 and out[1].argmax() == 2  # class "7" is column 2
    np.testing.assert_array_equal(found.probabilities(proba[:, :3], ["a", "b", "c"]), proba[:, :3])
    assert FoundDigits(found.images, found.boxes, found.size).probabilities(proba, classes) is proba


def test_the_api_answers_what_read_digits_reads(test_digits):
    from starlette.testclient import TestClient

    from skdigits import load_pretrained
    from skdigits.apps._server import create_app

    X, y = test_digits
    page, _ = _touching_number(X[[5, 6, 7]], np.random.default_rng(1))
    found = find_digits(page)
    assert found.read is not None
    data = cv2.imencode(".png", page)[1].tobytes()
    with TestClient(create_app(load_pretrained(runtime="onnx"))) as client:
        answer = client.post("/api/read", content=data, headers={"Content-Type": "image/png"}).json()
    assert answer["text"] == read_digits(page).text
    lined = ~np.isnan(found.read[:, 0])
    got = np.array([d["probabilities"] for d in answer["digits"]])[lined]
    np.testing.assert_allclose(got, found.read[lined], atol=1e-6)
