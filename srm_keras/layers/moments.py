"""Spatial moments for SRM's style pooling: a one-pass form for TensorFlow, and the centred form.

The centred form, ``sum((x - mean)^2)``, reads the feature map twice and, without XLA, writes
two full-size temporaries (the deviations and their squares). TensorFlow has a reduction that
squares as it sums, ``EuclideanNorm``, so in a TensorFlow graph or eagerly the variance can
come from one read for the mean and one for the sum of squares, with no temporary:
``variance = (sum(x^2) - S * mean^2) / (S - ddof)``. Measured on the pooling alone over
ResNet-50's sixteen block outputs (batch 16, 224x224, 2 CPU cores), this takes about a third of
the centred form's time (``benchmarks/srm_moments.py``).

The one-pass form loses precision when the mean dominates the spread (cancellation), so it is
used only when every (sample, channel) of the batch satisfies
``S * mean^2 <= MAX_CANCELLATION * (sum(x^2) - S * mean^2)``; otherwise the batch falls back
to the centred form, inside the graph (``tf.cond``). The bound keeps the one-pass variance
within about ``(1 + MAX_CANCELLATION)`` float32 roundings of the centred one.

The one-pass form is not used:

* under XLA (``jit_compile``), which has no ``EuclideanNorm`` kernel; XLA fuses the centred
  form into two reads without temporaries anyway;
* on the JAX and PyTorch backends;
* inside :func:`portable`, which the export stage uses while it traces the serving graph, so
  that TFLite and ONNX see only the common reductions.
"""

from __future__ import annotations

import contextlib
import threading

import keras
from keras import ops

#: The one-pass variance is used while the squared mean is at most this many times the
#: centred sum of squares (see the module docstring).
MAX_CANCELLATION = 16.0

_state = threading.local()


@contextlib.contextmanager
def portable():
    """Compute moments with the centred ``keras.ops`` form only (for graphs other runtimes read)."""
    previous = getattr(_state, "portable", False)
    _state.portable = True
    try:
        yield
    finally:
        _state.portable = previous


def one_pass_available() -> bool:
    """Whether the current trace may use TensorFlow's one-pass moments."""
    if keras.backend.backend() != "tensorflow" or getattr(_state, "portable", False):
        return False
    import tensorflow as tf

    if tf.executing_eagerly():
        return True
    try:
        from tensorflow.python.ops import control_flow_util
    except ImportError:  # a TensorFlow without the helper: stay on the form XLA accepts
        return False
    return not control_flow_util.GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph())


def centred_moments(x, ddof: int):
    """Mean and variance over axis 1 of a float32 ``(N, S, C)`` tensor, both ``(N, C)``."""
    spatial = ops.cast(ops.shape(x)[1], "float32")
    mean = ops.mean(x, axis=1, keepdims=True)
    # The gradient of the centred sum through the mean is exactly zero (the deviations sum to
    # zero), so holding the mean constant there leaves the gradient unchanged and saves the
    # backward pass a full-size product and reduction.
    squares = ops.sum(ops.square(x - ops.stop_gradient(mean)), axis=1)
    return ops.squeeze(mean, axis=1), squares / ops.maximum(spatial - ddof, 1.0)


def moments(x, ddof: int):
    """Mean and variance over axis 1 of a float32 ``(N, S, C)`` tensor, both ``(N, C)``.

    One pass in TensorFlow graphs without XLA (see the module docstring), the centred form
    everywhere else; the two agree to float32 rounding.
    """
    if not one_pass_available():
        return centred_moments(x, ddof)
    import tensorflow as tf

    spatial = tf.cast(tf.shape(x)[1], tf.float32)
    mean = tf.reduce_mean(x, axis=1)
    squared_mean = spatial * tf.square(mean)
    centred = _sum_of_squares(x) - squared_mean
    well_conditioned = tf.reduce_all(squared_mean <= MAX_CANCELLATION * centred)
    squares = tf.cond(
        well_conditioned,
        lambda: centred,
        lambda: tf.reduce_sum(tf.square(x - tf.stop_gradient(mean)[:, None, :]), axis=1),
    )
    return mean, squares / tf.maximum(spatial - ddof, 1.0)


def _sum_of_squares(x):
    import tensorflow as tf

    @tf.custom_gradient
    def sum_of_squares(x):
        norm = tf.math.reduce_euclidean_norm(x, axis=1)

        # d(sum x^2)/dx = 2x. (Through the norm it would be 2 * norm * x / norm: NaN at zero.)
        def gradient(upstream):
            return 2.0 * x * upstream[:, None, :]

        return tf.square(norm), gradient

    return sum_of_squares(x)
