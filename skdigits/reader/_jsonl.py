"""Results that survive an interruption: a JSON Lines file written a line at a time, and continued."""

import json
import os

__all__ = ["JsonLinesOutput"]


class JsonLinesOutput:
    """An append-only JSON Lines file of records, each written whole by one ``write`` call as it comes.

    A run killed at any moment (Ctrl+C, SIGKILL, a full disk) leaves every
    record written before it whole, and at most its last line cut off.
    Opened with ``resume``, such a cut-off line is removed (its picture is
    read again) and ``done`` holds the ``file`` of every record already
    there, to be skipped.

    Parameters
    ----------
    path : str
        The file; created if missing.
    resume : bool, default=False
        Continue the records in ``path``. Without it, a file that already
        holds records is refused rather than written over.

    Attributes
    ----------
    done : set of str
        The ``file`` of each record already in the file.
    written : int
        Records in the file, those already there included.
    cut : bool
        Whether a cut-off last line was removed.

    Examples
    --------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "out.jsonl")
    >>> with JsonLinesOutput(path) as out:
    ...     out.write({"file": "a.png", "text": "42"})
    >>> with open(path, "a") as file:
    ...     _ = file.write('{"file": "b.p')               # a line cut off by a kill
    >>> with JsonLinesOutput(path, resume=True) as out:
    ...     sorted(out.done), out.cut
    (['a.png'], True)
    """

    def __init__(self, path, *, resume=False):
        self.path = os.fspath(path)
        self.done, self.written, self.cut = set(), 0, False
        if os.path.isdir(self.path):
            raise IsADirectoryError(f"{self.path}: is a folder; --output names a file (results.jsonl)")
        if os.path.exists(self.path) and os.path.getsize(self.path) > 0:
            if not resume:
                raise FileExistsError(f"{self.path}: already holds results; --resume continues it, "
                                      "or remove it to start again")
            self._recover()
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def _recover(self):
        good = 0
        with open(self.path, "rb") as file:
            for number, line in enumerate(file, start=1):
                if not line.endswith(b"\n"):
                    self.cut = True  # only the last line can lack its end: a write cut off
                    break
                try:
                    record = json.loads(line)
                    name = record["file"]
                except (ValueError, TypeError, KeyError):
                    raise ValueError(f"{self.path}: line {number} is not a record of skdigits (a JSON object "
                                     "with a 'file'); is it the right file?") from None
                self.done.add(name)
                self.written += 1
                good += len(line)
        if self.cut:
            os.truncate(self.path, good)

    def write(self, record):
        """Append one record as one line; OSError (a full disk) leaves at most that line cut off."""
        line = memoryview((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))
        while line:
            line = line[os.write(self._fd, line):]
        self.done.add(record["file"])
        self.written += 1

    def close(self):
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
