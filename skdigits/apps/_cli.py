"""The ``skdigits`` command: train, evaluate, predict, read, serve, convert, info."""

import argparse
import ast
import json
import os
import platform
import sys
import time

import numpy as np

# Security note for users (repeated in --help).
_TRUST_NOTE = (
    "Model files are safetensors files with a JSON header: loading one runs no code. "
    "Pickles are refused; convert a trusted old one once with: skdigits convert OLD NEW"
)


_MODEL_HELP = "a model file from 'skdigits train' (default: the pretrained model shipped with skdigits)"


class CLIError(Exception):
    """An error for the user: printed as one line, exit status 2."""


def _parse_set(items):
    params = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise CLIError(f"--set expects key=value, got {item!r}")
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            value = raw  # a bare word such as relu or adam
        params[key.strip()] = value
    return params


def _load_data(path):
    """X_train, X_test, y_train, y_test from the bundled MNIST, an .npz, or a folder of IDX files."""
    from .._datasets import load_idx, load_mnist

    if path is None:
        return load_mnist()
    if os.path.isdir(path):
        files = {}
        for key, stem in [("x_train", "train-images"), ("y_train", "train-labels"),
                          ("x_test", "t10k-images"), ("y_test", "t10k-labels")]:
            found = sorted(f for f in os.listdir(path) if f.startswith(stem) and "idx" in f)
            if not found:
                raise CLIError(f"{path}: no {stem}-idx*-ubyte[.gz] file (the MNIST IDX layout)")
            files[key] = load_idx(os.path.join(path, found[0]))
        data = files
    elif os.path.isfile(path):
        try:
            with np.load(path, allow_pickle=False) as npz:
                data = {key: npz[key] for key in npz.files}
        except (OSError, ValueError) as exc:
            raise CLIError(f"{path}: not a readable .npz file ({exc})") from None
    else:
        raise CLIError(f"{path}: no such file or folder")
    missing = {"x_train", "y_train", "x_test", "y_test"} - set(data)
    if missing:
        raise CLIError(f"{path}: missing arrays {sorted(missing)} (expected Keras's mnist.npz keys)")
    return data["x_train"], data["x_test"], data["y_train"], data["y_test"]


def _load_model(path, runtime="keras"):
    """The model at ``path``, or the pretrained one when ``path`` is None; CLIError if unusable."""
    from ..model_files._model_files import load_model, load_pretrained

    try:
        return load_pretrained(runtime=runtime) if path is None else load_model(path, runtime=runtime)
    except (OSError, ValueError) as exc:
        raise CLIError(str(exc)) from None


def _save_model(clf, path):
    from ..model_files._model_files import save_model

    try:
        save_model(clf, path)
    except (OSError, ValueError) as exc:
        raise CLIError(f"{path}: cannot save the model ({exc})") from None


def cmd_train(args):
    from .._datasets import _subset
    from ..estimator._classifier import CNNDigitClassifier

    out_dir = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(out_dir) or not os.access(out_dir, os.W_OK):
        raise CLIError(f"{args.output}: folder {out_dir} does not exist or is not writable")
    X_train, X_test, y_train, y_test = _load_data(args.data)
    if args.n_train is not None:
        try:
            X_train, y_train = _subset(X_train, y_train, args.n_train, args.seed, "--n-train")
        except ValueError as exc:
            raise CLIError(str(exc)) from None
    params = {"random_state": args.seed, "verbose": 0 if args.quiet else 1, **_parse_set(args.set)}
    if args.epochs is not None:
        params["epochs"] = args.epochs
    try:
        clf = CNNDigitClassifier().set_params(**params)
        start = time.perf_counter()
        clf.fit(X_train, y_train)
    except (ValueError, TypeError) as exc:
        raise CLIError(str(exc).splitlines()[0]) from None
    seconds = time.perf_counter() - start
    history = clf.history_
    print(f"trained on {len(y_train)} images in {seconds:.1f} s, {len(history['loss'])} epochs")
    if "val_accuracy" in history:
        best = int(np.argmin(history["val_loss"]))
        print(f"validation accuracy: {history['val_accuracy'][best]:.4f} (epoch {best + 1})")
    print(f"test accuracy: {clf.score(X_test, y_test):.4f} on {len(y_test)} images")
    _save_model(clf, args.output)
    print(f"model saved to {args.output}")
    return 0


