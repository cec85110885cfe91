import json
import os
import subprocess
import sys

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import save

from skdigits import (
    CNNDigitClassifier,
    ModelFileError,
    load_mnist,
    load_model,
    load_pretrained,
    pretrained_record,
    save_model,
)
from skdigits.model_files._checks import _PARAMS_ADDED, FORMAT_VERSION, MAX_HEADER_BYTES, METADATA_KEY
from skdigits.model_files._model_files import PRETRAINED_PARAMS


@pytest.fixture(scope="module")
def saved(fitted_digits, tmp_path_factory):
    path = tmp_path_factory.mktemp("saved") / "digits.safetensors"
    save_model(fitted_digits, path)
    return path


def _contents(path):
    with safe_open(str(path), framework="numpy") as file:
        header = json.loads(file.metadata()[METADATA_KEY])
        tensors = {name: file.get_tensor(name) for name in file.keys()}
    return header, tensors


def _write(path, header, tensors, header_text=None):
    text = json.dumps(header) if header_text is None else header_text
    path.write_bytes(save(tensors, metadata={METADATA_KEY: text}))
    return path


@pytest.mark.parametrize("labels", ["int", "str", "bool"])
@pytest.mark.slow
def test_round_trip_gives_identical_probabilities(digits, fitted_digits, tmp_path, labels):
    X_train, X_test, y_train, _ = digits
    if labels == "int":
        clf = fitted_digits
    else:
        y = y_train.astype(str) if labels == "str" else y_train >= 5
        clf = CNNDigitClassifier(epochs=1, random_state=0).fit(X_train[:400], y[:400])
    path = tmp_path / "m.safetensors"
    save_model(clf, path)
    again = load_model(path)
    np.testing.assert_array_equal(again.predict_proba(X_test), clf.predict_proba(X_test))
    np.testing.assert_array_equal(again.predict(X_test), clf.predict(X_test))
    assert again.classes_.dtype.kind == clf.classes_.dtype.kind
    assert again.get_params() == clf.get_params()
    assert again.image_shape_ == clf.image_shape_ and again.n_features_in_ == clf.n_features_in_
    assert (again.pixel_mean_, again.pixel_std_) == (clf.pixel_mean_, clf.pixel_std_)
    assert again.history_ == {k: list(v) for k, v in clf.history_.items()}
    # And in a fresh process, which has never seen the estimator.
    np.save(tmp_path / "X.npy", X_test)
    code = (
        "import sys, numpy as np; from skdigits import load_model; m = load_model(sys.argv[1]); "
        "np.save(sys.argv[3], m.predict_proba(np.load(sys.argv[2]))); "
        "np.save(sys.argv[4], m.predict(np.load(sys.argv[2])))"
    )
    subprocess.run([sys.executable, "-c", code, str(path), str(tmp_path / "X.npy"), str(tmp_path / "p.npy"),
                    str(tmp_path / "labels.npy")], check=True, capture_output=True)
    np.testing.assert_array_equal(np.load(tmp_path / "p.npy"), clf.predict_proba(X_test))
    np.testing.assert_array_equal(np.load(tmp_path / "labels.npy"), clf.predict(X_test))


def test_a_pickle_bomb_runs_nothing(pickle_bomb):
    bomb, sentinel = pickle_bomb
    with pytest.raises(ModelFileError, match="is a Python pickle .* does not open them"):
        load_model(bomb)
    assert not sentinel.exists()


def _tamper_header(change):
    def tamper(header, tensors):
        change(header)
        return header, tensors, None
    return tamper


def _tamper_tensors(change):
    def tamper(header, tensors):
        change(tensors)
        return header, tensors, None
    return tamper


