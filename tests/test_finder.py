"""The reader's learned stage (skdigits.reader._finder): its graph, its file, and what it changes in a reading."""

import os
import shutil

import cv2
import numpy as np
import pytest
from conftest import random_batch_statistics

from skdigits import find_digits, load_mnist, read_digits, to_mnist
from skdigits.model_files._model_files import ModelFileError
from skdigits.reader._finder import (
    ENCODER,
    MIN_SIDE,
    Finder,
    expected_shapes,
    finder_input,
    finder_path,
    finder_record,
    load_finder,
    located,
    peaks,
    read_finder_tensors,
    split_at_centres,
)
from skdigits.reader._images import NoDigitError


@pytest.fixture(scope="module")
def test_digits():
    _, X_test, _, y_test = load_mnist(n_test=200, random_state=1)
    return X_test, y_test


def _paper(height, width):
    rng = np.random.default_rng(0)
    return np.clip(rng.normal(235, 3, (height, width, 3)), 0, 255)


def _write(page, digit, x, y, size, colour=(30, 30, 35)):
    """An MNIST digit written on ``page`` at (x, y), ``size`` pixels high."""
    ink = np.clip(cv2.resize(digit.astype(np.float32) / 255, (size, size), interpolation=cv2.INTER_CUBIC) * 1.2,
                  0, 1)[:, :, None]
    region = page[y:y + size, x:x + size]
    region[:] = region * (1 - ink) + np.asarray(colour, np.float64) * ink
    return (ink[:, :, 0] > 0.5)


def _form(count, side=110):
    """A printed row of ``count`` adjoining boxes on paper: (page, x of the first box, y of the boxes)."""
    page = _paper(300, 140 + count * side)
    x0, y0 = 70, 95
    for k in range(count + 1):
        cv2.line(page, (x0 + k * side, y0), (x0 + k * side, y0 + side), (70, 70, 70), 2, cv2.LINE_AA)
    for y in (y0, y0 + side):
        cv2.line(page, (x0, y), (x0 + count * side, y), (70, 70, 70), 2, cv2.LINE_AA)
    return page, x0, y0


def _pair(test_digits, a, b):
    """Test digits ``a`` and ``b`` written so that their strokes touch (the second slid onto the first)."""
    X, y = test_digits
    page = _paper(260, 420)
    left = np.zeros((260, 420), bool)
    left[60:200, 80:220] = _write(page, X[a], 80, 60, 140)
    x = 200
    while x > 80:  # slide left until the ink meets
        right = np.zeros((260, 420), bool)
        right[60:200, x:x + 140] = cv2.resize(X[b].astype(np.float32) / 255, (140, 140)) * 1.2 > 0.5
        if (right & left).any():
            break
        x -= 2
    _write(page, X[b], x, 60, 140)
    return np.uint8(page), f"{y[a]}{y[b]}"


def test_shipped_finder_loads_with_its_record():
    finder = load_finder()
    assert isinstance(finder, Finder)
    record = finder_record()
    assert record["training"]["fit_seconds"] > 0 and record["tensors_sha256"]
    assert record["data"]["digits"] == "MNIST training images"


