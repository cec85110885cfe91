"""Process-wide TensorFlow settings: thread pools."""

import os

import tensorflow as tf

# Variables through which joblib's loky workers and Dask's nannies tell each
# worker process how many threads it may use (cores // n_jobs).
_THREAD_LIMIT_VARS = ("SKDIGITS_NUM_THREADS", "OMP_NUM_THREADS")


def thread_limit():
    """The per-process thread budget set in the environment, or None."""
    for var in _THREAD_LIMIT_VARS:
        value = os.environ.get(var, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return None


def limit_tensorflow_threads():
    """Size TensorFlow's thread pools to the process's thread budget.

    TensorFlow sizes its pools to every core of the machine, ignoring
    ``OMP_NUM_THREADS``; two search workers on two cores then fight over
    four threads each. The pools can only be sized before TensorFlow runs
    its first operation, so this is called at the start of ``fit`` and
    ``predict`` and does nothing once TensorFlow is running or when no
    budget is set.

    Returns
    -------
    n_threads : int or None
        The intra-op pool size now in force if this call set it, else None.
    """
    n_threads = thread_limit()
    if n_threads is None:
        return None
    threading = tf.config.threading
    if threading.get_intra_op_parallelism_threads() == n_threads:
        return None
    try:
        threading.set_intra_op_parallelism_threads(n_threads)
        threading.set_inter_op_parallelism_threads(n_threads)
    except RuntimeError:
        # TensorFlow is already running: its pools are fixed for this process.
        return None
    return n_threads