TAMPERINGS = {
    "unknown key": (_tamper_header(lambda h: h.update(extra=1)), r"unknown key\(s\) in header: \['extra'\]"),
    "missing key": (_tamper_header(lambda h: h.pop("fitted")), r"missing key\(s\) in header: \['fitted'\]"),
    "unknown fitted key": (_tamper_header(lambda h: h["fitted"].update(coef_=[1])), r"unknown key\(s\) in fitted"),
    "missing param": (_tamper_header(lambda h: h["params"].pop("filters")), r"missing key\(s\) in params: \['filters'\]"),
    "unknown param": (_tamper_header(lambda h: h["params"].update(filterz=3)), r"unknown key\(s\) in params: \['filterz'\]"),
    "wrong param type": (_tamper_header(lambda h: h["params"].update(epochs="many")), "invalid parameters: epochs must be an integer"),
    "param object": (_tamper_header(lambda h: h["params"].update(epochs={"py/object": "os.system"})),
                     "parameter epochs must be a number"),
    "callbacks stored": (_tamper_header(lambda h: h["params"].update(callbacks="keras.callbacks.Callback")),
                         "callbacks must be null"),
    "other format": (_tamper_header(lambda h: h.update(format="keras")), "format is 'keras'"),
    "newer version": (_tamper_header(lambda h: h.update(format_version=FORMAT_VERSION + 1)),
                      f"format version {FORMAT_VERSION + 1}; this skdigits reads up to version {FORMAT_VERSION}"),
    "NaN": (lambda h, t: (h, t, json.dumps(h).replace('"pixel_std": ', '"pixel_std": NaN, "x": ')),
            "holds a NaN value"),
    "label type": (_tamper_header(lambda h: h["fitted"]["classes"].update(type="object")), "class label type must be one of"),
    "labels of the wrong type": (_tamper_header(lambda h: h["fitted"]["classes"].update(values=list("abcdefghij"))),
                                 "class labels must be a list of int values"),
    "label count": (_tamper_header(lambda h: h["fitted"]["classes"].update(values=list(range(11)))),
                    "lists 11 class labels but its output layer has 10 units"),
    "image shape": (_tamper_header(lambda h: h["fitted"].update(image_shape=[8, 9])),
                    r"n_features_in \(64\) must equal"),
    "pixel std": (_tamper_header(lambda h: h["fitted"].update(pixel_std=0)), "pixel_std must lie within"),
    "pixel std too large for a float": (
        lambda h, t: (h, t, json.dumps(h).replace('"pixel_std": ', '"pixel_std": 1e400, "x": ')),
        "the number 1e400, too large for a float"),
    "pixel mean huge": (_tamper_header(lambda h: h["fitted"].update(pixel_mean=1e308)), "pixel_mean must lie within"),
    "label beyond 64 bits": (_tamper_header(lambda h: h["fitted"]["classes"]["values"].__setitem__(9, 2**70)),
                             "the integer 1180591620717411303424, beyond 64 bits"),
    "deep nesting": (lambda h, t: (h, t, json.dumps(h).replace('"epochs": ', '"epochs": ' + "[" * 100_000
                                                                 + "]" * 100_000 + ', "x": ')),
                     "nests too deeply"),
    "header not an object": (lambda h, t: (h, t, "[1, 2]"), "skdigits header must be a JSON object"),
    "label type a list": (_tamper_header(lambda h: h["fitted"]["classes"].update(type=["int"])),
                          "class label type must be one of"),
    "routed parameter Keras refuses": (_tamper_header(lambda h: h["params"].update(compile__foo=1)),
                                       "its parameters do not build a network"),
    "filters 1e9": (_tamper_header(lambda h: h["params"].update(filters=10**9)),
                    "parameter filters=1000000000 is over the limit of 4,096"),
    "dense units 1e7": (_tamper_header(lambda h: h["params"].update(dense_units=10**7)),
                        "parameter dense_units=10000000 is over the limit of 65,536"),
    "kernel 1e6": (_tamper_header(lambda h: h["params"].update(kernel_size=10**6)),
                   "parameter kernel_size=1000000 is over the limit of 64"),
    "kernel pair": (_tamper_header(lambda h: h["params"].update(kernel_size=[3, 10**6])),
                    r"parameter kernel_size=\(3, 1000000\) is over the limit of 64"),
    "1000 blocks": (_tamper_header(lambda h: h["params"].update(conv_blocks=1000)),
                    "parameter conv_blocks=1000 is over the limit of 12"),
    "huge image": (_tamper_header(lambda h: h["fitted"].update(image_shape=[100_000, 1], n_features_in=100_000)),
                   r"image_shape \[100000, 1\] is over the limit of 4096 a side"),
    "filters that the tensors do not hold": (
        _tamper_header(lambda h: h["params"].update(filters=64)),
        r"tensor conv1/kernel has shape \[3, 3, 1, 32\], its parameters need \[3, 3, 1, 64\]"),
    "checksum not hex": (_tamper_header(lambda h: h.update(tensors_sha256="x" * 64)),
                         "tensors_sha256 must be 64 lower-case hex digits"),
    "checksum missing": (_tamper_header(lambda h: h.pop("tensors_sha256")),
                         r"missing key\(s\) in header: \['tensors_sha256'\]"),
    "tensor name": (_tamper_tensors(lambda t: t.update(evil=t.pop("conv1/kernel"))),
                    r"missing \['conv1/kernel'\]; unexpected \['evil'\]"),
    "tensor shape": (_tamper_tensors(lambda t: t.update({"conv1/bias": np.zeros(31, np.float32)})),
                     r"tensor conv1/bias has shape \[31\], its parameters need \[32\]"),
    "tensor dtype": (_tamper_tensors(lambda t: t.update({"conv1/bias": t["conv1/bias"].astype(np.float64)})),
                     r"tensor conv1/bias is float64\[32\], the network needs float32\[32\]"),
    "tensor NaN": (_tamper_tensors(lambda t: t["dense/kernel"].__setitem__((0, 0), np.nan)),
                   "tensor dense/kernel holds NaN"),
}


