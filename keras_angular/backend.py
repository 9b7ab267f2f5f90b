"""What differs between Keras 3's backends (TensorFlow, JAX, PyTorch), in one place.

The heads, losses, metrics and callbacks are ``keras.ops``; what they cannot say in
``keras.ops`` is here, so that every other module runs unchanged under
``KERAS_BACKEND=tensorflow``, ``jax`` and ``torch``:

* [`name`][keras_angular.backend.name] - the backend Keras runs on;
* [`is_traced`][keras_angular.backend.is_traced] - whether a tensor is symbolic (inside
  ``tf.function`` or ``jax.jit``), so its values cannot be read while the step is being built;
* [`label_error`][keras_angular.backend.label_error] - the exception an invalid label raises
  (TensorFlow's ``InvalidArgumentError``, which its in-graph assertion raises too; ``ValueError``
  elsewhere);
* [`assert_in_step`][keras_angular.backend.assert_in_step] - an assertion compiled into the step
  where the backend has one: ``tf.debugging.Assert`` (dropped by XLA), a JAX host callback that
  raises (``JaxRuntimeError`` carrying the message on CPU; a GPU may only log it). Where it
  cannot raise, the caller's NaN marks the bad sample
  ([`keras_angular.ops.nan_where_invalid`][]);
* [`as_plain_tensor`][keras_angular.backend.as_plain_tensor] - a ``tf.Variable`` read into a tensor
  (TensorFlow only);
* [`keep_variable_reads_before_updates`][keras_angular.backend.keep_variable_reads_before_updates]
  - that a loss's reads of a layer's weights see the step's weights, not the optimizer's update
  of them (TensorFlow's graph optimiser can reorder them);
* [`exports_saved_model`][keras_angular.backend.exports_saved_model] - whether ``model.export``
  writes a SavedModel here;
* [`steps_read_untracked_variables`][keras_angular.backend.steps_read_untracked_variables] /
  [`refresh_compiled_steps`][keras_angular.backend.refresh_compiled_steps] - whether a compiled
  ``fit`` step reads, at every step, a variable the model does not track (a loss's ``weight``);
  where it does not (JAX), the steps are traced again to see a new value
  ([`rebuild_compiled_steps`][keras_angular.backend.rebuild_compiled_steps], which any backend can
  call);
* [`require_tensorflow`][keras_angular.backend.require_tensorflow] - the one message for what only
  TensorFlow provides (``tf.distribute`` strategies, SavedModel export);
* [`forget_restored_epoch`][keras_angular.backend.forget_restored_epoch],
  [`producing_operation`][keras_angular.backend.producing_operation],
  [`optimizer_strategy`][keras_angular.backend.optimizer_strategy]
  - the only places the package touches a private Keras attribute, each read from the
  Keras release [`PRIVATE_API_KERAS_VERSION`][keras_angular.backend.PRIVATE_API_KERAS_VERSION]
  (``tests/test_keras_private_api.py`` fails, naming the attribute, if a Keras upgrade removes or
  renames one).

TensorFlow is imported here only when it is the backend (``tf.data`` input pipelines
are TensorFlow's on every backend, and [`keras_angular.data`][] imports it itself).
"""

import keras
import numpy as np

SUPPORTED = ("tensorflow", "jax", "torch")
"""The Keras backends this package is tested on."""

PRIVATE_API_KERAS_VERSION = "3.15.1"
"""The Keras release whose source the private-attribute accessors below were read from."""


def name():
    """The backend Keras runs on: ``"tensorflow"``, ``"jax"`` or ``"torch"``.

    Examples:
        >>> name() in SUPPORTED
        True
    """
    return keras.backend.backend()


