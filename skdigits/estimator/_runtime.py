"""Process-wide TensorFlow settings: thread pools and op determinism."""


import tensorflow as tf

# TensorFlow exports no way to ask whether op determinism is on; scikeras
# asks through this same module.
from tensorflow.python.framework import config as _tf_config

from .._threads import thread_limit  # noqa: F401 (re-exported)


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


def settle_op_determinism():
    """Have TensorFlow read its op-determinism setting now, before any seeded fit.

    A seeded fit or build runs inside scikeras's ``tensorflow_random_state``,
    which sets ``TF_DETERMINISTIC_OPS=1`` and then asks TensorFlow whether
    determinism was already on, to switch it off again afterwards. TensorFlow
    reads that variable only once, at the first such question: if the first
    question comes from inside the context, the answer is "yes, already on",
    determinism is never switched off, and every later unseeded fit in the
    process fails in ``tf.data``'s shuffle ("Random ops require a seed").
    Asking once at import, outside any seeded context, fixes the answer to
    what the user's environment says.

    Returns
    -------
    enabled : bool
        Whether op determinism is on for this process now.
    """
    return bool(_tf_config.is_op_determinism_enabled())


settle_op_determinism()