def cmd_evaluate(args):
    from sklearn.metrics import classification_report, confusion_matrix

    model = _load_model(args.model)
    _, X_test, _, y_test = _load_data(args.data)
    try:
        proba = model.predict_proba(X_test)
    except (ValueError, TypeError) as exc:
        raise CLIError(f"{args.model}: cannot predict these images ({exc})") from None
    y_pred = model.classes_[np.argmax(proba, axis=1)]
    print(f"accuracy: {np.mean(y_pred == y_test):.4f} on {len(y_test)} images")
    print(classification_report(y_test, y_pred, digits=4))
    labels = np.unique(np.concatenate([y_test, y_pred]))
    matrix = confusion_matrix(y_test, y_pred, labels=labels)
    print("confusion matrix (rows: true, columns: predicted)")
    width = max(len(str(matrix.max())), max(len(str(label)) for label in labels)) + 1
    print(" " * width + "".join(f"{label!s:>{width}}" for label in labels))
    for label, row in zip(labels, matrix):
        print(f"{label!s:>{width}}" + "".join(f"{v:>{width}}" for v in row))
    if args.plots:
        from ._plots import save_evaluation_plots

        try:
            paths = save_evaluation_plots(args.plots, model, X_test, y_test, y_pred, proba, labels, matrix)
        except ImportError:
            raise CLIError("--plots needs matplotlib: pip install 'skdigits[plots]'") from None
        for path in paths:
            print(f"wrote {path}")
    return 0


def _bulk_inputs(args):
    """The checked options and inputs of predict and read: (inputs, output file or None)."""
    from ..reader._bulk import image_files
    from ..reader._images import _FORMAT_NAMES
    from ..reader._jsonl import JsonLinesOutput

    if args.resume and not args.output:
        raise CLIError("--resume continues the file of --output FILE.jsonl: name it")
    if args.json and args.output:
        raise CLIError("--json prints one array at the end, --output writes JSON Lines as they come: give one")
    if args.jobs is not None and args.jobs < 1:
        raise CLIError(f"--jobs must be at least 1, got {args.jobs}")
    if args.dask and (args.jobs is not None or args.show):
        raise CLIError("--dask reads on the cluster's workers: --jobs and --show do not apply")
    inputs = list(image_files(args.files))
    if not inputs:
        raise CLIError(f"no image files ({', '.join(_FORMAT_NAMES)}) in {', '.join(args.files)}")
    output = None
    if args.output:
        try:
            output = JsonLinesOutput(args.output, resume=args.resume)
        except (OSError, ValueError) as exc:
            raise CLIError(str(exc)) from None
    return inputs, output


def _bulk_command(args, what):
    """predict and read: files and folders, read by --jobs processes or on --dask, each record out as it comes."""
    import contextlib

    from ..reader._bulk import _read_inputs

    inputs, output = _bulk_inputs(args)
    done = output.done if output is not None else set()
    client = None
    with contextlib.ExitStack() as stack:
        if output is not None:
            stack.enter_context(output)
            if output.cut:
                print(f"skdigits: the last line of {args.output} was cut off (an interrupted write); "
                      "its picture is read again", file=sys.stderr)
        if args.dask:
            client = stack.enter_context(_dask_client(args.dask))
            loaded = None
        else:
            loaded = _load_model(args.model, args.runtime)  # a bad model file is reported before any worker starts
        todo = sum(path not in done for path in inputs)
        bar = stack.enter_context(_progress(len(inputs), len(inputs) - todo))
        records = stack.enter_context(contextlib.closing(_read_inputs(
            inputs, args.model, what=what, n_jobs=args.jobs, client=client, runtime=args.runtime, skip=done,
            show=args.show, loaded=loaded, learned=args.learned)))
        order = {path: k for k, path in enumerate(inputs)}
        results, failed, start = [], 0, time.perf_counter()
        try:
            for path, chunk in records:
                for record in chunk:
                    if "error" in record:
                        failed += 1
                        _say(bar, f"skdigits: error: {record['error']}", sys.stderr)
                    if output is not None:
                        _append(output, record, args.output)
                    elif args.json:
                        results.append((order[path], len(results), record))
                    elif "error" not in record:
                        _say(bar, _line(record, what), sys.stdout)
                bar.update(1)
        except KeyboardInterrupt:
            if output is not None:
                print(f"skdigits: interrupted; {output.written} records are in {args.output}: the same command "
                      "with --resume goes on", file=sys.stderr)
            raise
        except RuntimeError as exc:  # a worker process died
            raise CLIError(str(exc)) from None
    if args.json:
        print(json.dumps([record for *_, record in sorted(results, key=lambda r: r[:2])], indent=2))
    if output is not None:
        seconds = time.perf_counter() - start
        print(f"skdigits: {todo} inputs read in {seconds:.1f} s ({todo / max(seconds, 1e-9):.1f}/s), {failed} with "
              f"errors; {output.written} records in {args.output}", file=sys.stderr)
    return 1 if failed else 0