def is_traced(x):
    """Whether ``x`` is symbolic: built into a compiled step whose values are not known yet.

    True inside a ``tf.function`` (``model.fit``'s step on TensorFlow), for a JAX
    tracer (``jax.jit``, ``jax.grad``) and while ``torch.compile`` traces a PyTorch step
    (Keras' ``jit_compile=True`` there; reading a value would break its graph in two).
    Keras' default PyTorch step runs eagerly: there a tensor is not traced.

    Examples:
        >>> import numpy as np
        >>> is_traced(keras.ops.convert_to_tensor(np.ones(2)))
        False
    """
    backend = name()
    if backend == "tensorflow":
        import tensorflow as tf

        return not tf.executing_eagerly()
    if backend == "jax":
        import jax

        return isinstance(x, jax.core.Tracer)
    import torch

    return torch.compiler.is_compiling()


def label_error(message):
    """The exception for an invalid label, the same type eagerly as in a compiled step:
    ``tf.errors.InvalidArgumentError`` on TensorFlow (what ``tf.debugging.Assert``
    raises), ``ValueError`` on JAX and PyTorch.

    Examples:
        >>> isinstance(label_error("loss: bad label"), Exception)
        True
    """
    if name() == "tensorflow":
        import tensorflow as tf

        return tf.errors.InvalidArgumentError(None, None, message)
    return ValueError(message)


def _raise_unless(ok, message, values):
    if not bool(ok):
        raise label_error(f"{message} {np.asarray(values).tolist()[:16]}")


def assert_in_step(condition, message, values, *outputs):
    """``outputs`` behind an assertion compiled into the step: when ``condition`` (a
    scalar bool tensor) is False the step raises [`label_error`][keras_angular.backend.label_error]
    with ``message`` and the first 16 ``values``, where the backend can.

    TensorFlow: ``tf.debugging.Assert`` (``InvalidArgumentError``; XLA drops it). JAX: a
    host callback (``jax.debug.callback``) in a ``lax.cond`` branch taken only when
    ``condition`` is False (a valid step then transfers nothing to the host and calls
    no Python), whose ``ValueError`` reaches the caller inside a ``JaxRuntimeError``
    on CPU; a GPU may only log it. PyTorch under ``torch.compile``: none (reading the
    condition would split the compiled graph at every step). Callers pair this with a
    NaN on the bad sample, so a dropped assertion never leaves a finite wrong value.
    Eagerly (PyTorch's default step, or outside a compiled step) it raises at once.

    Returns:
        ``outputs``, as a tuple, made to depend on the assertion.

    Examples:
        >>> import numpy as np
        >>> ok = keras.ops.convert_to_tensor(False)
        >>> try:
        ...     assert_in_step(ok, "labels below 0:", np.array([-1]))
        ... except Exception as error:
        ...     print(error)
        labels below 0: [-1]
    """
    backend = name()
    if backend == "tensorflow":
        import tensorflow as tf

        if tf.executing_eagerly():
            _raise_unless(condition, message, values)
            return outputs
        check = tf.debugging.Assert(condition, [message, values], summarize=16)
        with tf.control_dependencies([check]):
            return tuple(tf.identity(x) for x in outputs)
    if backend == "jax" and is_traced(condition):
        import jax

        # the host callback sits in the branch taken only on failure: valid labels cost
        # a conditional, not a device-to-host transfer and a callback per step
        jax.lax.cond(
            condition,
            lambda v: None,
            lambda v: jax.debug.callback(_raise_unless, False, message, v),
            values,
        )
        return outputs
    if backend == "torch" and is_traced(condition):
        return outputs
    _raise_unless(condition, message, values)
    return outputs


def as_plain_tensor(x):
    """``x`` with a TensorFlow ``tf.Variable`` read into a tensor (the read is
    differentiable); anything else unchanged. Keras' TensorFlow backend hands a
    ``tf.Variable`` on as it is, and some ``keras.ops`` then fail on it.

    Examples:
        >>> as_plain_tensor(1.5)
        1.5
    """
    if name() == "tensorflow":
        import tensorflow as tf

        if isinstance(x, tf.Variable):
            return tf.convert_to_tensor(x)
    return x


