"""The package's layout: public names at the top, short modules, the reader without TensorFlow."""

import importlib
import pathlib
import re
import subprocess
import sys

import skdigits

PACKAGE = pathlib.Path(skdigits.__file__).parent
# Public names of skdigits that callers import today; each must keep importing from the top.
PUBLIC = {"CNNDigitClassifier", "ImageError", "MNISTPreprocessor", "ModelFileError", "Reading", "find_digits",
          "load_idx", "load_mnist", "load_model", "load_pretrained", "pretrained_record", "read_digits", "read_many",
          "read_image", "save_model", "to_mnist", "__version__"}


def test_every_public_name_imports_from_the_top():
    assert PUBLIC <= set(skdigits.__all__)
    for name in skdigits.__all__:
        assert getattr(skdigits, name) is not None, name


def test_no_module_is_over_600_lines():
    lengths = {str(path.relative_to(PACKAGE)): len(path.read_text(encoding="utf-8").splitlines())
               for path in PACKAGE.rglob("*.py")}
    assert len(lengths) > 20
    assert {path: n for path, n in lengths.items() if n > 600} == {}


def test_the_sub_packages_import_without_tensorflow():
    code = ("import sys\n"
            "import skdigits.reader, skdigits.model_files, skdigits.apps\n"
            "from skdigits.reader import _images, _reading, _bulk, _finder\n"
            "from skdigits.apps import _cli, _server\n"
            "from skdigits import read_digits, find_digits, to_mnist, load_model, Reading\n"
            "leaked = [m for m in ('tensorflow', 'keras', 'scikeras') if m in sys.modules]\n"
            "assert not leaked, leaked\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def test_each_sub_package_says_what_it_holds():
    for name in ("estimator", "reader", "model_files", "apps"):
        module = importlib.import_module(f"skdigits.{name}")
        assert module.__doc__ and "skdigits" in module.__doc__, name


def test_the_readme_is_short_has_no_history_and_gives_the_test_command():
    readme = (PACKAGE.parent / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 300
    hashes = re.findall(r"\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*[0-9])[0-9a-f]{7,40}\b", readme)
    assert hashes == [], f"commit hashes belong in CHANGELOG.md: {hashes}"
    assert "this round" not in readme and "last round" not in readme
    assert "pip install -e '.[test]'" in readme and (PACKAGE.parent / "CHANGELOG.md").is_file()


def test_benchmark_scripts_import_shared_helpers_from_common_only():
    import ast

    folder = PACKAGE.parent / "benchmarks"
    local = {path.stem for path in folder.glob("*.py")}
    scripts = [path for path in folder.glob("*.py") if not path.name.startswith("_")]
    assert len(scripts) > 10
    for path in scripts:
        imported = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module.split(".")[0])
            elif isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
        assert imported & local <= {"_common"}, (path.name, sorted(imported & local))
