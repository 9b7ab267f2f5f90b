"""Ramps of the loss weight, the learning rate and Adam's ``beta_1``: the AMC recipe.

AMC-Loss (Choi et al.), Sec. 3.2, following Laine & Aila ("Temporal ensembling",
ICLR 2017) and the mean-teacher code the authors built on, trains for ``T`` epochs
with Adam and three schedules (:mod:`keras_angular.schedules`):

* the weight of the angular loss rises with a Gaussian ramp-up
  ``exp(-5 (1 - t/L_up)^2)`` over the first ``L_up`` epochs
  (:class:`LossWeightRamp`);
* the learning rate is ``max_lr * ramp_up(t) * ramp_down(t)``, the ramp-down
  ``exp(-12.5 (1 - (T - t)/L_down)^2)`` acting in the last ``L_down`` epochs
  (:class:`LearningRateRamp`);
* Adam's ``beta_1`` goes from 0.9 to 0.5 during the ramp-down,
  ``beta_1 = rd(t) 0.9 + (1 - rd(t)) 0.5`` (:class:`AdamBeta1Ramp`).

:class:`TemporalEnsemblingSchedule` applies the whole recipe, as the paper gives
it (``recipe="paper"``) or as the authors' TF1 code runs it (``"official"``:
a 100x larger loss weight, shorter ramps and evaluation with Polyak-averaged
(EMA 0.999) weights; see DESIGN.md), scaled to any number of epochs.

Every callback sets its value at the beginning of each epoch (epochs count from
0, as Keras passes them) and writes it into the epoch's ``logs`` at its end, so it
reaches ``History`` (``history.history["loss_weight"]``, ``["learning_rate"]``,
``["beta_1"]``). The values are read by the compiled train step from
``keras.Variable`` objects, so changing them never recompiles anything; this
needs the TensorFlow (or PyTorch) backend, the one this package targets.
"""

import contextlib
import math
import numbers
import warnings

import keras
from keras import ops

from keras_angular.checks import check_non_negative
from keras_angular.schedules import gaussian_ramp_down, gaussian_ramp_up

__all__ = [
    "LossWeightRamp",
    "LearningRateRamp",
    "AdamBeta1Ramp",
    "TemporalEnsemblingSchedule",
    "ema_optimizer",
    "RECIPES",
]

_PACKAGE = "keras_angular"


# ----------------------------------------------------------------------------- checks


