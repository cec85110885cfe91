"""The thread budget a process is given through its environment (no TensorFlow here)."""

import os

# Variables through which joblib's loky workers, Dask's nannies and `skdigits serve`
# tell each worker process how many threads it may use (cores // workers).
THREAD_LIMIT_VARS = ("SKDIGITS_NUM_THREADS", "OMP_NUM_THREADS")


def thread_limit():
    """The per-process thread budget set in the environment, or None."""
    for var in THREAD_LIMIT_VARS:
        value = os.environ.get(var, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return None
