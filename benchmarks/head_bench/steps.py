"""The benchmark's step on the backend Keras runs on, and what is read from it: each
function hands over to :mod:`head_bench.tensorflow_steps`, :mod:`head_bench.jax_steps` or
:mod:`head_bench.torch_steps`."""

from head_bench import jax_steps, tensorflow_steps, torch_steps

BACKENDS = {"tensorflow": tensorflow_steps, "jax": jax_steps, "torch": torch_steps}


def backend_name():
    """The backend Keras runs on: ``"tensorflow"``, ``"jax"`` or ``"torch"``."""
    import keras

    return keras.backend.backend()


def _current():
    return BACKENDS[backend_name()]


def make_step(forward, head, jit_compile=False):
    """The timed step: loss and its gradients w.r.t. the embedding and head variables.

    On the backend Keras runs on, as its ``fit`` compiles a train step: a ``tf.function``
    (XLA with ``jit_compile``) on TensorFlow, ``jax.jit`` (always XLA) on JAX, eager
    autograd on PyTorch.
    """
    return _current().make_step(forward, head, jit_compile)


def largest_tensor(step, x, y):
    """``(bytes, op name)`` of the largest tensor of the step, forward and backward.

    TensorFlow: the largest statically shaped tensor in the step's graph (the gradient
    ops live in the same graph); tracing allocates no tensor, so this also works where
    running would not fit. Functions nested in the graph (see
    :func:`head_bench.tensorflow_steps.nested_functions`) are not walked. JAX: the largest
    value of the step's jaxpr (traced, nothing allocated), nested jaxprs included. PyTorch:
    the largest tensor that a PyTorch function returns while the step runs once (eager:
    there is no graph to read; the backward pass runs in C++, its tensors have the
    forward's shapes).
    """
    return _current().largest_tensor(step, x, y)


def peak_step_memory(step, x, y):
    """Bytes the step's working memory takes above what is held before it, or None.

    TensorFlow: the allocator's peak during one step above its level before, on a GPU or
    on the CPU's BFC allocator (``TF_CPU_ALLOCATOR_USE_BFC=true``); None on the default
    CPU allocator, whose statistics are missing (it raises) or partial, depending on the
    machine (benchmarks/README.md). JAX: the temporary buffers XLA allocates for the
    compiled step (its memory analysis; outputs and arguments not counted). PyTorch: the
    CUDA allocator's peak above its level before one step; None on the CPU, whose allocator
    keeps no statistics.
    """
    return _current().peak_step_memory(step, x, y)


def sync(outputs=None):
    """Wait until the step's ``outputs`` (TensorFlow, PyTorch: all pending work) are
    computed."""
    _current().sync(outputs)


def backend_environment():
    """``backend_version``, ``device`` and ``intra_op_threads`` (None: the default) of the
    backend Keras runs on (TensorFlow: also ``tensorflow``, its version)."""
    return _current().environment()


def set_threads(threads):
    """Set the backend's thread pools before it runs its first op: TensorFlow's intra- and
    inter-op pools, PyTorch's intra-op pool, XLA's CPU threads on JAX (its ``XLA_FLAGS``,
    read when JAX starts its CPU client)."""
    if threads < 1:
        raise ValueError(f"bench: `threads` must be >= 1, got {threads}.")
    _current().set_threads(threads)
