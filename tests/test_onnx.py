"""The ONNX Runtime path: the same predictions as Keras, without importing TensorFlow."""

import pickle
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from sklearn.datasets import load_digits
from sklearn.pipeline import make_pipeline

from skdigits import (
    CNNDigitClassifier,
    MNISTPreprocessor,
    load_mnist,
    load_model,
    load_pretrained,
    save_model,
)
from skdigits.apps._cli import main
from skdigits.model_files._onnx import OnnxDigitClassifier


@pytest.fixture(scope="module")
def mnist_test():
    _, X_test, _, y_test = load_mnist()
    return X_test, y_test


@pytest.fixture(scope="module")
def both(pretrained):
    return pretrained, load_pretrained(runtime="onnx")


@pytest.mark.parametrize("tta", [True, False])
@pytest.mark.slow
def test_the_pretrained_model_agrees_on_all_of_mnist_test(pretrained, mnist_test, tta):
    from skdigits.model_files._model_files import _load, pretrained_path

    X_test, y_test = mnist_test
    onnx_model = _load(pretrained_path(), "onnx", tta=tta)
    pretrained.set_params(tta=tta)
    try:
        keras_proba = pretrained.predict_proba(X_test)
    finally:
        pretrained.set_params(tta=True)
    onnx_proba = onnx_model.predict_proba(X_test)
    assert onnx_model.tta is tta
    np.testing.assert_array_equal(onnx_proba.argmax(axis=1), keras_proba.argmax(axis=1))
    assert np.abs(onnx_proba - keras_proba).max() < 1e-4
    assert np.mean(onnx_model.classes_[onnx_proba.argmax(axis=1)] == y_test) >= 0.995


@pytest.mark.parametrize("params", [
    dict(kernel_size=4, activation="tanh"),                 # an even kernel: Keras pads its odd pixel at the end
    dict(kernel_size=(3, 5), conv_blocks=4, activation="sigmoid"),
    dict(conv_blocks=1, filters=4, dense_units=8),
])
@pytest.mark.slow
def test_networks_of_other_shapes_agree(params, tmp_path):
    X, y = load_digits(return_X_y=True)
    labels = np.array(list("abcdefghij"))[y]  # string labels too
    clf = CNNDigitClassifier(epochs=1, random_state=0, **params).fit(X[:400], labels[:400])
    path = tmp_path / "m.safetensors"
    save_model(clf, path)
    onnx_model = load_model(path, runtime="onnx")
    np.testing.assert_array_equal(onnx_model.classes_, clf.classes_)
    assert np.abs(onnx_model.predict_proba(X[400:]) - clf.predict_proba(X[400:])).max() < 1e-4
    np.testing.assert_array_equal(onnx_model.predict(X[400:]), clf.predict(X[400:]))


@pytest.mark.slow
def test_averaging_over_odd_sides_agrees(tmp_path):
    X_train, X_test, y_train, _ = load_mnist(n_train=600, n_test=200, random_state=0)
    # 27x27: every pooling meets an odd side (27 -> 14 -> 7 -> 4), and the shifts an odd edge.
    X_train, X_test = X_train[:, :27, 1:], X_test[:, :27, 1:]
    clf = CNNDigitClassifier(epochs=1, random_state=0, tta=True).fit(X_train, y_train)
    path = tmp_path / "m27.safetensors"
    save_model(clf, path)
    onnx_model = load_model(path, runtime="onnx")
    assert onnx_model.tta and onnx_model.image_shape_ == (27, 27)
    assert np.abs(onnx_model.predict_proba(X_test) - clf.predict_proba(X_test)).max() < 1e-4


@pytest.mark.parametrize("tta", [True, False])
def test_the_graph_is_valid_onnx_of_the_ops_written(tta):
    import onnx

    from skdigits.model_files._model_files import _load, pretrained_path

    model = onnx.load_from_string(_load(pretrained_path(), "onnx", tta=tta).onnx_model_)
    onnx.checker.check_model(model, full_check=True)
    ops = [node.op_type for node in model.graph.node]
    assert ops.count("Conv") == 3 and ops.count("MaxPool") == 3 and ops[-2:] == (
        ["ReduceMean", "Identity"] if tta else ["Softmax", "Identity"])
    assert ("Pad" in ops) is tta and model.opset_import[0].version == 18
    assert [i.name for i in model.graph.input] == ["pixels"] and [o.name for o in model.graph.output] == ["probabilities"]
    conv = next(node for node in model.graph.node if node.op_type == "Conv")
    assert [(a.name, list(a.ints)) for a in conv.attribute] == [("pads", [1, 1, 1, 1])]
    weights = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    assert weights["conv1_w"].shape == (32, 1, 3, 3) and weights["image_shape"].tolist() == [-1, 1, 28, 28]


