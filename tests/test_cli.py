import json
import os
import subprocess
import sys

import joblib
import numpy as np
import pytest
from PIL import Image

from skdigits import load_mnist, load_model
from skdigits.apps._cli import main
from skdigits.reader._records import digit_record

# The one JSON shape of a digit, in the CLI, the HTTP API (which adds the network's input) and Reading.to_dict.
DIGIT_KEYS = set(digit_record([0, 1], [0.3, 0.7], box=(0, 0, 1, 1)))


@pytest.fixture(scope="module")
def small_npz(tmp_path_factory):
    """An .npz in Keras's mnist.npz layout, small enough to train on in seconds."""
    X_train, X_test, y_train, y_test = load_mnist(n_train=1500, n_test=300, random_state=1)
    path = tmp_path_factory.mktemp("data") / "small.npz"
    np.savez(path, x_train=X_train, y_train=y_train, x_test=X_test, y_test=y_test)
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory, small_npz):
    path = tmp_path_factory.mktemp("model") / "digits.safetensors"
    status = main(["train", "--output", str(path), "--data", str(small_npz), "--epochs", "3",
                   "--set", "batch_size=64", "--quiet"])
    assert status == 0
    return path


def _digit_png(folder, index=0, name="digit.png"):
    """An MNIST test digit written dark on white paper, bigger and off-centre."""
    _, X_test, _, y_test = load_mnist()
    page = np.full((200, 160), 235, dtype=np.uint8)
    big = np.asarray(Image.fromarray(X_test[index]).resize((112, 112)), dtype=float) / 255
    page[40:152, 30:142] = np.uint8(235 * (1 - 0.9 * big))
    path = folder / name
    Image.fromarray(page).save(path)
    return path, int(y_test[index])