def test_finder_file_damage_is_refused(tmp_path):
    from safetensors.numpy import load_file, save_file

    tensors = load_file(finder_path())
    checksum = finder_record()["tensors_sha256"]
    flipped = dict(tensors)
    flipped["stem/kernel"] = tensors["stem/kernel"].copy()
    flipped["stem/kernel"].view(np.uint32)[0, 0, 0, 0] ^= 1  # one bit of one weight
    save_file(flipped, tmp_path / "flipped.safetensors")
    with pytest.raises(ModelFileError, match=r"SHA-256 in its record \(finder.json\)"):
        read_finder_tensors(tmp_path / "flipped.safetensors", checksum)
    missing = {k: v for k, v in tensors.items() if k != "head/bias"}
    save_file(missing, tmp_path / "missing.safetensors")
    with pytest.raises(ModelFileError, match=r"missing \['head/bias'\]"):
        read_finder_tensors(tmp_path / "missing.safetensors", checksum)
    reshaped = dict(tensors, **{"head/bias": np.zeros(3, np.float32)})
    save_file(reshaped, tmp_path / "reshaped.safetensors")
    with pytest.raises(ModelFileError, match=r"tensor head/bias has shape \[3\], its parameters need \[2\]"):
        read_finder_tensors(tmp_path / "reshaped.safetensors", checksum)
    (tmp_path / "cut.safetensors").write_bytes((open(finder_path(), "rb").read())[:1000])
    with pytest.raises(ModelFileError):
        read_finder_tensors(tmp_path / "cut.safetensors", checksum)
    shutil.copy(finder_path(), tmp_path / "good.safetensors")
    assert set(read_finder_tensors(tmp_path / "good.safetensors", checksum)) == set(expected_shapes())


@pytest.mark.slow
def test_onnx_graph_computes_what_keras_computes():
    from skdigits.reader._finder_network import build_finder, finder_tensors

    model = build_finder()
    rng = np.random.default_rng(0)
    random_batch_statistics(model, rng)
    tensors = finder_tensors(model)
    assert {name: t.shape for name, t in tensors.items()} == expected_shapes()
    grid = rng.uniform(0, 1.5, (96, 160)).astype(np.float32)
    keras_maps = 1 / (1 + np.exp(-np.asarray(model(grid[None, :, :, None], training=False))[0]))
    np.testing.assert_allclose(Finder(tensors).maps(grid), keras_maps.transpose(2, 0, 1), atol=1e-5)


def test_input_brings_strokes_to_the_target_width():
    for stroke in (6, 12, 30):
        con = np.zeros((600, 800), np.float32)
        con[100:400, 300:300 + stroke] = 0.7
        grid, size, scale = finder_input(con, 0.7, con > 0.35)
        assert grid.shape[0] % 16 == 0 and grid.shape[1] % 16 == 0
        assert grid.max() == pytest.approx(1.0, abs=0.01)  # contrast relative to the pen's
        assert 2.0 <= stroke * scale <= 4.0 or max(size) in (96, 384)


def test_input_is_scaled_by_the_marks_taken_for_digits_and_shows_only_the_ink():
    con = np.zeros((400, 800), np.float32)
    con[100:200, 300:310] = 0.7   # a stroke 10 pixels wide
    con[300:360, 50:750] = 0.7    # a shadow or the desk: a block 60 pixels high
    con[20:24, 20:24] = 0.1       # the paper's texture, a dot of a dotted page: no ink
    mask = con > 0.35
    digits = np.zeros_like(mask)
    digits[100:200, 300:310] = True
    _, _, whole = finder_input(con, 0.7, mask)
    grid, _, scale = finder_input(con, 0.7, mask, measured=digits)
    assert 10 * whole < 2.0 and 2.0 <= 10 * scale <= 4.0  # the block made strokes seem five times wider
    assert grid[int(22 * scale), int(22 * scale)] == 0 and grid[int(150 * scale), int(305 * scale)] > 0.9