def test_an_image_gets_the_same_probabilities_whatever_shares_its_batch(both, mnist_test):
    _, onnx_model = both
    X = mnist_test[0][:300]
    together = onnx_model.predict_proba(X)
    alone = np.concatenate([onnx_model.predict_proba(X[i:i + 1]) for i in range(0, 300, 7)])
    np.testing.assert_array_equal(alone, together[::7])
    order = np.random.default_rng(0).permutation(300)
    np.testing.assert_array_equal(onnx_model.predict_proba(X[order]), together[order])


def test_predicting_and_reading_never_import_tensorflow(tmp_path):
    _, X_test, _, _ = load_mnist(n_test=3, random_state=0)
    page = np.full((80, 200), 240, dtype=np.uint8)
    for i, digit in enumerate(X_test):
        page[10:66, 20 + 60 * i:76 + 60 * i] -= (np.kron(digit, np.ones((2, 2))) * 0.85).astype(np.uint8)
    Image.fromarray(page).save(tmp_path / "number.png")
    code = (
        "import sys\n"
        "import numpy as np\n"
        "import skdigits.reader, skdigits.model_files, skdigits.apps\n"
        "from skdigits import load_pretrained, read_digits\n"
        "from skdigits.apps._cli import main\n"
        "path = sys.argv[1]\n"
        "assert load_pretrained(runtime='onnx').predict(np.zeros((1, 784))).shape == (1,)\n"
        "print(read_digits(path).text)\n"
        "assert main(['predict', path]) == 0 and main(['read', path]) == 0\n"
        "assert main(['export', 'pretrained', sys.argv[2]]) == 0\n"
        "leaked = [m for m in ('tensorflow', 'keras', 'scikeras', 'onnx') if m in sys.modules]\n"
        "assert not leaked, leaked\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "number.png"), str(tmp_path / "m.onnx")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines()[0] == "".join(map(str, load_mnist(n_test=3, random_state=0)[3]))


def test_export_writes_a_standalone_onnx_file(tmp_path, both, mnist_test, capsys):
    import onnxruntime

    _, onnx_model = both
    X = mnist_test[0][:50].reshape(50, -1).astype(np.float32)
    for args, averaged in (([], True), (["--no-tta"], False)):
        path = tmp_path / f"digits{averaged}.onnx"
        assert main(["export", "pretrained", str(path), *args]) == 0
        assert ("averaged over the image and 4 copies" in capsys.readouterr().out) is averaged
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        proba = session.run(["probabilities"], {"pixels": X})[0]
        if averaged:
            np.testing.assert_allclose(proba / proba.sum(1, keepdims=True), onnx_model.predict_proba(X), atol=1e-6)
    assert main(["export", "missing.safetensors", str(tmp_path / "x.onnx")]) == 2
    assert "missing.safetensors: no such model file" in capsys.readouterr().err


def test_in_a_pipeline_pickled_and_refusing_what_it_cannot_do(both, mnist_test):
    _, onnx_model = both
    X, y = mnist_test[0][:20], mnist_test[1][:20]
    pages = [255 - np.kron(digit, np.ones((3, 3), np.uint8)) for digit in X]
    pipeline = make_pipeline(MNISTPreprocessor(), onnx_model)
    assert np.mean(pipeline.predict(pages) == y) >= 0.9
    again = pickle.loads(pickle.dumps(onnx_model))
    np.testing.assert_array_equal(again.predict_proba(X), onnx_model.predict_proba(X))
    assert onnx_model.score(X, y) >= 0.95
    with pytest.raises(TypeError, match="predicts only"):
        onnx_model.fit(X, y)
    with pytest.raises(ValueError, match=r"X has shape \(20, 27, 28\); this model takes images of 28x28"):
        onnx_model.predict(X[:, 1:])
    with pytest.raises(ValueError, match="NaN"):
        onnx_model.predict(np.full((1, 784), np.nan))
    assert isinstance(onnx_model, OnnxDigitClassifier) and onnx_model.predict_proba(X[:0]).shape == (0, 10)


def test_the_server_runs_on_onnx_by_default():
    from skdigits.apps._server import model_description

    description = model_description(None)
    assert description["runtime"] == "onnx" and "onnxruntime" in description and "tensorflow" not in description
    assert model_description(None, "keras")["runtime"] == "keras"


def test_the_parameters_a_file_is_checked_against_are_the_estimators():
    import inspect

    from skdigits.estimator._architecture import ESTIMATOR_PARAMS

    parameters = inspect.signature(CNNDigitClassifier.__init__).parameters.values()
    assert tuple(p.name for p in parameters if p.kind == p.KEYWORD_ONLY) == ESTIMATOR_PARAMS