@pytest.mark.parametrize("name", list(TAMPERINGS))
def test_every_tampering_is_refused_by_name(saved, tmp_path, name):
    tamper, message = TAMPERINGS[name]
    header, tensors = _contents(saved)
    header, tensors, text = tamper(header, tensors)
    path = _write(tmp_path / "tampered.safetensors", header, tensors, text)
    with pytest.raises(ModelFileError, match=message):
        load_model(path)


def test_a_tampering_is_refused_before_the_network_is_built(saved, tmp_path, monkeypatch):
    import skdigits.model_files._model_files as model_files

    def never(*args):
        raise AssertionError("the network was built")

    monkeypatch.setattr(model_files, "_build_network", never)
    for name in ("filters 1e9", "1000 blocks", "filters that the tensors do not hold", "label count", "tensor shape"):
        tamper, message = TAMPERINGS[name]
        header, tensors, text = tamper(*_contents(saved))
        with pytest.raises(ModelFileError, match=message):
            load_model(_write(tmp_path / "tampered.safetensors", header, tensors, text))


def test_a_header_that_holds_an_object_where_json_text_belongs_is_refused(saved, tmp_path):
    data = saved.read_bytes()
    length = int.from_bytes(data[:8], "little")
    outer = json.loads(data[8:8 + length])
    outer["__metadata__"][METADATA_KEY] = {"format": "skdigits-cnn"}
    head = json.dumps(outer).encode()
    path = tmp_path / "object.safetensors"
    path.write_bytes(len(head).to_bytes(8, "little") + head + data[8 + length:])
    with pytest.raises(ModelFileError, match="skdigits header must be a JSON string, got dict"):
        load_model(path)


@pytest.mark.slow
def test_a_bit_flipped_in_the_weights_is_found(saved, tmp_path):
    data = bytearray(saved.read_bytes())
    start = 8 + int.from_bytes(data[:8], "little")
    rng = np.random.default_rng(0)
    path = tmp_path / "flipped.safetensors"
    for position in rng.integers(start, len(data), size=20):
        flipped = bytearray(data)
        flipped[position] ^= 1 << int(rng.integers(8))
        path.write_bytes(bytes(flipped))
        # A flip that makes a weight NaN is named as such; any other by the checksum.
        with pytest.raises(ModelFileError, match="do not match the SHA-256|holds NaN or infinite"):
            load_model(path)


def test_a_file_from_before_checksums_loads_with_a_warning(saved, tmp_path, digits, fitted_digits):
    header, tensors = _contents(saved)
    del header["tensors_sha256"]
    header["format_version"] = 1
    path = _write(tmp_path / "v1.safetensors", header, tensors)
    with pytest.warns(UserWarning, match="no checksum of its weights"):
        older = load_model(path)
    np.testing.assert_array_equal(older.predict_proba(digits[1]), fitted_digits.predict_proba(digits[1]))


@pytest.mark.parametrize("params", [dict(conv_blocks=1), dict(conv_blocks=4, kernel_size=(3, 5)),
                                    dict(filters=8, dense_units=16, kernel_size=5)])
