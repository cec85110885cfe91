"""The reader's shipped networks: their files and records, their tensors read and checked, and running them.

The finder (``_finder``) and the line reader (``_touching``) each ship as
tensors in ``data/`` beside a JSON record of how they were trained; each is
written as an ONNX graph by its own module and run here by ONNX Runtime.
"""

import json
import os

__all__ = ["OnnxNetwork", "data_path", "read_record", "read_checked_tensors"]


class OnnxNetwork:
    """A network as a serialised ONNX model (``onnx_model_``), run by ONNX Runtime once first asked."""

    def __init__(self, onnx_model):
        self.onnx_model_ = onnx_model
        self._session = None

    @property
    def session(self):
        if self._session is None:
            from .._threads import thread_limit
            from ..model_files._onnx import inference_session

            # One thread unless the process was given more: the rest of a reading is single-threaded.
            self._session = inference_session(self.onnx_model_, thread_limit() or 1)
        return self._session

    def run(self, output, name, array):
        """The network's ``output`` for one picture ``array`` (its input ``name``), the batch axis dropped."""
        return self.session.run([output], {name: array[None, None]})[0][0]


def data_path(name):
    """The path of a file shipped in ``skdigits/data``."""
    return os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", name)


def read_record(name):
    """A shipped JSON record (command, revision, seed, data, fit time, scores)."""
    with open(data_path(name)) as fh:
        return json.load(fh)


def read_checked_tensors(path, expected, checksum, record):
    """A file's tensors, checked as a model file's are: names, ``expected`` shapes, dtype, finiteness and ``checksum``.

    Only tensors are read (safetensors), by the model files' own checks; ``record`` names where the checksum came from.
    """
    from ..model_files._checks import _check_tensor_shapes, _read_tensors

    _check_tensor_shapes(path, expected)
    return _read_tensors(path, expected, checksum, checksum_from=f"its record ({record})")
