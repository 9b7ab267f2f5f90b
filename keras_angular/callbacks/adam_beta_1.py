"""Adam's ``beta_1`` as a variable that the compiled train step reads at every step.

Keras 3 Adam (and AdamW, Adamax, Nadam) keeps ``beta_1`` as a Python float that
``update_step`` casts into the train step when it is traced, so assigning a new
float later changes nothing the step computes. Keras offers no public way to vary
it during ``fit``:

* a callable ``beta_1`` (which the Adam docstring mentions) fails: ``update_step``
  calls ``ops.cast(self.beta_1, ...)`` on it directly;
* a ``keras.Variable`` given to the constructor, or assigned to ``optimizer.beta_1``
  later, is read at run time but *tracked*: the optimizer's saved state gains one
  slot, so a model saved with it reloads as a plain Adam that skips loading all of
  its optimizer state (the slot counts differ), and ``get_config`` returns the
  variable itself, which does not reload as a float.

[`beta_1_variable`][keras_angular.callbacks.adam_beta_1.beta_1_variable] therefore patches one
optimizer instance, and this module is the only place that does: it sets an *untracked* scalar
variable as ``beta_1`` (through ``object.__setattr__``, which bypasses the optimizer's
tracking) and an instance ``get_config`` that reports the variable's current value
as a float. The optimizer then saves and reloads exactly as a plain Adam. It needs
the TensorFlow or PyTorch backend (under JAX the compiled step sees only the
optimizer's tracked state: there ``beta_1`` stays a float and the steps are traced
again when it changes, [`keras_angular.callbacks.AdamBeta1Ramp`][]).
"""

import contextlib

import keras
from keras import ops

from keras_angular import backend

__all__ = ["adam_optimizer", "beta_1_variable", "inner_optimizer"]


def inner_optimizer(optimizer):
    """The optimizer that holds the hyper-parameters (unwraps a ``LossScaleOptimizer``)."""
    return getattr(optimizer, "inner_optimizer", optimizer)


def adam_optimizer(model, owner="adam_optimizer"):
    """``model.optimizer`` (unwrapped,
    [`inner_optimizer`][keras_angular.callbacks.adam_beta_1.inner_optimizer]) after checking that it
    is of the Adam family, with a float ``beta_1`` or one made a variable here.

    Raises:
        ValueError: the optimizer has no float ``beta_1``. ``owner`` names the caller.

    Examples:
        >>> import keras
        >>> model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
        >>> model.compile(keras.optimizers.Adam(), loss="mse")
        >>> adam_optimizer(model).beta_1
        0.9
    """
    optimizer = inner_optimizer(model.optimizer)
    current = getattr(optimizer, "beta_1", None)
    if isinstance(current, keras.Variable):
        return optimizer
    if current is None or callable(current) or isinstance(current, bool):
        raise ValueError(
            f"{owner} needs an optimizer of the Adam family with a float `beta_1` "
            f"(keras.optimizers.Adam, AdamW, Adamax, Nadam...), got {type(optimizer).__name__} "
            f"with beta_1={current!r}."
        )
    return optimizer


def beta_1_variable(model, owner="beta_1_variable"):
    """Make ``model.optimizer``'s ``beta_1`` a scalar ``keras.Variable`` and return it.

    The variable starts at the optimizer's float ``beta_1``; assigning to it changes
    the next train step. Calling this again returns the same variable. Steps traced
    before (with the float baked in) are rebuilt
    ([`keras_angular.backend.rebuild_compiled_steps`][]). ``owner`` names
    the caller in error messages.

    Raises:
        ValueError: the optimizer has no float ``beta_1`` (not of the Adam family),
            or the backend is JAX.
    """
    optimizer = adam_optimizer(model, owner)
    current = optimizer.beta_1
    if isinstance(current, keras.Variable):
        return current
    if keras.backend.backend() == "jax":
        raise ValueError(
            f"{owner} needs the TensorFlow or PyTorch backend: under JAX the compiled "
            "train step only sees the optimizer's tracked state."
        )
    strategy = backend.optimizer_strategy(optimizer)
    scope = strategy.scope() if strategy is not None else contextlib.nullcontext()
    with scope:
        variable = keras.Variable(
            float(current),
            dtype="float32",
            trainable=False,
            name="beta_1",
            aggregation="only_first_replica",
        )
    plain_get_config = optimizer.get_config

    def get_config():
        config = plain_get_config()
        config["beta_1"] = float(ops.convert_to_numpy(variable))
        return config

    # Untracked on purpose: the saved optimizer state keeps a plain Adam's layout.
    object.__setattr__(optimizer, "beta_1", variable)
    # `model.save` calls the optimizer's own get_config (Adam's returns `self.beta_1`,
    # now the variable), so only an instance get_config can make it save a float.
    object.__setattr__(optimizer, "get_config", get_config)
    backend.rebuild_compiled_steps(model)
    return variable