def _check_length(owner, name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{owner}: `{name}` must be a finite number of epochs, got {value!r}.")
    if value < 0:
        raise ValueError(f"{owner}: `{name}` must be >= 0 epochs, got {value!r}.")
    return float(value) if not float(value).is_integer() else int(value)


def _check_total(owner, total):
    if total is None:
        return None
    if isinstance(total, bool) or not isinstance(total, numbers.Integral) or total <= 0:
        raise ValueError(
            f"{owner}: `total_epochs` must be a positive integer or None (= the `epochs` "
            f"given to fit), got {total!r}."
        )
    return int(total)


def _check_unit(owner, name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{owner}: `{name}` must be a number, got {value!r}.")
    value = float(value)
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{owner}: `{name}` must lie in [0, 1), got {value!r}.")
    return value


def _check_ramp_fits(owner, ramp_down, total):
    if total is not None and ramp_down > total:
        raise ValueError(
            f"{owner}: `ramp_down` ({ramp_down}) is longer than the training "
            f"({total} epochs): the ramp-down would start before training does."
        )


def _to_float(value):
    return float(ops.convert_to_numpy(value))


def _inner_optimizer(optimizer):
    """The optimizer that holds the hyper-parameters (unwraps a LossScaleOptimizer)."""
    return getattr(optimizer, "inner_optimizer", optimizer)


class _Callback(keras.callbacks.Callback):
    """A callback rebuilt from its ``get_config`` (Keras callbacks have no ``from_config``)."""

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class _LogsItsValue:
    """Puts the value the callback set this epoch into ``logs[self.log_key]``, so it
    reaches History, CSVLogger and TensorBoard."""

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and self._value is not None:
            logs[self.log_key] = self._value


class _EpochsMixin:
    """Resolves ``total_epochs=None`` to the ``epochs`` given to ``fit``."""

    def _resolve_total(self):
        if self.total_epochs is not None:
            return self.total_epochs
        epochs = (self.params or {}).get("epochs")
        if not epochs:
            raise ValueError(
                f"{type(self).__name__}: `total_epochs` is None and fit() did not report its "
                "number of epochs; pass `total_epochs`."
            )
        _check_ramp_fits(type(self).__name__, self.ramp_down, epochs)
        return int(epochs)


# ----------------------------------------------------------------------------- loss weight


def _walk_losses(losses):
    """Every loss object in a compiled ``model.loss`` (an object, list or dict, nested)."""
    if losses is None or isinstance(losses, str):
        return
    if isinstance(losses, dict):
        for value in losses.values():
            yield from _walk_losses(value)
    elif isinstance(losses, (list, tuple)):
        for value in losses:
            yield from _walk_losses(value)
    else:
        yield losses


def _check_weighted(owner, loss):
    weight = getattr(loss, "weight", None)
    if not isinstance(weight, keras.Variable) or tuple(weight.shape) != ():
        raise ValueError(
            f"{owner}: the loss {loss!r} has no scalar `keras.Variable` attribute `weight` to "
            "ramp (AMCLoss, EuclideanContrastiveLoss and CenterLoss of keras_angular.losses "
            "have one)."
        )
    return loss


def _find_loss(owner, model, name):
    """The one compiled loss of ``model`` named ``name`` that has a ramped ``weight``."""
    losses = list(_walk_losses(getattr(model, "loss", None)))
    found = [loss for loss in losses if getattr(loss, "name", None) == name]
    if len(found) != 1:
        names = sorted({str(getattr(loss, "name", loss)) for loss in losses})
        what = "no" if not found else str(len(found))
        raise ValueError(
            f"{owner}: {what} compiled loss of the model is named {name!r} (compiled losses: "
            f"{names}); pass the loss object itself."
        )
    return _check_weighted(owner, found[0])


@keras.saving.register_keras_serializable(package=_PACKAGE)
class LossWeightRamp(_LogsItsValue, _EpochsMixin, _Callback):
    """Ramps ``loss.weight`` with the Gaussian ramps of AMC-Loss Sec. 3.2.

    At the beginning of epoch ``t`` it assigns
    ``loss.weight = max_weight * gaussian_ramp_up(t, ramp_up) * gaussian_ramp_down(t, T,
    ramp_down)``: the paper's ``w(t) * lambda`` with ``w`` ramped up over the first
    80 of 300 epochs (``ramp_down=0``, the default, as in the paper, where only the
    learning rate and ``beta_1`` are ramped down). The value is logged as
    ``logs[log_key]`` at the end of the epoch.

    Args:
        loss: the loss object (with a scalar float32 ``keras.Variable`` attribute
            ``weight``, as :class:`keras_angular.losses.AMCLoss`), or its ``name``:
            a name is looked up among the compiled losses of the model when training
            starts (this is what ``get_config`` stores).
        ramp_up: ramp-up length ``L_up`` in epochs (>= 0; 0 = none). Paper: 80.
        ramp_down: ramp-down length in epochs (>= 0; 0 = none, the default).
        total_epochs: ``T`` for the ramp-down; None = the ``epochs`` given to fit.
        max_weight: the weight reached after the ramp-up (>= 0); None = the
            loss's ``weight`` when the callback is made (its ``lambda``).
        log_key: the key of the logged value.

    Example:
        >>> import keras, numpy as np
        >>> from keras_angular.losses import AMCLoss
        >>> amc = AMCLoss(margin=0.5, weight=0.1)
        >>> ramp = LossWeightRamp(amc, ramp_up=80)   # weight 0.1 * exp(-5) at epoch 0
        >>> # model.compile(..., loss={"logits": ..., "embedding": amc})
        >>> # model.fit(..., epochs=300, callbacks=[ramp])
    """

    def __init__(
        self,
        loss,
        ramp_up=80,
        ramp_down=0,
        total_epochs=None,
        max_weight=None,
        log_key="loss_weight",
    ):
        super().__init__()
        owner = type(self).__name__
        self.ramp_up = _check_length(owner, "ramp_up", ramp_up)
        self.ramp_down = _check_length(owner, "ramp_down", ramp_down)
        self.total_epochs = _check_total(owner, total_epochs)
        _check_ramp_fits(owner, self.ramp_down, self.total_epochs)
        self.max_weight = (
            None if max_weight is None else check_non_negative(owner, "max_weight", max_weight)
        )
        if not isinstance(log_key, str) or not log_key:
            raise ValueError(f"{owner}: `log_key` must be a non-empty string, got {log_key!r}.")
        self.log_key = log_key
        if isinstance(loss, str):
            self.loss, self.loss_name = None, loss
        else:
            self.loss = _check_weighted(owner, loss)
            self.loss_name = loss.name
            if self.max_weight is None:
                self.max_weight = _to_float(loss.weight)
        self._value = None
        self._total = self.total_epochs

    def _resolve_loss(self):
        if self.loss is None:
            self.loss = _find_loss(type(self).__name__, self.model, self.loss_name)
        if self.max_weight is None:
            self.max_weight = _to_float(self.loss.weight)
        return self.loss

    def value(self, epoch, total_epochs=None):
        """The weight this callback sets at ``epoch`` (``total_epochs``: T if not set)."""
        if self.max_weight is None:
            raise ValueError(
                f"{type(self).__name__}: the loss {self.loss_name!r} is not resolved "
                "yet; its maximum weight is unknown."
            )
        total = self._total if total_epochs is None else total_epochs
        ramp = gaussian_ramp_up(epoch, self.ramp_up)
        if self.ramp_down:
            if total is None:
                raise ValueError(f"{type(self).__name__}: give `total_epochs` for the ramp-down.")
            ramp *= gaussian_ramp_down(epoch, total, self.ramp_down)
        return self.max_weight * ramp

    def on_train_begin(self, logs=None):
        self._resolve_loss()
        if self.ramp_down:
            self._total = self._resolve_total()

    def on_epoch_begin(self, epoch, logs=None):
        loss = self._resolve_loss()
        loss.weight.assign(self.value(epoch))
        self._value = _to_float(loss.weight)

    def get_config(self):
        return {
            "loss": self.loss_name,
            "ramp_up": self.ramp_up,
            "ramp_down": self.ramp_down,
            "total_epochs": self.total_epochs,
            "max_weight": self.max_weight,
            "log_key": self.log_key,
        }


# ----------------------------------------------------------------------------- learning rate


@keras.saving.register_keras_serializable(package=_PACKAGE)
class LearningRateRamp(_LogsItsValue, _EpochsMixin, _Callback):
    """Sets ``lr = max_lr * gaussian_ramp_up(t, ramp_up) * gaussian_ramp_down(t, T, ramp_down)``.

    AMC-Loss Sec. 3.2: Adam with a maximum learning rate of 0.003, ramped up over
    the first 80 and down over the last 50 of 300 epochs. The rate is assigned to
    ``model.optimizer.learning_rate`` (a variable: the optimizer must be made with
    a float learning rate, not a ``LearningRateSchedule``) at the beginning of each
    epoch and logged as ``logs["learning_rate"]`` at its end.

    Args:
        max_lr: the peak learning rate (> 0). Paper: 0.003.
        ramp_up: ramp-up length in epochs (>= 0). Paper: 80.
        ramp_down: ramp-down length in epochs (>= 0). Paper: 50.
        total_epochs: ``T``; None = the ``epochs`` given to fit. Paper: 300.

    Example:
        >>> ramp = LearningRateRamp(0.003, ramp_up=80, ramp_down=50, total_epochs=300)
        >>> round(ramp.value(0), 8), ramp.value(100)
        (2.021e-05, 0.003)
    """

    log_key = "learning_rate"

    def __init__(self, max_lr=0.003, ramp_up=80, ramp_down=50, total_epochs=None):
        super().__init__()
        owner = type(self).__name__
        max_lr = check_non_negative(owner, "max_lr", max_lr)
        if max_lr <= 0:
            raise ValueError(f"{owner}: `max_lr` must be > 0, got {max_lr!r}.")
        self.max_lr = max_lr
        self.ramp_up = _check_length(owner, "ramp_up", ramp_up)
        self.ramp_down = _check_length(owner, "ramp_down", ramp_down)
        self.total_epochs = _check_total(owner, total_epochs)
        _check_ramp_fits(owner, self.ramp_down, self.total_epochs)
        self._value = None
        self._total = self.total_epochs

    def value(self, epoch, total_epochs=None):
        """The learning rate this callback sets at ``epoch``."""
        total = self._total if total_epochs is None else total_epochs
        ramp = gaussian_ramp_up(epoch, self.ramp_up)
        if self.ramp_down:
            if total is None:
                raise ValueError(f"{type(self).__name__}: give `total_epochs` for the ramp-down.")
            ramp *= gaussian_ramp_down(epoch, total, self.ramp_down)
        return self.max_lr * ramp

    def on_train_begin(self, logs=None):
        self._total = self._resolve_total()

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        try:
            optimizer.learning_rate = self.value(epoch)
        except TypeError as error:
            raise ValueError(
                f"{type(self).__name__} sets the learning rate each epoch: make the optimizer "
                "with a float `learning_rate` (not a LearningRateSchedule)."
            ) from error
        self._value = _to_float(optimizer.learning_rate)

    def get_config(self):
        return {
            "max_lr": self.max_lr,
            "ramp_up": self.ramp_up,
            "ramp_down": self.ramp_down,
            "total_epochs": self.total_epochs,
        }


# ----------------------------------------------------------------------------- Adam beta_1


def _variable_beta_1(model):
    """Make the optimizer's ``beta_1`` a ``keras.Variable`` read by the train step.

    Keras 3 Adam keeps ``beta_1`` as a Python float, folded into the compiled train
    step as a constant when it is traced (its docstring mentions callables, but
    ``update_step`` casts ``self.beta_1`` directly, so a callable does not work).
    A scalar variable is read at run time instead. The variable is deliberately
    not tracked by the optimizer (its saved state keeps the layout of a plain
    Adam, so checkpoints load either way); ``get_config`` of that optimizer
    reports the current value as a float, so the model saves and reloads as usual.
    A train function traced before (with the float) is rebuilt.
    """
    optimizer = _inner_optimizer(model.optimizer)
    current = getattr(optimizer, "beta_1", None)
    if isinstance(current, keras.Variable):
        return current
    if current is None or callable(current) or isinstance(current, bool):
        raise ValueError(
            "AdamBeta1Ramp needs an optimizer of the Adam family with a float `beta_1` "
            f"(keras.optimizers.Adam, AdamW, Adamax, Nadam...), got {type(optimizer).__name__} "
            f"with beta_1={current!r}."
        )
    if keras.backend.backend() == "jax":
        raise ValueError(
            "AdamBeta1Ramp needs the TensorFlow or PyTorch backend: under JAX the compiled "
            "train step only sees the optimizer's tracked state."
        )
    strategy = getattr(optimizer, "_distribution_strategy", None)
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
        config["beta_1"] = _to_float(variable)
        return config

    # object.__setattr__: bypass the optimizer's variable tracking (see above).
    object.__setattr__(optimizer, "beta_1", variable)
    object.__setattr__(optimizer, "get_config", get_config)
    if getattr(model, "train_function", None) is not None:
        model.make_train_function(force=True)
    return variable


@keras.saving.register_keras_serializable(package=_PACKAGE)
class AdamBeta1Ramp(_LogsItsValue, _EpochsMixin, _Callback):
    """Ramps Adam's ``beta_1`` from ``start`` to ``end`` during the Gaussian ramp-down.

    AMC-Loss Sec. 3.2 ("ramp down the learning rate and Adam beta_1 to 0.5 during
    the last 50 epochs"), as in Laine & Aila's and the mean-teacher code:
    ``beta_1(t) = rd(t) * start + (1 - rd(t)) * end`` with
    ``rd = gaussian_ramp_down(t, T, ramp_down)``. Set at the beginning of each
    epoch, logged as ``logs["beta_1"]`` at its end.

    Keras 3 Adam stores ``beta_1`` as a Python float that the compiled train step
    bakes in as a constant. When training starts, this callback replaces it by a
    scalar ``keras.Variable`` (with the same value) that the train step reads at
    every step, and rebuilds the train function if one was already traced. Keras
    computes Adam's bias correction ``1 - beta_1^t`` with the *current* ``beta_1``
    (TF1's ``AdamOptimizer``, which the authors used, accumulates the product of
    the past values instead); both corrections are 1 to within ``0.9^t`` after
    ``t`` steps, so the two agree once training has run a few hundred steps.

    Args:
        total_epochs: ``T``; None = the ``epochs`` given to fit. Paper: 300.
        ramp_down: ramp-down length in epochs (>= 0). Paper: 50.
        start: ``beta_1`` before the ramp-down, in [0, 1). Paper: 0.9.
        end: ``beta_1`` the ramp-down tends to, in [0, 1). Paper: 0.5.

    Example:
        >>> ramp = AdamBeta1Ramp(total_epochs=300, ramp_down=50)
        >>> ramp.value(0), round(ramp.value(275), 4)
        (0.9, 0.5176)
    """

    log_key = "beta_1"

    def __init__(self, total_epochs=None, ramp_down=50, start=0.9, end=0.5):
        super().__init__()
        owner = type(self).__name__
        self.total_epochs = _check_total(owner, total_epochs)
        self.ramp_down = _check_length(owner, "ramp_down", ramp_down)
        _check_ramp_fits(owner, self.ramp_down, self.total_epochs)
        self.start = _check_unit(owner, "start", start)
        self.end = _check_unit(owner, "end", end)
        self._value = None
        self._total = self.total_epochs

    def value(self, epoch, total_epochs=None):
        """The ``beta_1`` this callback sets at ``epoch``."""
        total = self._total if total_epochs is None else total_epochs
        if not self.ramp_down:
            return self.start
        if total is None:
            raise ValueError(f"{type(self).__name__}: give `total_epochs` for the ramp-down.")
        rd = gaussian_ramp_down(epoch, total, self.ramp_down)
        return rd * self.start + (1.0 - rd) * self.end

    def on_train_begin(self, logs=None):
        self._total = self._resolve_total()
        self._variable = _variable_beta_1(self.model)

    def on_epoch_begin(self, epoch, logs=None):
        self._variable.assign(self.value(epoch))
        self._value = _to_float(self._variable)

    def get_config(self):
        return {
            "total_epochs": self.total_epochs,
            "ramp_down": self.ramp_down,
            "start": self.start,
            "end": self.end,
        }


# ----------------------------------------------------------------------------- the recipe

#: The AMC training recipes, for ``epochs`` epochs; :class:`TemporalEnsemblingSchedule`
#: scales the ramp lengths to the number of epochs it is given.
#: ``weight_scale`` multiplies the loss's own ``weight`` (its ``lambda``, 0.1).
RECIPES = {
    # AMC-Loss Sec. 3.2: 300 epochs, Adam, max lr 0.003, weight and lr ramped up over 80,
    # lr and beta_1 (0.9 -> 0.5) ramped down over the last 50, lambda = 0.1.
    "paper": {
        "epochs": 300,
        "ramp_up": 80,
        "ramp_down": 50,
        "max_lr": 0.003,
        "weight_scale": 1.0,
        "beta_1": (0.9, 0.5),
        "ema_momentum": None,
    },
    # The authors' TF1 code (DESIGN.md): effective weight 10 * ramp(t) (lambda 0.1 times a
    # maximum weight of 100), ramps 50 up / 30 down of 200 epochs, the learning rate ramped,
    # beta_1 0.9 -> 0.5 in the ramp-down, evaluation with Polyak (EMA 0.999) weights.
    "official": {
        "epochs": 200,
        "ramp_up": 50,
        "ramp_down": 30,
        "max_lr": 0.003,
        "weight_scale": 100.0,
        "beta_1": (0.9, 0.5),
        "ema_momentum": 0.999,
    },
}


def _round_half_up(value):
    return int(math.floor(value + 0.5))


def ema_optimizer(learning_rate=0.003, ema_momentum=0.999, **kwargs):
    """Adam keeping a Polyak (exponential moving) average of the weights.

    ``keras.optimizers.Adam(learning_rate, use_ema=True, ema_momentum=0.999, **kwargs)``:
    the optimizer the ``"official"`` AMC recipe expects. Evaluate with the averaged
    weights during training with ``keras.callbacks.SwapEMAWeights()``
    (:class:`TemporalEnsemblingSchedule` does it itself); at the end of ``fit``
    Keras copies the averages into the model (``optimizer.finalize_variable_values``),
    so the trained model *is* the averaged one.

    Example:
        >>> opt = ema_optimizer()
        >>> opt.use_ema, opt.ema_momentum
        (True, 0.999)
    """
    return keras.optimizers.Adam(
        learning_rate=learning_rate, use_ema=True, ema_momentum=ema_momentum, **kwargs
    )


@keras.saving.register_keras_serializable(package=_PACKAGE)
class TemporalEnsemblingSchedule(_Callback):
    """The whole AMC-Loss training recipe (Sec. 3.2), scaled to any number of epochs.

    One callback that runs a :class:`LearningRateRamp`, an :class:`AdamBeta1Ramp`,
    a :class:`LossWeightRamp` (if ``loss`` is given; ramp-up only) and, for a recipe
    with Polyak averaging, a ``keras.callbacks.SwapEMAWeights`` (validation on the
    EMA weights). Ramp lengths are the recipe's fractions of its epochs times
    ``total_epochs``, rounded to whole epochs (see :meth:`plan`):

    ===========  ==================  =================  ===========  ===========  =====
    recipe       ramp-up             ramp-down          max lr       max weight   EMA
    ===========  ==================  =================  ===========  ===========  =====
    ``paper``    80/300 of epochs    50/300             0.003        lambda       no
    ``official`` 50/200              30/200             0.003        100 lambda   0.999
    ===========  ==================  =================  ===========  ===========  =====

    (``lambda`` is the loss's own ``weight`` when the callback is made, 0.1 by
    default; ``beta_1`` goes 0.9 -> 0.5 in the ramp-down in both.) The cross-entropy
    baseline of the paper trains with the same schedule and no loss
    (``loss=None``).

    The optimizer must be an Adam with a float learning rate; with EMA it must have
    ``use_ema=True``: use :meth:`make_optimizer` (or :func:`ema_optimizer`).

    Args:
        loss: the ramped loss (object or name, see :class:`LossWeightRamp`), or None.
        total_epochs: ``T``; None (default) = the ``epochs`` given to fit.
        recipe: ``"paper"`` (default) or ``"official"`` (:data:`RECIPES`).
        max_lr: override the recipe's maximum learning rate.
        max_weight: override the loss's maximum weight (absolute, not scaled).
        ema: override whether to evaluate with EMA weights (None = the recipe's).

    Example:
        >>> schedule = TemporalEnsemblingSchedule(total_epochs=30, recipe="official")
        >>> schedule.plan()["ramp_up"], schedule.plan()["ramp_down"]
        (8, 5)
        >>> # model.compile(optimizer=schedule.make_optimizer(), loss=...)
        >>> # model.fit(..., epochs=30, callbacks=[schedule])
    """

    def __init__(
        self,
        loss=None,
        total_epochs=None,
        recipe="paper",
        *,
        max_lr=None,
        max_weight=None,
        ema=None,
    ):
        super().__init__()
        owner = type(self).__name__
        if recipe not in RECIPES:
            raise ValueError(f"{owner}: `recipe` must be one of {sorted(RECIPES)}, got {recipe!r}.")
        self.recipe = recipe
        self.total_epochs = _check_total(owner, total_epochs)
        self.max_lr = None if max_lr is None else check_non_negative(owner, "max_lr", max_lr)
        if self.max_lr == 0:
            raise ValueError(f"{owner}: `max_lr` must be > 0, got {max_lr!r}.")
        self.max_weight = (
            None if max_weight is None else check_non_negative(owner, "max_weight", max_weight)
        )
        if ema is not None and not isinstance(ema, bool):
            raise ValueError(f"{owner}: `ema` must be True, False or None, got {ema!r}.")
        self.ema = ema
        if loss is None or isinstance(loss, str):
            self.loss, self.loss_name = None, loss
            self._lambda = None
        else:
            self.loss = _check_weighted(owner, loss)
            self.loss_name = loss.name
            self._lambda = _to_float(loss.weight)
        self._callbacks = []
        self.applied_plan = None  # the plan of the current fit, set when it starts

    # -- the plan ---------------------------------------------------------------------

    @property
    def uses_ema(self):
        """Whether evaluation runs on the EMA weights."""
        if self.ema is not None:
            return self.ema
        return RECIPES[self.recipe]["ema_momentum"] is not None

    def plan(self, total_epochs=None):
        """The recipe's values for ``total_epochs`` (default: the one given) as a dict."""
        total = total_epochs if total_epochs is not None else self.total_epochs
        if total is None:
            total = RECIPES[self.recipe]["epochs"]
        total = _check_total(type(self).__name__, total)
        spec = RECIPES[self.recipe]
        scale = total / spec["epochs"]
        max_weight = self.max_weight
        if max_weight is None and self._lambda is not None:
            max_weight = spec["weight_scale"] * self._lambda
        return {
            "recipe": self.recipe,
            "total_epochs": total,
            "ramp_up": _round_half_up(spec["ramp_up"] * scale),
            "ramp_down": _round_half_up(spec["ramp_down"] * scale),
            "max_lr": self.max_lr if self.max_lr is not None else spec["max_lr"],
            "weight_scale": spec["weight_scale"],
            "max_weight": max_weight,
            "beta_1": spec["beta_1"],
            "ema_momentum": (spec["ema_momentum"] or 0.999) if self.uses_ema else None,
        }

    def make_optimizer(self, **kwargs):
        """The recipe's optimizer: ``keras.optimizers.Adam`` with its max lr, ``beta_1``
        = 0.9, ``beta_2`` = 0.999 and, for an EMA recipe, ``use_ema=True,
        ema_momentum=0.999``. ``kwargs`` go to Adam (and override those)."""
        plan = self.plan()
        options = {"learning_rate": plan["max_lr"], "beta_1": plan["beta_1"][0], "beta_2": 0.999}
        if plan["ema_momentum"] is not None:
            options.update(use_ema=True, ema_momentum=plan["ema_momentum"])
        options.update(kwargs)
        return keras.optimizers.Adam(**options)

    # -- the sub-callbacks ------------------------------------------------------------

    def _build(self):
        owner = type(self).__name__
        total = self.total_epochs
        fit_epochs = (self.params or {}).get("epochs")
        if total is None:
            if not fit_epochs:
                raise ValueError(
                    f"{owner}: `total_epochs` is None and fit() did not report its "
                    "number of epochs; pass `total_epochs`."
                )
            total = int(fit_epochs)
        elif fit_epochs and fit_epochs != total:
            warnings.warn(
                f"{owner}: the recipe is scaled to total_epochs={total} but fit() runs to epoch "
                f"{fit_epochs}.",
                stacklevel=2,
            )
        plan = self.plan(total)
        callbacks = [
            LearningRateRamp(plan["max_lr"], plan["ramp_up"], plan["ramp_down"], total),
            AdamBeta1Ramp(total, plan["ramp_down"], *plan["beta_1"]),
        ]
        if self.loss_name is not None:
            if self.loss is None:
                self.loss = _find_loss(owner, self.model, self.loss_name)
            if self._lambda is None:
                self._lambda = _to_float(self.loss.weight)
            if self.max_weight is None:
                plan["max_weight"] = plan["weight_scale"] * self._lambda
            callbacks.append(
                LossWeightRamp(
                    self.loss,
                    ramp_up=plan["ramp_up"],
                    ramp_down=0,
                    total_epochs=total,
                    max_weight=plan["max_weight"],
                )
            )
        if plan["ema_momentum"] is not None:
            optimizer = _inner_optimizer(self.model.optimizer)
            if not getattr(optimizer, "use_ema", False):
                raise ValueError(
                    f"{owner}: recipe {self.recipe!r} evaluates with Polyak-averaged (EMA) "
                    "weights, but the optimizer has use_ema=False. Compile with "
                    "`schedule.make_optimizer()` (or keras_angular.callbacks.ema_optimizer(), "
                    "i.e. Adam(use_ema=True, ema_momentum=0.999)), or pass ema=False."
                )
            callbacks.append(keras.callbacks.SwapEMAWeights())
        for callback in callbacks:
            callback.set_model(self.model)
            callback.set_params(self.params)
        self._callbacks = callbacks
        self.applied_plan = plan

    def _forward(self, hook, *args):
        for callback in self._callbacks:
            getattr(callback, hook)(*args)

    def on_train_begin(self, logs=None):
        self._build()
        self._forward("on_train_begin", logs)

    def on_train_end(self, logs=None):
        self._forward("on_train_end", logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._forward("on_epoch_begin", epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._forward("on_epoch_end", epoch, logs)

    def on_test_begin(self, logs=None):
        self._forward("on_test_begin", logs)

    def on_test_end(self, logs=None):
        self._forward("on_test_end", logs)

    def on_predict_begin(self, logs=None):
        self._forward("on_predict_begin", logs)

    def on_predict_end(self, logs=None):
        self._forward("on_predict_end", logs)

    def get_config(self):
        return {
            "loss": self.loss_name,
            "total_epochs": self.total_epochs,
            "recipe": self.recipe,
            "max_lr": self.max_lr,
            "max_weight": self.max_weight,
            "ema": self.ema,
        }