def keep_variable_reads_before_updates():
    """Make every TensorFlow step read a variable before the optimizer updates it in that step.

    A loss that reads its head's weights (the predicted labels of
    [`keras_angular.losses.AMCLoss`][] and the other ``head=`` losses) is traced before
    ``optimizer.apply``, and ``tf.function`` orders the read before the update with a control
    edge. TensorFlow's graph optimiser (Grappler's dependency optimizer, TF 2.21) removes that
    edge as redundant - the path it relies on runs through the ``IdentityN`` of the
    optimizer's gradient all-reduce, which a later rewrite bypasses - so on a CPU step without
    XLA the loss read the head after the update in about one graph in three: the same seed
    gave different losses (0.914 or 0.641 instead of 1.111 for one Euclidean contrastive
    batch). This turns that optimiser pass off for the process
    (``tf.config.optimizer.set_experimental_options({"dependency_optimization": False})``,
    which only prunes control edges and no-ops); it must run before the step is first
    executed, and the losses call it when they are given a head. Elsewhere (JAX, PyTorch,
    where a step is a pure function or runs in order) it does nothing.

    Examples:
        >>> keep_variable_reads_before_updates()
    """
    if name() != "tensorflow":
        return
    import tensorflow as tf

    tf.config.optimizer.set_experimental_options({"dependency_optimization": False})


def exports_saved_model():
    """Whether ``model.export`` can write a SavedModel here: Keras 3 exports one from
    TensorFlow and from JAX (through ``jax2tf``), not from PyTorch (its path,
    ``torch.export``, fails on Keras' functional models).

    Examples:
        >>> exports_saved_model() == (name() != "torch")
        True
    """
    return name() in ("tensorflow", "jax")


def steps_read_untracked_variables():
    """Whether ``model.fit``'s compiled step reads, each time it runs, a ``keras.Variable``
    the model does not track (a loss's rampable ``weight``, a loss's seed generator), and
    keeps what it assigns to one.

    TensorFlow: yes (a ``tf.function`` reads and assigns a variable when it runs).
    PyTorch: yes (the step runs eagerly). JAX: no - its step is a pure function of the
    model's, the optimizer's and the metrics' variables: any other variable is read once,
    when the step is traced, its value baked in
    ([`refresh_compiled_steps`][keras_angular.backend.refresh_compiled_steps] traces again), and an
    assignment to it is not kept.

    Examples:
        >>> steps_read_untracked_variables() == (name() != "jax")
        True
    """
    return name() != "jax"


def refresh_compiled_steps(model):
    """Make ``model``'s next train and test steps see the current value of what their
    compiled form baked in
    ([`steps_read_untracked_variables`][keras_angular.backend.steps_read_untracked_variables]);
    returns True where the backend needs this (JAX).

    On JAX the train and test functions are rebuilt (``make_train_function(force=True)``,
    ``make_test_function(force=True)``), which compiles each again at its next call;
    elsewhere nothing is needed and nothing is done. ``model.fit`` calls the rebuilt
    train function from its next step on, so a callback may call this in
    ``on_epoch_begin``.

    Examples:
        >>> import keras
        >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        >>> refresh_compiled_steps(model) == (name() == "jax")
        True
    """
    if steps_read_untracked_variables():
        return False
    rebuild_compiled_steps(model)
    return True


def rebuild_compiled_steps(model):
    """Rebuild ``model``'s train and test functions, on every backend, where they exist:
    ``make_train_function(force=True)``, ``make_test_function(force=True)``. Each is
    traced again at its next call, so it sees what changed since it was traced (a
    Python value replaced by a variable,
    [`refresh_compiled_steps`][keras_angular.backend.refresh_compiled_steps]' untracked variables on
    JAX). ``model.fit`` calls the rebuilt train function from its next step on.

    Examples:
        >>> import keras
        >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        >>> rebuild_compiled_steps(model)  # nothing compiled yet: nothing to rebuild
    """
    if getattr(model, "train_function", None) is not None:
        model.make_train_function(force=True)
    if getattr(model, "test_function", None) is not None:
        model.make_test_function(force=True)