def test_finder_looks_again_at_other_scales_where_it_finds_no_centre(monkeypatch):
    finder, shapes = load_finder(), []

    def maps(grid):  # a centre only in the second look
        shapes.append(grid.shape)
        out = np.zeros((2, grid.shape[0] // 2, grid.shape[1] // 2), np.float32)
        out[:, 20, 20] = 0.9 if len(shapes) == 2 else 0.1
        return out

    monkeypatch.setattr(finder, "maps", maps)
    con = np.zeros((600, 800), np.float32)
    con[100:400, 300:312] = 0.7
    found = finder.locate(con, 0.7, con > 0.35)
    assert len(shapes) == 2 and shapes[1][1] > shapes[0][1] and len(found.centres) == 1
    shapes.clear()
    monkeypatch.setattr(finder, "maps", lambda grid: shapes.append(grid.shape) or np.zeros((2, 8, 8), np.float32))
    assert not len(finder.locate(con, 0.7, con > 0.35).centres) and len(shapes) == 3  # then nothing is there


def test_each_look_is_at_a_new_scale_on_a_small_picture(monkeypatch):
    """A pad drawing's first grid is held at MIN_SIDE: the second look is larger, and no grid is looked at twice."""
    finder, shapes = load_finder(), []
    monkeypatch.setattr(finder, "maps", lambda grid: shapes.append(grid.shape) or np.zeros((2, 8, 8), np.float32))
    con = np.zeros((280, 280), np.float32)
    con[50:230, 133:147] = 0.7  # a stroke 14 pixels wide: the pen's scale alone would make a 60-pixel grid
    assert not len(finder.locate(con, 0.7, con > 0.35).centres)
    assert shapes == [(MIN_SIDE, MIN_SIDE), (int(1.5 * MIN_SIDE), int(1.5 * MIN_SIDE))]


def _dotted(height, width, pitch=24):
    """Paper with a grey dot every ``pitch`` pixels, as a dotted notebook's."""
    page = _paper(height, width)
    for y in range(pitch // 2, height, pitch):
        for x in range(pitch // 2, width, pitch):
            cv2.circle(page, (x, y), 2, (150, 150, 150), -1, cv2.LINE_AA)
    return page


def test_digits_on_dotted_paper_are_found(test_digits):
    """Given the contrast of the whole page, the finder took the dots for the page's texture and found no digit."""
    X, y = test_digits
    for start in (0, 3, 6):
        page = _dotted(300, 520)
        for k in range(3):
            _write(page, X[start + k], 60 + 140 * k, 70, 110)
        assert read_digits(np.uint8(page), learned=True).text == "".join(str(v) for v in y[start:start + 3])


def test_located_maps_peaks_back_to_the_picture():
    heat = np.zeros((24, 32), np.float32)
    heat[10, 5] = heat[10, 20] = 0.9
    heat[3, 30] = 0.2  # below the threshold
    ink = np.zeros_like(heat)
    ink[8:13, 3:8] = 1.0
    found = located(ink, heat, (64, 48), 0.5, (96, 128))
    np.testing.assert_allclose(found.centres, [[22, 42], [82, 42]])  # cell (10, 5): grid (11, 21), /0.5
    assert found.zone.shape == (96, 128) and found.zone[40, 20] and not found.zone[40, 80]


def test_centres_two_cells_apart_are_two_digits():
    """A "1" written over the edge of its neighbour: two bumps of the heatmap, two cells apart, a dip between."""
    heat = np.zeros((12, 20), np.float32)
    heat[6, 8], heat[6, 9], heat[6, 10] = 0.8, 0.5, 0.6
    assert list(zip(*np.nonzero(peaks(heat)))) == [(6, 8), (6, 10)]


def test_cut_leaves_one_mark_per_centre():
    mask = np.zeros((40, 100), bool)
    mask[10:30, 10:90] = True
    mask[10:30, 95:98] = True  # a mark of its own, no centre in it: untouched
    cut = split_at_centres(mask, np.array([[20.0, 20.0], [50.0, 20.0], [80.0, 20.0]]))
    count = cv2.connectedComponents(cut.astype(np.uint8), connectivity=8)[0] - 1
    assert count == 4
    assert cut[10:30, 95:98].all() and (mask & ~cut).sum() <= 2 * 2 * 20 + 8


def test_touching_digits_are_read_apart(test_digits):
    """The mechanism on one pair it reads (how often it does is measured by benchmarks/photos.py)."""
    page, truth = _pair(test_digits, 4, 5)
    ink = page.mean(axis=2) < 128
    assert cv2.connectedComponents(ink.astype(np.uint8))[0] - 1 == 1  # one mark: the digits touch
    assert read_digits(page, learned=True).text == truth
    assert len(read_digits(page, learned=False).text) == 1  # the rules alone read one digit


def test_digits_in_form_boxes_are_read_without_the_boxes(test_digits):
    X, y = test_digits
    page, x0, y0 = _form(5)
    for k in range(3):
        _write(page, X[k], x0 + 110 * (k + 1) + 12, y0 + 10, 92)
    reading = read_digits(np.uint8(page), learned=True)
    assert reading.text == "".join(str(v) for v in y[:3])
    for left, top, right, bottom in reading.boxes:  # each box holds a digit, not a box of the form
        assert bottom - top < 100 and right - left < 100


@pytest.mark.parametrize("what", ["empty form", "whiteboard frame"])
def test_no_digit_on_blank_surfaces(what):
    if what == "empty form":
        page = np.uint8(_form(5)[0])
    else:
        page = _paper(450, 600)
        page[:, :28] = 165  # the board's aluminium frame along its left side
        page = np.uint8(page)
    assert find_digits(page, learned=False).images.shape[0] >= 1  # the rules alone see a digit
    with pytest.raises(NoDigitError, match="no digit"):
        read_digits(page, learned=True)
    with pytest.raises(NoDigitError, match="no digit"):
        to_mnist(page, learned=True)


@pytest.mark.parametrize("width", [8, 18, 26])
def test_a_lone_one_is_a_digit(width):
    """A straight vertical "1", as a mouse draws it on the page's pad, reads as a digit, however thick the pen."""
    page = np.full((280, 280), 255, np.uint8)
    cv2.line(page, (140, 50), (140, 230), 0, width, cv2.LINE_AA)
    assert read_digits(page, learned=False).text == "1"  # the rules alone
    assert read_digits(page, learned=True).text == "1"


def test_network_is_small_and_fully_convolutional():
    count = sum(int(np.prod(shape)) for shape in expected_shapes().values())
    assert count < 300_000
    assert ENCODER[0][0] == "stem"



def test_the_command_line_and_the_api_read_with_the_finder_by_default(tmp_path, test_digits, capsys):
    """The finder reads in the CLI, bulk reading and the server unless ``--rules`` / ``learned=False``."""
    import json

    from PIL import Image
    from starlette.testclient import TestClient

    from skdigits import load_pretrained
    from skdigits.apps._cli import main
    from skdigits.apps._server import create_app

    form = tmp_path / "form.png"
    Image.fromarray(np.uint8(_form(5)[0])).save(form)
    pair, text = _pair(test_digits, 4, 5)
    Image.fromarray(pair).save(tmp_path / "pair.png")
    assert main(["read", "--json", "--rules", str(form)]) == 0  # the rules alone read the form's boxes as digits
    assert json.loads(capsys.readouterr().out)[0]["text"]
    assert main(["read", "--json", str(form), str(tmp_path / "pair.png")]) == 1
    records = {os.path.basename(r["file"]): r for r in json.loads(capsys.readouterr().out)}
    assert records["form.png"]["text"] is None and "no digit found" in records["form.png"]["error"]
    assert records["pair.png"]["text"] == text  # cut apart; the rules alone read one digit
    with TestClient(create_app(load_pretrained(runtime="onnx"), learned=False)) as client:
        answer = client.post("/api/read", content=form.read_bytes(), headers={"Content-Type": "image/png"})
        assert answer.status_code == 200
    with TestClient(create_app(load_pretrained(runtime="onnx"))) as client:
        answer = client.post("/api/read", content=form.read_bytes(), headers={"Content-Type": "image/png"})
        assert answer.status_code == 422 and "no digit found" in answer.json()["error"]
        answer = client.post("/api/read", content=(tmp_path / "pair.png").read_bytes(),
                             headers={"Content-Type": "image/png"})
        assert answer.status_code == 200 and answer.json()["text"] == text