def _append(output, record, name):
    """One record into the JSON Lines file; a full disk (or any write error) ends the run, the records kept."""
    try:
        output.write(record)
    except OSError as exc:
        raise CLIError(f"{name}: cannot write a record ({exc.strerror or exc}); {output.written} are in it: "
                       "make room, then run the same command with --resume") from None


def _say(bar, line, file):
    """A line printed as it comes, above the progress bar if there is one."""
    if bar.disable:
        print(line, file=file, flush=True)
    else:
        bar.write(line, file=file)


def _line(record, what):
    if what == "read":
        probabilities = " ".join(f"{d['probability']:.3f}" for d in record["digits"])
        return f"{record['file']}: {record['text']} (p={probabilities})"
    others = ", ".join(f"{t['label']} {t['probability']:.3f}" for t in record["top3"])
    return f"{record['file']}: {record['label']} (p={record['probability']:.3f}) top3: {others}"


def _progress(total, initial):
    """A progress bar on standard error when it is a terminal (tqdm); otherwise one that prints only lines."""
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="photo", file=sys.stderr, dynamic_ncols=True,
                disable=not sys.stderr.isatty(), smoothing=0.1)


def _dask_client(address):
    try:
        from distributed import Client
    except ImportError:
        raise CLIError("--dask needs Dask's distributed scheduler: pip install 'skdigits[dask]'") from None
    try:
        return Client(address)  # Dask's own connect timeout (30 s): a busy scheduler may take a while
    except (OSError, ValueError, TimeoutError) as exc:
        raise CLIError(f"--dask {address}: cannot reach a Dask scheduler there ({exc})") from None


def cmd_predict(args):
    return _bulk_command(args, "predict")


def cmd_read(args):
    return _bulk_command(args, "read")

def cmd_serve(args):
    from ._server import default_workers, serve

    if not 0 <= args.port <= 65535:
        raise CLIError(f"--port {args.port} is not a port number (0 to 65535)")
    if args.max_body_mb <= 0:
        raise CLIError(f"--max-body-mb must be positive, got {args.max_body_mb}")
    if args.workers is None:
        args.workers = default_workers()
    if args.workers < 1:
        raise CLIError(f"--workers must be at least 1, got {args.workers}")
    for name in args.allowed_host or ():
        if not name or any(c in name for c in " ,/") or "*" in name[1:]:
            raise CLIError(f"--allowed-host {name!r} is not a host name, an address, '*' or '*.domain'")
    model = _load_model(args.model, args.runtime)  # a bad model file is reported here, before any worker starts
    print(f"skdigits: serving on http://{args.host}:{args.port}/ with {args.workers} worker(s) (Ctrl+C stops)",
          flush=True)
    started = serve(model, args.model, host=args.host, port=args.port, workers=args.workers,
                    max_body_bytes=int(args.max_body_mb * 1024 * 1024), allowed_hosts=args.allowed_host,
                    runtime=args.runtime, verbose=args.verbose, learned=args.learned)
    # uvicorn reports a port it cannot bind and stops without raising.
    return 0 if started else 2


def cmd_convert(args):
    """Turn a trusted joblib pickle of a CNNDigitClassifier into a model file."""
    import joblib

    from ..estimator._classifier import CNNDigitClassifier
    from ..model_files._checks import describe_file

    if not os.path.isfile(args.old):
        raise CLIError(f"{args.old}: no such file")
    with open(args.old, "rb") as file:
        kind = describe_file(file.read(16))
    if kind is None or "pickle" not in kind:
        raise CLIError(f"{args.old}: is {kind or 'not a pickle'}; convert reads joblib pickles only")
    print(f"skdigits: unpickling {args.old} as asked; this runs any code the file holds",
          file=sys.stderr, flush=True)
    try:
        model = joblib.load(args.old)
    except Exception as exc:  # any unpickling failure means "not a model pickle"
        raise CLIError(f"{args.old}: cannot unpickle ({type(exc).__name__}: {exc})") from None
    if not isinstance(model, CNNDigitClassifier):
        raise CLIError(f"{args.old}: holds a {type(model).__name__}, not a CNNDigitClassifier")
    _save_model(model, args.new)
    print(f"model saved to {args.new}")
    return 0