@pytest.mark.parametrize("image_shape", [(28, 28), (8, 8), (1, 13)])
def test_the_shapes_a_file_is_checked_against_are_those_the_builder_makes(params, image_shape):
    from skdigits.estimator._architecture import expected_shapes
    from skdigits.estimator._network import build_cnn

    clf = CNNDigitClassifier(**params)
    model = build_cnn(image_shape, 7, filters=clf.filters, conv_blocks=clf.conv_blocks,
                      kernel_size=clf.kernel_size, dense_units=clf.dense_units, augment=False)
    assert {v.path: tuple(v.shape) for v in model.weights} == expected_shapes(clf, image_shape, 7)


def test_damaged_files_are_refused(saved, tmp_path):
    data = saved.read_bytes()
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(data[:-1000])
    with pytest.raises(ModelFileError, match="damaged or truncated safetensors data"):
        load_model(truncated)
    truncated.write_bytes(data[:100])
    with pytest.raises(ModelFileError, match="is truncated: its header needs"):
        load_model(truncated)
    truncated.write_bytes(data[:5])
    with pytest.raises(ModelFileError, match="is truncated or not a skdigits model file"):
        load_model(truncated)
    huge = tmp_path / "huge.safetensors"
    huge.write_bytes((MAX_HEADER_BYTES + 1).to_bytes(8, "little") + b"{" * 64)
    with pytest.raises(ModelFileError, match="over the 1,048,576-byte limit"):
        load_model(huge)
    plain = tmp_path / "plain.safetensors"
    plain.write_bytes(save({"w": np.zeros(3, np.float32)}))
    with pytest.raises(ModelFileError, match="without skdigits's header"):
        load_model(plain)
    keras_file = tmp_path / "model.keras"
    keras_file.write_bytes(b"PK\x03\x04" + bytes(100))
    with pytest.raises(ModelFileError, match="is a zip archive"):
        load_model(keras_file)
    with pytest.raises(FileNotFoundError, match="no such model file"):
        load_model(tmp_path / "absent")


def test_an_interrupted_save_leaves_no_file(fitted_digits, tmp_path, monkeypatch):
    path = tmp_path / "m.safetensors"

    def interrupted(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_model(fitted_digits, path)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    save_model(fitted_digits, path)
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]


def test_save_refuses_what_it_cannot_store(fitted_digits, tmp_path):
    from sklearn.base import clone
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        save_model(clone(fitted_digits), tmp_path / "m")
    with pytest.raises(TypeError, match="saves a CNNDigitClassifier"):
        save_model(object(), tmp_path / "m")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        save_model(fitted_digits, tmp_path / "no" / "m")
    assert not (tmp_path / "m").exists()


@pytest.mark.slow
def test_the_pretrained_model():
    record = pretrained_record()
    clf = load_pretrained()
    _, X_test, _, y_test = load_mnist()
    accuracy = clf.score(X_test, y_test)
    assert accuracy >= 0.995
    assert accuracy == pytest.approx(record["test_accuracy"], abs=1e-9)
    # Made with today's defaults but for PRETRAINED_PARAMS (parameters added
    # since then at the value it was trained with): a change of default must retrain it.
    defaults = CNNDigitClassifier(random_state=record["seed"], **PRETRAINED_PARAMS).get_params()
    del defaults["callbacks"]
    assert {**_PARAMS_ADDED, **record["params"]} == defaults
    # The 60,000 training images, photos of training digits read back and training digits
    # found on the surfaces of benchmarks/_scenes.py (benchmarks/_photo_digits.py).
    n_read_back = record["n_train_photo_digits"] + record["n_train_scene_digits"]
    assert record["n_train_mnist"] == 60000 and record["n_train"] == 60000 + n_read_back > 100000
    assert list(clf.classes_) == list(range(10))


@pytest.mark.parametrize("added", sorted(_PARAMS_ADDED))
def test_files_from_before_a_parameter_was_added_still_load(saved, tmp_path, digits, fitted_digits, added):
    header, tensors = _contents(saved)
    del header["params"][added]  # as written before the parameter existed
    path = _write(tmp_path / "older.safetensors", header, tensors)
    older = load_model(path)
    assert getattr(older, added) is _PARAMS_ADDED[added]
    np.testing.assert_array_equal(older.predict_proba(digits[1]), fitted_digits.predict_proba(digits[1]))