@pytest.mark.slow
def test_train_saves_exactly_the_path_and_reports(trained, capsys, small_npz, tmp_path):
    assert trained.exists() and trained.suffix == ".safetensors"
    model = load_model(trained)
    assert model.n_features_in_ == 784 and len(model.history_["loss"]) <= 3
    out_path = tmp_path / "again"
    assert main(["train", "--output", str(out_path), "--data", str(small_npz), "--epochs", "1",
                 "--n-train", "500", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "trained on 500 images" in out
    assert "validation accuracy: 0." in out and "test accuracy: 0." in out and "on 300 images" in out
    assert out_path.exists()


def test_train_rejects_bad_options_before_training(tmp_path, capsys, small_npz):
    assert main(["train", "--output", str(tmp_path / "no" / "dir" / "m"), "--epochs", "1"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["train", "--output", str(tmp_path / "m"), "--data", str(small_npz), "--set", "filterz=3"]) == 2
    assert "Invalid parameter filterz" in capsys.readouterr().err
    assert main(["train", "--output", str(tmp_path / "m"), "--data", str(small_npz), "--set", "epochs=-2"]) == 2
    assert "epochs must be >= 1" in capsys.readouterr().err
    assert main(["train", "--output", str(tmp_path / "m"), "--data", str(tmp_path / "none.npz")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


@pytest.mark.slow
def test_train_reads_an_idx_folder(tmp_path, capsys):
    import gzip

    X_train, X_test, y_train, y_test = load_mnist(n_train=300, n_test=100, random_state=2)

    def write(name, array):
        header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in array.shape)
        (tmp_path / name).write_bytes(gzip.compress(header + array.tobytes()))

    write("train-images-idx3-ubyte.gz", X_train)
    write("train-labels-idx1-ubyte.gz", y_train)
    write("t10k-images-idx3-ubyte.gz", X_test)
    write("t10k-labels-idx1-ubyte.gz", y_test)
    assert main(["train", "--output", str(tmp_path / "m.safetensors"), "--data", str(tmp_path),
                 "--epochs", "1", "--quiet"]) == 0
    assert "on 100 images" in capsys.readouterr().out


def test_evaluate_with_plots(trained, small_npz, tmp_path, capsys):
    plots = tmp_path / "plots"
    assert main(["evaluate", "--model", str(trained), "--data", str(small_npz), "--plots", str(plots)]) == 0
    out = capsys.readouterr().out
    accuracy = float(out.split("accuracy: ")[1].split()[0])
    assert accuracy > 0.85
    assert "precision" in out and "recall" in out and "confusion matrix" in out
    for name in ("confusion_matrix.png", "misclassified.png", "training_curves.png"):
        with Image.open(plots / name) as image:
            assert image.size[0] > 300


def test_predict_image_files_and_npy(trained, tmp_path, capsys):
    png, label = _digit_png(tmp_path)
    jpg = tmp_path / "digit.jpg"
    Image.open(png).convert("RGB").save(jpg)
    _, X_test, _, y_test = load_mnist(n_test=3, random_state=0)
    npy = tmp_path / "batch.npy"
    np.save(npy, X_test)
    assert main(["predict", "--model", str(trained), str(png), str(jpg), str(npy)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 5
    assert lines[0].startswith(f"{png}: {label} (p=") and "top3:" in lines[0]
    assert lines[2].startswith(f"{npy}[0]: ")


def _npy_declaring(path, shape, dtype="|u1", data=b""):
    """An .npy file whose header declares ``shape`` and ``dtype``, followed by ``data`` only."""
    header = repr({"descr": dtype, "fortran_order": False, "shape": shape}).encode()
    header += b" " * (-(len(header) + 11) % 64) + b"\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + data)
    return path


def test_hostile_npy_files_are_each_one_line_and_the_batch_goes_on(trained, tmp_path, capsys):
    _, X_test, _, y_test = load_mnist(n_test=2, random_state=0)
    good = tmp_path / "good.npy"
    np.save(good, X_test)
    huge = _npy_declaring(tmp_path / "huge.npy", (100_000_000, 28, 28), data=bytes(100))
    strings = tmp_path / "strings.npy"
    np.save(strings, np.array([["a" * 28] * 28]))
    complex_ = tmp_path / "complex.npy"
    np.save(complex_, X_test.astype(np.complex64) + 1j)
    shaped = tmp_path / "shaped.npy"
    np.save(shaped, np.zeros((2, 10, 10), np.uint8))
    garbage = tmp_path / "garbage.npy"
    garbage.write_bytes(b"\x93NUMPY\x01\x00\x10\x00{'descr': os.sys" + bytes(10))
    files = [huge, strings, complex_, shaped, garbage, good]
    assert main(["predict", "--model", str(trained), "--json", *map(str, files)]) == 1
    captured = capsys.readouterr()
    results = json.loads(captured.out)
    assert [r["file"] for r in results] == [str(f) for f in files[:-1]] + [f"{good}[0]", f"{good}[1]"]
    assert all(r["label"] is not None for r in results[-2:])
    errors = captured.err.strip().splitlines()
    assert len(errors) == 5 and "Traceback" not in captured.err
    assert "huge.npy: is truncated: its header declares 100,000,000 images (78,400,000,000 bytes)" in errors[0]
    assert "strings.npy: holds text (<U28), not real numbers" in errors[1]
    assert "complex.npy: holds complex numbers (<c8), not real numbers" in errors[2] and "array(" not in errors[2] and ".j" not in errors[2]
    assert "shaped.npy: expected an array of 28x28 images" in errors[3]
    assert "garbage.npy: not a readable .npy array" in errors[4]


def test_predict_json_and_per_file_errors(trained, tmp_path, capsys):
    png, label = _digit_png(tmp_path)
    blank = tmp_path / "blank.png"
    Image.new("L", (100, 100), 240).save(blank)
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    status = main(["predict", "--model", str(trained), "--json", str(tmp_path / "missing.png"),
                   str(blank), str(notes), str(png)])
    assert status == 1
    captured = capsys.readouterr()
    results = json.loads(captured.out)
    assert [r["file"] for r in results] == [str(tmp_path / "missing.png"), str(blank), str(notes), str(png)]
    assert results[-1]["label"] == label and 0 < results[-1]["probability"] <= 1
    assert len(results[-1]["top3"]) == 3 and set(results[-1]) == DIGIT_KEYS | {"file"}
    assert all(r["label"] is None and r["error"] for r in results[:3])
    assert "missing.png: no such file" in captured.err
    assert "blank.png: no ink found" in captured.err
    assert "notes.txt: not an image" in captured.err


def test_model_files_that_are_not_skdigits_models(tmp_path, capsys):
    bogus = tmp_path / "bogus.joblib"
    bogus.write_bytes(b"\x80\x04garbage")
    assert main(["predict", "--model", str(bogus), "x.png"]) == 2
    assert "bogus.joblib: is a Python pickle" in capsys.readouterr().err
    other = tmp_path / "list.joblib"
    joblib.dump([1, 2, 3], other)
    assert main(["evaluate", "--model", str(other)]) == 2
    err = capsys.readouterr().err
    assert "is a Python pickle" in err and "skdigits convert OLD NEW" in err
    assert main(["predict", "--model", str(tmp_path / "nope"), "x.png"]) == 2
    assert "nope: no such model file" in capsys.readouterr().err


def test_a_pickle_given_as_model_runs_nothing(tmp_path, capsys, pickle_bomb):
    bomb, sentinel = pickle_bomb
    png, _ = _digit_png(tmp_path)
    for argv in (["predict", "--model", str(bomb), str(png)], ["evaluate", "--model", str(bomb)]):
        assert main(argv) == 2
        assert "is a Python pickle" in capsys.readouterr().err
    assert not sentinel.exists()


def test_convert_a_trusted_pickle(trained, tmp_path, capsys):
    model = load_model(trained)
    old, new = tmp_path / "old.joblib", tmp_path / "new.safetensors"
    joblib.dump(model, old)
    assert main(["convert", str(old), str(new)]) == 0
    captured = capsys.readouterr()
    assert "runs any code" in captured.err and f"model saved to {new}" in captured.out
    _, X_test, _, _ = load_mnist(n_test=50, random_state=3)
    np.testing.assert_array_equal(load_model(new).predict_proba(X_test), model.predict_proba(X_test))
    # Only pickles are converted, and only pickles of the classifier.
    assert main(["convert", str(new), str(tmp_path / "again")]) == 2
    assert "convert reads joblib pickles only" in capsys.readouterr().err
    joblib.dump({"a": 1}, old)
    assert main(["convert", str(old), str(tmp_path / "again")]) == 2
    assert "holds a dict, not a CNNDigitClassifier" in capsys.readouterr().err
    assert not (tmp_path / "again").exists()


def test_predict_without_model_uses_the_pretrained_one(tmp_path, capsys):
    png, label = _digit_png(tmp_path, index=1)
    assert main(["predict", "--json", str(png)]) == 0
    assert json.loads(capsys.readouterr().out)[0]["label"] == label


def test_info(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    for name in ("skdigits", "python", "tensorflow", "keras", "scikeras", "onnxruntime", "scikit-learn", "numpy",
                 "cpu count"):
        assert f"{name}:" in out
    assert "model: pretrained pretrained.safetensors, MNIST test accuracy 0.99" in out


def test_usage_errors_exit_non_zero(capsys):
    with pytest.raises(SystemExit) as exc:
        main([])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["predict", "--model", "m"])
    assert exc.value.code == 2


@pytest.mark.slow
def test_subprocess_entry_points(trained, tmp_path):
    png, label = _digit_png(tmp_path)
    # TensorFlow's start-up log lines are hidden unless --verbose asks for them.
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    for runtime in ("onnx", "keras"):
        out = subprocess.run([sys.executable, "-m", "skdigits", "predict", "--runtime", runtime, "--model",
                              str(trained), "--json", str(png)], capture_output=True, text=True, env=env, check=True)
        assert json.loads(out.stdout)[0]["label"] == label
        assert out.stderr == ""
    script = os.path.join(os.path.dirname(sys.executable), "skdigits")
    out = subprocess.run([script, "predict", "--runtime", "keras", "--verbose", "--model", str(trained), str(png)],
                         capture_output=True, text=True, env=env, check=True)
    assert "oneDNN" in out.stderr or "cuda" in out.stderr.lower()
    out = subprocess.run([script, "--help"], capture_output=True, text=True, env=env, check=True)
    assert "train" in out.stdout and "convert" in out.stdout and "safetensors" in out.stdout


def _number_png(folder, indices, name="number.png"):
    """MNIST test digits written dark left to right on light ruled paper."""
    _, X_test, _, y_test = load_mnist()
    page = np.full((120, 90 * len(indices) + 40), 235, dtype=np.uint8)
    page[::24] = 190  # rulings crossing the digits
    for k, i in enumerate(indices):
        big = np.asarray(Image.fromarray(X_test[i]).resize((84, 84)), dtype=float) / 255
        region = page[18:102, 20 + 90 * k:104 + 90 * k]
        region[:] = np.minimum(region, np.uint8(235 * (1 - 0.9 * big)))
    path = folder / name
    Image.fromarray(page).save(path)
    return path, "".join(str(y_test[i]) for i in indices)


def test_read_lines_json_and_per_file_errors(tmp_path, capsys):
    number, text = _number_png(tmp_path, [0, 1, 2, 3])
    one, label = _digit_png(tmp_path, index=4)
    blank = tmp_path / "blank.png"
    Image.new("L", (120, 80), 240).save(blank)
    assert main(["read", str(number), str(one)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith(f"{number}: {text} (p=") and len(lines[0].split("p=")[1].split()) == 4
    assert lines[1].startswith(f"{one}: {label} (p=")
    assert main(["read", "--json", str(blank), str(number), str(tmp_path / "gone.png")]) == 1
    captured = capsys.readouterr()
    results = json.loads(captured.out)
    assert [r["file"] for r in results] == [str(blank), str(number), str(tmp_path / "gone.png")]
    assert results[1]["text"] == text and len(results[1]["digits"]) == 4
    digit = results[1]["digits"][0]
    assert set(digit) == DIGIT_KEYS and len(digit["box"]) == 4
    assert results[0]["text"] is None and "no ink found" in results[0]["error"]
    assert "blank.png: no ink found" in captured.err and "gone.png: no such file" in captured.err


def test_show_writes_what_the_model_saw(tmp_path, capsys):
    number, text = _number_png(tmp_path, [5, 6, 7])
    one, _ = _digit_png(tmp_path, index=8)
    shows = tmp_path / "shows"
    assert main(["read", "--show", str(shows), str(number)]) == 0
    assert main(["predict", "--show", str(shows), str(one)]) == 0
    capsys.readouterr()
    for name, n_digits in (("number.png.png", 3), ("digit.png.png", 1)):
        with Image.open(shows / name) as sheet:
            pixels = np.asarray(sheet.convert("RGB"))
        # The boxes are drawn in red, and each 28x28 input below the picture.
        red = (pixels[:, :, 0] > 200) & (pixels[:, :, 1] < 80) & (pixels[:, :, 2] < 80)
        assert red.sum() > 100
        assert sheet.width >= 112 * n_digits and sheet.height > 112