def require_tensorflow(feature):
    """Raise a ``RuntimeError`` that says ``feature`` needs the TensorFlow backend,
    unless it is the backend.

    Examples:
        >>> require_tensorflow("SavedModel export") if name() == "tensorflow" else None
    """
    if name() != "tensorflow":
        raise RuntimeError(
            f"{feature} needs the TensorFlow backend (this process runs Keras on "
            f"{name()!r}); set KERAS_BACKEND=tensorflow, or pass --backend tensorflow "
            "to keras-angular."
        )


def forget_restored_epoch(model):
    """Make ``model``'s next ``fit`` start at its own ``initial_epoch`` again.

    Private attribute ``Model._initial_epoch`` (read from Keras 3.15.1):
    ``Trainer.__init__`` sets it to None (``keras/src/trainers/trainer.py``);
    ``keras.callbacks.BackupAndRestore.on_train_begin`` sets it to the epoch it restored
    (``keras/src/callbacks/backup_and_restore.py``) and nothing resets it; each backend's
    ``fit`` starts at ``self._initial_epoch or initial_epoch``
    (``keras/src/backend/*/trainer.py``). After a ``fit`` that restored a backup, the
    next ``fit`` on the same model would therefore start at the restored epoch.

    Raises:
        AttributeError: ``model`` has no ``_initial_epoch`` (a Keras release that no
            longer keeps the restored epoch there): setting it would change nothing.

    Examples:
        >>> model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
        >>> model._initial_epoch = 3  # what BackupAndRestore leaves after a restore
        >>> forget_restored_epoch(model)
        >>> model._initial_epoch is None
        True
    """
    if not hasattr(model, "_initial_epoch"):
        raise AttributeError(
            f"{type(model).__name__} has no `_initial_epoch`, where Keras "
            f"{PRIVATE_API_KERAS_VERSION} kept the epoch BackupAndRestore restored "
            f"(this is Keras {keras.version()})."
        )
    model._initial_epoch = None


def producing_operation(tensor):
    """The operation (a layer, for a functional model) whose call produced ``tensor``, a
    symbolic ``keras.KerasTensor``; an ``InputLayer`` for a model's input.

    Private attribute ``KerasTensor._keras_history`` (read from Keras 3.15.1): a
    ``KerasHistory(operation, node_index, tensor_index)`` named tuple that ``Node.__init__``
    sets on every output of an operation call (``keras/src/ops/node.py``).

    Examples:
        >>> inputs = keras.Input((2,))
        >>> dense = keras.layers.Dense(1, activation="sigmoid")
        >>> producing_operation(dense(inputs)) is dense
        True
    """
    return tensor._keras_history.operation


def optimizer_strategy(optimizer):
    """The ``tf.distribute`` strategy ``optimizer`` was created under, to create its
    variables in the same scope; None on JAX and PyTorch.

    Private attribute ``Optimizer._distribution_strategy`` (read from Keras 3.15.1): the
    TensorFlow backend's optimizer sets it to ``tf.distribute.get_strategy()`` in its
    ``__init__`` (``keras/src/backend/tensorflow/optimizer.py``; the default strategy
    outside any ``strategy.scope()``); the other backends' optimizers have none.

    Examples:
        >>> adam = keras.optimizers.Adam()
        >>> (optimizer_strategy(adam) is None) == (name() != "tensorflow")
        True
    """
    return getattr(optimizer, "_distribution_strategy", None)


__all__ = [
    "PRIVATE_API_KERAS_VERSION",
    "SUPPORTED",
    "as_plain_tensor",
    "assert_in_step",
    "exports_saved_model",
    "forget_restored_epoch",
    "is_traced",
    "keep_variable_reads_before_updates",
    "label_error",
    "name",
    "optimizer_strategy",
    "producing_operation",
    "rebuild_compiled_steps",
    "refresh_compiled_steps",
    "require_tensorflow",
    "steps_read_untracked_variables",
]
