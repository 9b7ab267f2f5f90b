"""The benchmark's step on TensorFlow: a ``tf.function`` (XLA with ``jit_compile``), its
largest tensor from the traced graph, its peak from TensorFlow's allocator statistics."""

import math
import os
import sys

from head_bench.readings import largest_of, peak_above_start


def make_step(forward, head, jit_compile):
    """A ``tf.function`` returning the loss and its gradients w.r.t. the embedding and the
    head's variables."""
    import tensorflow as tf

    @tf.function(jit_compile=jit_compile, autograph=False)
    def step(x, y):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = forward(x, y)
        gradients = tape.gradient(loss, [x, *head.trainable_variables])
        return loss, gradients

    return step


def largest_tensor(step, x, y):
    """``(bytes, description)`` of the largest statically shaped tensor of the step's graph
    (the gradient ops live in the same graph); tracing allocates nothing. Functions nested in
    the graph (:func:`nested_functions`) are not walked."""
    graph = step.get_concrete_function(x, y).graph
    return largest_of(
        (math.prod(output.shape.as_list()) * size, f"{op.type} {output.shape.as_list()}")
        for op in graph.get_operations()
        for output, size in _sized_outputs(op)
    )


def _sized_outputs(op):
    """``(output, dtype size)`` of the op's statically shaped outputs."""
    for output in op.outputs:
        shape = output.shape
        if shape.rank is None or not shape.is_fully_defined():
            continue
        try:
            size = output.dtype.size
        except Exception:  # noqa: BLE001 - resource / variant tensors
            continue
        yield output, size


def nested_functions(step, x, y):
    """Names of the functions nested in the step's graph (from its public ``GraphDef``).

    :func:`largest_tensor` walks only the graph's own operations; for our steps
    the nested functions are the branches of the label checks' assertions.
    """
    graph_def = step.get_concrete_function(x, y).graph.as_graph_def()
    return sorted(function.signature.name for function in graph_def.library.function)


def memory_device():
    """The device whose allocator the peak is read from: ``"GPU:0"`` if there is a GPU,
    else ``"CPU:0"``."""
    import tensorflow as tf

    return "GPU:0" if tf.config.list_physical_devices("GPU") else "CPU:0"


def cpu_allocator_keeps_statistics():
    """Whether TensorFlow's CPU allocator is the BFC one (``TF_CPU_ALLOCATOR_USE_BFC``,
    read when TensorFlow starts), which counts every allocation."""
    return os.environ.get("TF_CPU_ALLOCATOR_USE_BFC", "").lower() in ("true", "1")


def peak_step_memory(step, x, y):
    """The allocator's peak during one step above its level before, on a GPU or on the
    CPU's BFC allocator; None on the default CPU allocator, whose statistics are missing
    (it raises) or partial, depending on the machine."""
    import tensorflow as tf

    device = memory_device()
    if device == "CPU:0" and not cpu_allocator_keeps_statistics():
        return None
    try:
        return peak_above_start(
            step,
            x,
            y,
            sync=sync,
            reset=lambda: tf.config.experimental.reset_memory_stats(device),
            allocated=lambda: tf.config.experimental.get_memory_info(device)["current"],
            peak=lambda: tf.config.experimental.get_memory_info(device)["peak"],
        )
    except Exception:  # noqa: BLE001 - allocator without statistics
        return None


def sync(outputs=None):
    """Wait until all pending work is computed."""
    del outputs  # TensorFlow waits for every device
    import tensorflow as tf

    try:
        tf.test.experimental.sync_devices()
    except Exception:  # noqa: BLE001 - CPU-only builds run synchronously anyway
        pass


def environment():
    """``backend_version``, ``tensorflow``, ``device`` and ``intra_op_threads``."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    device = "CPU"
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        device = details.get("device_name", "GPU")
    return {
        "tensorflow": tf.__version__,
        "backend_version": tf.__version__,
        "device": device,
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
    }


def set_threads(threads):
    """Set TensorFlow's intra- and inter-op pools (a warning if TensorFlow already runs)."""
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError as error:  # TensorFlow already initialised in this process
        print(f"bench: --threads ignored ({error})", file=sys.stderr)
