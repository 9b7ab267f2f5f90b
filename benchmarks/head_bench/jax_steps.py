"""The benchmark's step on JAX: ``jax.jit`` of ``jax.value_and_grad`` (always XLA), its
largest value from the step's jaxpr, its peak from XLA's memory analysis."""

import math
import os

from head_bench.readings import largest_of


def make_step(forward, head, jit_compile):
    """``jax.jit`` of ``jax.value_and_grad``: the head's variables enter as values through
    a ``keras.StatelessScope`` (as Keras' JAX ``fit`` passes them); a training-mode
    ``ClassCenters`` call's centre update stays in the scope and is dropped."""
    del jit_compile  # JAX compiles every step with XLA
    import jax
    import keras

    variables = head.trainable_variables

    def loss_of(x, values, y):
        with keras.StatelessScope(state_mapping=list(zip(variables, values, strict=True))):
            return forward(x, y)

    gradient = jax.value_and_grad(loss_of, argnums=(0, 1))

    def pure(x, y, values):
        loss, (grad_x, grad_values) = gradient(x, values, y)
        return loss, [grad_x, *grad_values]

    compiled = jax.jit(pure)

    def values():
        return [variable.value for variable in variables]

    def step(x, y):
        return compiled(x, y, values())

    step.jaxpr = lambda x, y: jax.make_jaxpr(pure)(x, y, values())
    step.compiled = lambda x, y: compiled.lower(x, y, values()).compile()
    return step


def largest_tensor(step, x, y):
    """``(bytes, description)`` of the largest value of the step's jaxpr (traced, nothing
    allocated), nested jaxprs included."""
    return largest_of(_sized_values(step.jaxpr(x, y).jaxpr))


def _sized_values(jaxpr):
    """``(bytes, description)`` of every equation's outputs, in order, each equation's
    nested jaxprs right after its own outputs."""
    for equation in jaxpr.eqns:
        for var in equation.outvars:
            aval = getattr(var, "aval", None)
            if not hasattr(aval, "shape") or not hasattr(aval, "dtype"):
                continue
            nbytes = math.prod(aval.shape) * aval.dtype.itemsize
            yield nbytes, f"{equation.primitive.name} {list(aval.shape)}"
        for param in equation.params.values():
            for inner in param if isinstance(param, (tuple, list)) else (param,):
                inner = getattr(inner, "jaxpr", inner)  # a ClosedJaxpr holds a Jaxpr
                if hasattr(inner, "eqns"):
                    yield from _sized_values(inner)


def peak_step_memory(step, x, y):
    """The temporary buffers XLA allocates for the compiled step (its memory analysis;
    outputs and arguments not counted), or None where XLA gives no analysis."""
    analysis = step.compiled(x, y).memory_analysis()
    return None if analysis is None else int(analysis.temp_size_in_bytes)


def sync(outputs=None):
    """Wait until the step's ``outputs`` are computed."""
    import jax

    jax.block_until_ready(outputs)


def environment():
    """``backend_version``, ``device`` and ``intra_op_threads`` (None: XLA's default)."""
    import jax

    device = jax.devices()[0]
    name = "CPU" if device.platform == "cpu" else device.device_kind
    return {"backend_version": jax.__version__, "device": name, "intra_op_threads": None}


def set_threads(threads):
    """Set XLA's CPU threads through ``XLA_FLAGS``, read when JAX starts its CPU client."""
    flags = os.environ.get("XLA_FLAGS", "")
    extra = f"--xla_cpu_multi_thread_eigen={str(threads > 1).lower()}"
    os.environ["XLA_FLAGS"] = f"{flags} {extra} intra_op_parallelism_threads={threads}"
