"""What a test needs that differs between Keras' backends (TensorFlow, JAX, PyTorch).

The tests marked ``backends`` run under ``--backend tensorflow``, ``jax`` and ``torch``
(tests/conftest.py); they take gradients, compile steps and read tensors through these
helpers instead of ``tf.GradientTape``, ``tf.function`` and ``.numpy()``:

* :func:`to_numpy` - any tensor (or ``keras.Variable``) as a NumPy array;
* :func:`value_and_grad` - ``fn``'s output and the gradients of its sum w.r.t. tensors
  and ``keras.Variable``\\ s: ``tf.GradientTape``, ``jax.vjp`` (a variable's value is
  swapped in through ``keras.StatelessScope``), ``torch.autograd.grad``;
* :func:`compiled` - ``fn`` as a compiled step: ``tf.function``, ``jax.jit``, and
  PyTorch's eager call (``torch.compile`` breaks its graph where a value is read: a
  PyTorch step runs the same code eagerly);
* :func:`step_label_error` - what an invalid label raises inside such a step;
* :func:`slow_on_jax` - a case of a ``backends`` test that JAX leaves out.

Every test marked ``backends`` runs under PyTorch and JAX from the default run
(tests/test_backends.py). JAX runs eager ops and compiles each op for each new shape
(0.5-5 s a test here, against 0.01-0.5 s on PyTorch), so it leaves out the cases marked
``slow_on_jax``: a parametrized test keeps one or two representative cases there.
"""

import keras
import numpy as np
import pytest
from keras import ops

from keras_angular import backend

#: The backend these tests run on (set by ``--backend``, tests/conftest.py).
BACKEND = backend.name()


def to_numpy(x):
    """``x`` (a backend tensor, ``keras.Variable``, NumPy array or number) as NumPy;
    None stays None."""
    if x is None:
        return None
    if isinstance(x, keras.Variable):
        x = x.value
    return np.asarray(ops.convert_to_numpy(x))


def _is_variable(x):
    return isinstance(x, keras.Variable)


def value_and_grad(fn, *tensors):
    """``(output, gradients)`` of ``fn(*tensors)``, as NumPy.

    Each of ``tensors`` is an array (converted to a tensor of its own dtype, which
    ``fn`` receives) or a ``keras.Variable`` (``fn`` receives the variable and reads it,
    e.g. through a layer). The gradients are those of ``sum(output)`` (what
    ``tf.GradientTape.gradient`` takes for a non-scalar output), one per tensor, in
    order; an input the output does not depend on gets None on TensorFlow and PyTorch,
    zeros on JAX.
    """
    if BACKEND == "tensorflow":
        import tensorflow as tf

        args = [t if _is_variable(t) else tf.convert_to_tensor(t) for t in tensors]
        with tf.GradientTape() as tape:
            for arg in args:
                tape.watch(arg.value if _is_variable(arg) else arg)
            out = fn(*args)
        grads = tape.gradient(out, [a.value if _is_variable(a) else a for a in args])
    elif BACKEND == "jax":
        import jax
        import jax.numpy as jnp

        primals = [t.value if _is_variable(t) else ops.convert_to_tensor(t) for t in tensors]

        def run(*values):
            mapping = [(t, v) for t, v in zip(tensors, values, strict=True) if _is_variable(t)]
            args = [t if _is_variable(t) else v for t, v in zip(tensors, values, strict=True)]
            if not mapping:
                return fn(*args)
            with keras.StatelessScope(state_mapping=mapping):
                return fn(*args)

        out, pullback = jax.vjp(run, *primals)
        grads = pullback(jnp.ones_like(out))
    elif BACKEND == "torch":
        import torch

        leaves = []
        for t in tensors:
            if _is_variable(t):
                if not t.value.requires_grad:
                    raise ValueError(f"{t.path} is not trainable: no gradient on PyTorch.")
                leaves.append(t.value)
            else:
                leaves.append(ops.convert_to_tensor(t).detach().clone().requires_grad_(True))
        args = [t if _is_variable(t) else leaf for t, leaf in zip(tensors, leaves, strict=True)]
        out = fn(*args)
        grads = torch.autograd.grad(
            out, leaves, grad_outputs=torch.ones_like(out), allow_unused=True
        )
    else:
        raise ValueError(f"no gradient helper for the backend {BACKEND!r}")
    return to_numpy(out), [to_numpy(g) for g in grads]


def slow_on_jax(*values, id=None):
    """A ``pytest.mark.parametrize`` case that the JAX run leaves out (TensorFlow and
    PyTorch run it): the test's other cases cover the same code there."""
    return pytest.param(*values, marks=pytest.mark.slow_on_jax, id=id)


def compiled(fn):
    """``fn`` as the backend compiles a training step: ``tf.function`` (a graph, so
    assertions are graph ops), ``jax.jit`` (values are tracers; a check becomes a host
    callback), or ``fn`` itself on PyTorch (eager, as Keras runs its step there)."""
    if BACKEND == "tensorflow":
        import tensorflow as tf

        return tf.function(fn)
    if BACKEND == "jax":
        import jax

        return jax.jit(fn)
    return fn


def step_label_error():
    """The exception an invalid label raises from a :func:`compiled` step:
    ``InvalidArgumentError`` (TensorFlow's assertion), ``JaxRuntimeError`` (the JAX host
    callback's ``ValueError``, its message kept), ``ValueError`` (PyTorch, eager)."""
    if BACKEND == "jax":
        import jax

        return jax.errors.JaxRuntimeError
    return type(backend.label_error(""))


def eager_label_error():
    """The exception an invalid label raises eagerly (:func:`keras_angular.backend.label_error`)."""
    return type(backend.label_error(""))


__all__ = [
    "BACKEND",
    "compiled",
    "eager_label_error",
    "slow_on_jax",
    "step_label_error",
    "to_numpy",
    "value_and_grad",
]