def cmd_export(args):
    """Write a model file's network as a standalone ONNX file, for other programs."""
    from ..model_files._model_files import _load, pretrained_path
    from ..reader._records import plain

    path = pretrained_path() if args.model == "pretrained" else args.model
    if not os.path.isfile(path):
        raise CLIError(f"{args.model}: no such model file")
    try:
        model = _load(path, "onnx", tta=False if args.no_tta else None)
    except (OSError, ValueError) as exc:
        raise CLIError(str(exc)) from None
    out_dir = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(out_dir):
        raise CLIError(f"{args.output}: folder {out_dir} does not exist")
    with open(args.output, "wb") as file:
        file.write(model.onnx_model_)
    inputs = "pixels: float32 (n, %d), 0..255" % model.n_features_in_
    print(f"wrote {args.output}: {inputs} -> probabilities: float32 (n, {len(model.classes_)}) for classes "
          f"{[plain(c) for c in model.classes_]}"
          + (", averaged over the image and 4 copies shifted by a pixel" if model.tta else ""))
    return 0


def cmd_info(args):
    from importlib.metadata import PackageNotFoundError, version

    from .._version import __version__

    def installed(name):
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    rows = [
        ("skdigits", __version__),
        ("python", platform.python_version()),
        *((name, installed(name)) for name in ("tensorflow", "keras", "scikeras", "onnxruntime", "onnx",
                                               "scikit-learn", "numpy")),
        ("platform", platform.platform()),
        ("cpu count", str(os.cpu_count())),
    ]
    rows.append(("model", _pretrained_line()))
    for key, value in rows:
        print(f"{key:>13}: {value}")
    return 0


def _pretrained_line():
    """What model predict and read use without --model."""
    from ..model_files._model_files import pretrained_record

    try:
        record = pretrained_record()
    except (OSError, ValueError):
        return "no pretrained model in this installation"
    return (
        f"pretrained {record['file']}, MNIST test accuracy {record['test_accuracy']:.4f}, "
        f"trained {record['timestamp'][:10]} at revision {record['git_revision'][:12]} "
        f"(seed {record['seed']}, {record['epochs_run']} epochs)"
    )


def _bulk_arguments(p):
    p.add_argument("--jobs", type=int, metavar="N",
                   help="worker processes, each with its own model (default: one per core; "
                        "at most one per 16 pictures)")
    p.add_argument("--output", metavar="FILE.jsonl",
                   help="write one JSON object per picture to FILE.jsonl as soon as it is read (JSON Lines; "
                        "errors included); nothing is printed per picture")
    p.add_argument("--resume", action="store_true",
                   help="continue --output FILE.jsonl: the pictures already in it are skipped, a line cut off "
                        "by an interruption is redone")
    p.add_argument("--dask", metavar="ADDRESS",
                   help="read on a running Dask cluster (e.g. tcp://10.0.0.5:8786; needs skdigits[dask]); "
                        "each worker loads the model once, and must see the same files")
    _learned_argument(p)


def _model_arguments(p):
    p.add_argument("--model", metavar="PATH", help=_MODEL_HELP)
    p.add_argument("--runtime", choices=("onnx", "keras"), default="onnx",
                   help="run the network with ONNX Runtime (default: starts in a blink) or Keras (imports TensorFlow)")


def _learned_argument(p):
    which = p.add_mutually_exclusive_group()
    which.add_argument("--learned", dest="learned", action="store_true", default=True,
                       help="find the digits with the learned finder (the default): blank surfaces, form boxes "
                            "and frames are answered 'no digit found', touching digits cut apart")
    which.add_argument("--rules", dest="learned", action="store_false",
                       help="find the digits by the rules alone, without the learned finder")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="skdigits",
        description="A CNN for handwritten digits behind the scikit-learn API.",
        epilog=_TRUST_NOTE,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--verbose", action="store_true", help="show TensorFlow's start-up log lines")

    p = sub.add_parser("train", parents=[common], help="train CNNDigitClassifier and save it", epilog=_TRUST_NOTE)
    p.add_argument("--output", required=True, metavar="PATH", help="where to save the fitted model (a safetensors model file)")
    p.add_argument("--epochs", type=int, help="training epochs (default: the estimator's)")
    p.add_argument("--n-train", type=int, metavar="N", help="train on a stratified subset of N images")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="an estimator parameter, e.g. --set filters=64 --set optimizer=nesterov")
    p.add_argument("--data", metavar="FILE",
                   help="an .npz with x_train, y_train, x_test, y_test, or a folder of MNIST IDX files "
                        "(default: the bundled MNIST)")
    p.add_argument("--seed", type=int, default=0, help="random_state of the fit (default 0)")
    p.add_argument("--quiet", action="store_true", help="no Keras progress bars")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", parents=[common], help="accuracy, per-class precision and recall, confusion matrix",
                       epilog=_TRUST_NOTE)
    p.add_argument("--model", metavar="PATH", help=_MODEL_HELP)
    p.add_argument("--data", metavar="FILE", help="test data as for train (default: bundled MNIST test set)")
    p.add_argument("--plots", metavar="DIR", help="also write PNG plots to DIR (needs matplotlib)")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", parents=[common], help="predict the digit in image files", epilog=_TRUST_NOTE)
    _model_arguments(p)
    p.add_argument("--json", action="store_true", help="print a JSON array instead of lines")
    p.add_argument("--show", metavar="DIR",
                   help="write DIR/<file>.png: the picture, the box found and the 28x28 image the network saw")
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="PNG / JPEG / BMP / TIFF / WebP / GIF picture of one digit, .npy array of MNIST-style "
                        "images, or a folder (searched recursively for pictures)")
    _bulk_arguments(p)
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("read", parents=[common], help="read the number written in each picture",
                       epilog=_TRUST_NOTE)
    _model_arguments(p)
    p.add_argument("--json", action="store_true",
                   help="print a JSON array of {file, text, digits: [{label, probability, box}]}")
    p.add_argument("--show", metavar="DIR",
                   help="write DIR/<file>.png: the picture, the boxes found and the 28x28 images the network saw")
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="PNG / JPEG / BMP / TIFF / WebP / GIF photo of digits written left to right, or a folder "
                        "(searched recursively for pictures)")
    _bulk_arguments(p)
    p.set_defaults(func=cmd_read)

    p = sub.add_parser("serve", parents=[common], help="a web page to draw digits on, and a JSON API",
                       epilog=_TRUST_NOTE)
    _model_arguments(p)
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 opens it to the network)")
    p.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    p.add_argument("--max-body-mb", type=float, default=10.0, metavar="MB",
                   help="largest request body accepted, in MiB (default 10); larger ones get 413")
    p.add_argument("--workers", type=int, default=None,
                   help="server processes, each with its own copy of the model "
                        "(default: one per core, at most 4)")
    p.add_argument("--allowed-host", action="append", metavar="NAME",
                   help="a name the Host header may give, as in http://NAME:PORT/ (repeat for more; '*' for any). "
                        "Default: localhost, 127.0.0.1 and ::1, and the --host address when it is not loopback; "
                        "any name when bound to 0.0.0.0 (then put a reverse proxy in front)")
    _learned_argument(p)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("convert", parents=[common],
                       help="convert a trusted joblib pickle of a model into a model file")
    p.add_argument("old", metavar="OLD", help="a joblib pickle you made or trust (it is unpickled)")
    p.add_argument("new", metavar="NEW", help="the model file to write")
    p.set_defaults(func=cmd_convert)

    p = sub.add_parser("export", parents=[common], help="write a model's network as a standalone ONNX file",
                       epilog=_TRUST_NOTE)
    p.add_argument("model", metavar="MODEL", help="a model file, or 'pretrained'")
    p.add_argument("output", metavar="OUT.onnx", help="the ONNX file to write")
    p.add_argument("--no-tta", action="store_true",
                   help="leave out test-time averaging (by default the graph averages as the model's tta says)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("info", parents=[common], help="versions, hardware and the pretrained model, for bug reports")
    p.set_defaults(func=cmd_info)
    return parser


def _import_tensorflow(verbose):
    """Import TensorFlow, hiding its start-up log lines unless ``verbose``.

    Some of them are written before TensorFlow reads its log level (absl's
    "before InitializeLog" lines), so standard error itself is closed off
    during the import; the level then hides later ones (CUDA probing).
    """
    if verbose or "tensorflow" in sys.modules:
        import tensorflow  # noqa: F401

        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


# The commands that train or evaluate the Keras estimator; the others run the
# network with ONNX Runtime unless told --runtime keras.
_KERAS_COMMANDS = ("train", "evaluate", "convert")


def main(argv=None):
    """Run the command line; return the exit status."""
    args = build_parser().parse_args(argv)
    if args.command in _KERAS_COMMANDS or getattr(args, "runtime", None) == "keras":
        _import_tensorflow(args.verbose)
    try:
        return args.func(args)
    except CLIError as exc:
        print(f"skdigits: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("skdigits: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
