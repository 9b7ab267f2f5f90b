"""Gaussian ramps of a loss weight, the learning rate and Adam's ``beta_1``.

AMC-Loss (Choi et al.), Sec. 3.2, following Laine & Aila ("Temporal ensembling",
ICLR 2017) and the mean-teacher code the authors built on, trains with three
schedules made of the ramps of [`keras_angular.schedules`][]:

* the weight of the angular loss rises with a Gaussian ramp-up
  ``exp(-5 (1 - t/L_up)^2)`` over the first ``L_up`` epochs
  ([`LossWeightRamp`][keras_angular.callbacks.LossWeightRamp]);
* the learning rate is ``max_lr * ramp_up(t) * ramp_down(t)``, the ramp-down
  ``exp(-12.5 (1 - (T - t)/L_down)^2)`` acting in the last ``L_down`` epochs
  ([`LearningRateRamp`][keras_angular.callbacks.LearningRateRamp]);
* Adam's ``beta_1`` goes from 0.9 to 0.5 during the ramp-down,
  ``beta_1 = rd(t) 0.9 + (1 - rd(t)) 0.5``
  ([`AdamBeta1Ramp`][keras_angular.callbacks.AdamBeta1Ramp]).

All three are one [`GaussianRamp`][keras_angular.callbacks.ramps.GaussianRamp]: a value between
``low`` and ``high``, ``value(t) = r(t) high + (1 - r(t)) low`` with
``r(t) = ramp_up(t) ramp_down(t)``. Each sets its value at the beginning of every epoch (epochs
count from 0, as Keras passes them) and writes it into the epoch's ``logs`` at its end, so it
reaches ``History`` (``history.history["loss_weight"]``, ``["learning_rate"]``,
``["beta_1"]``). On TensorFlow and PyTorch the values are read by the compiled train
step from ``keras.Variable`` objects, so changing them never recompiles anything. On
JAX a train step reads only the model's, the optimizer's and the metrics' variables
each time it runs (the learning rate is the optimizer's); a loss weight or ``beta_1`` is
baked into the step when it is traced, so in an epoch where one of those changes the
train and test steps are traced and compiled again
([`keras_angular.backend.refresh_compiled_steps`][]): once per epoch of a ramp.

The whole AMC recipe, the three ramps together, is
[`keras_angular.callbacks.recipe.TemporalEnsemblingSchedule`][]. Every
argument of a ramp is keyword-only, except the loss a
[`LossWeightRamp`][keras_angular.callbacks.LossWeightRamp] ramps.
"""

import keras
from keras import ops

from keras_angular import backend
from keras_angular.callbacks.adam_beta_1 import adam_optimizer, beta_1_variable
from keras_angular.checks import check_int, check_non_negative, check_positive, check_range
from keras_angular.schedules import gaussian_ramp_down, gaussian_ramp_up

__all__ = ["LossWeightRamp", "LearningRateRamp", "AdamBeta1Ramp"]


def _to_float(value):
    return float(ops.convert_to_numpy(value))


def _epochs(owner, name, value):
    """A ramp length: a number of epochs >= 0, kept as an int where it is whole."""
    value = check_non_negative(owner, name, value)
    return int(value) if value.is_integer() else value


def check_total_epochs(owner, total_epochs):
    """``total_epochs``: an int >= 1, or None (= the ``epochs`` given to fit)."""
    return None if total_epochs is None else check_int(owner, "total_epochs", total_epochs, 1)


def resolve_total_epochs(owner, total_epochs, params):
    """``total_epochs``, or where it is None the ``epochs`` fit() reports in ``params``."""
    if total_epochs is not None:
        return total_epochs
    epochs = (params or {}).get("epochs")
    if not epochs:
        raise ValueError(
            f"{owner}: `total_epochs` is None and fit() did not report its number of "
            "epochs; pass `total_epochs`."
        )
    return int(epochs)


# ----------------------------------------------------------------------------- the loss


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


def weighted_loss(owner, loss, model=None):
    """The loss object whose scalar ``keras.Variable`` attribute ``weight`` is ramped.

    ``loss`` is that object, or its ``name``: a name is looked up among the
    compiled losses of ``model`` (it must name exactly one). ``owner`` names the
    caller in error messages.
    """
    if isinstance(loss, str):
        losses = list(_walk_losses(getattr(model, "loss", None)))
        found = [candidate for candidate in losses if getattr(candidate, "name", None) == loss]
        if len(found) != 1:
            names = sorted({str(getattr(candidate, "name", candidate)) for candidate in losses})
            what = "no" if not found else str(len(found))
            raise ValueError(
                f"{owner}: {what} compiled loss of the model is named {loss!r} (compiled "
                f"losses: {names}); pass the loss object itself."
            )
        loss = found[0]
    weight = getattr(loss, "weight", None)
    if not isinstance(weight, keras.Variable) or tuple(weight.shape) != ():
        raise ValueError(
            f"{owner}: the loss {loss!r} has no scalar `keras.Variable` attribute `weight` to "
            "ramp (AMCLoss, EuclideanContrastiveLoss and CenterLoss of keras_angular.losses "
            "have one)."
        )
    return loss


# ----------------------------------------------------------------------------- the base


class GaussianRamp(keras.callbacks.Callback):
    """A value moved between ``low`` and ``high`` by the Gaussian ramps, once an epoch.

    ``value(t) = r(t) * high + (1 - r(t)) * low`` with
    ``r(t) = gaussian_ramp_up(t, ramp_up) * gaussian_ramp_down(t, T, ramp_down)``
    (the ramp-down only where ``ramp_down > 0``). ``T`` is ``total_epochs``, or the
    ``epochs`` given to fit where it is None. The base sets the value at the beginning
    of each epoch and logs it as ``logs[log_key]`` at its end; a subclass says what
    the bounds are (``_bounds``), where the value goes (``_assign``) and
    what it prepares when training starts
    ([`on_train_begin`][keras_angular.callbacks.ramps.GaussianRamp.on_train_begin]).
    """

    def __init__(self, *, ramp_up, ramp_down, total_epochs, log_key):
        super().__init__()
        owner = type(self).__name__
        self.ramp_up = _epochs(owner, "ramp_up", ramp_up)
        self.ramp_down = _epochs(owner, "ramp_down", ramp_down)
        self.total_epochs = check_total_epochs(owner, total_epochs)
        self._check_fits(self.total_epochs)
        if not isinstance(log_key, str) or not log_key:
            raise ValueError(f"{owner}: `log_key` must be a non-empty string, got {log_key!r}.")
        self.log_key = log_key
        self._total = self.total_epochs  # T of the current fit
        self._value = None  # the value set this epoch

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def _check_fits(self, total):
        if total is not None and self.ramp_down > total:
            raise ValueError(
                f"{type(self).__name__}: `ramp_down` ({self.ramp_down}) is longer than the "
                f"training ({total} epochs): the ramp-down would start before training does."
            )

    def _bounds(self):
        """``(low, high)``: the value at ramp 0 and at ramp 1."""
        raise NotImplementedError

    def _assign(self, value):
        """Set ``value`` where the train step reads it; return what it reads, as a float."""
        raise NotImplementedError

    def _baked_into_steps(self):
        """Whether the compiled steps bake the value in when they are traced (JAX, for a
        value the model does not track), so that a new value needs them traced again."""
        return False

    def value(self, epoch, total_epochs=None):
        """The value set at ``epoch`` (``total_epochs``: T, if not the one of this fit)."""
        low, high = self._bounds()
        ramp = gaussian_ramp_up(epoch, self.ramp_up)
        if self.ramp_down:
            total = self._total if total_epochs is None else total_epochs
            if total is None:
                raise ValueError(f"{type(self).__name__}: give `total_epochs` for the ramp-down.")
            ramp *= gaussian_ramp_down(epoch, total, self.ramp_down)
        return ramp * high + (1.0 - ramp) * low

    def log(self, logs):
        """Write the value set this epoch into ``logs[log_key]``."""
        if logs is not None and self._value is not None:
            logs[self.log_key] = self._value

    def on_train_begin(self, logs=None):
        if self.ramp_down:
            self._total = resolve_total_epochs(type(self).__name__, self.total_epochs, self.params)
            self._check_fits(self._total)

    def on_epoch_begin(self, epoch, logs=None):
        previous = self._value
        self._value = self._assign(self.value(epoch))
        # the first epoch too: a step traced before this fit holds an older value
        if self._value != previous and self._baked_into_steps():
            backend.refresh_compiled_steps(self.model)

    def on_epoch_end(self, epoch, logs=None):
        self.log(logs)


# ----------------------------------------------------------------------------- the ramps


@keras.saving.register_keras_serializable(package="keras_angular")
class LossWeightRamp(GaussianRamp):
    """Ramps ``loss.weight`` with the Gaussian ramps of AMC-Loss Sec. 3.2.

    At the beginning of epoch ``t`` it assigns
    ``loss.weight = max_weight * gaussian_ramp_up(t, ramp_up) * gaussian_ramp_down(t, T,
    ramp_down)``: the paper's ``w(t) * lambda`` with ``w`` ramped up over the first
    80 of 300 epochs (``ramp_down=0``, the default, as in the paper, where only the
    learning rate and ``beta_1`` are ramped down). The value is logged as
    ``logs[log_key]`` at the end of the epoch.

    Args:
        loss: the loss object (with a scalar float32 ``keras.Variable`` attribute
            ``weight``, as [`keras_angular.losses.AMCLoss`][]), or its ``name``:
            a name is looked up among the compiled losses of the model when training
            starts (this is what ``get_config`` stores).
        max_weight: the weight reached after the ramp-up (>= 0); None = the
            loss's ``weight`` when the callback is made (its ``lambda``).
        ramp_up: ramp-up length ``L_up`` in epochs (>= 0; 0 = none). Paper: 80.
        ramp_down: ramp-down length in epochs (>= 0; 0 = none, the default).
        total_epochs: ``T`` for the ramp-down; None = the ``epochs`` given to fit.
        log_key: the key of the logged value.

    Examples:
        >>> from keras_angular.losses import AMCLoss
        >>> amc = AMCLoss(margin=0.5, weight=0.1)
        >>> ramp = LossWeightRamp(amc, ramp_up=80)   # weight 0.1 * exp(-5) at epoch 0
        >>> round(ramp.value(0), 6), round(ramp.value(80), 6)
        (0.000674, 0.1)
        >>> # model.compile(..., loss={"logits": ..., "embedding": amc})
        >>> # model.fit(..., epochs=300, callbacks=[ramp])
    """

    def __init__(
        self,
        loss,
        *,
        max_weight=None,
        ramp_up=80,
        ramp_down=0,
        total_epochs=None,
        log_key="loss_weight",
    ):
        super().__init__(
            ramp_up=ramp_up, ramp_down=ramp_down, total_epochs=total_epochs, log_key=log_key
        )
        owner = type(self).__name__
        self.max_weight = (
            None if max_weight is None else check_non_negative(owner, "max_weight", max_weight)
        )
        if isinstance(loss, str):
            self.loss, self.loss_name = None, loss
        else:
            self.loss = weighted_loss(owner, loss)
            self.loss_name = loss.name
            if self.max_weight is None:
                self.max_weight = _to_float(loss.weight)

    def _bounds(self):
        if self.max_weight is None:
            raise ValueError(
                f"{type(self).__name__}: the loss {self.loss_name!r} is not resolved "
                "yet; its maximum weight is unknown."
            )
        return 0.0, self.max_weight

    def _assign(self, value):
        self.loss.weight.assign(value)
        return _to_float(self.loss.weight)

    def _baked_into_steps(self):
        return not backend.steps_read_untracked_variables()  # a loss's variable: untracked

    def on_train_begin(self, logs=None):
        if self.loss is None:
            self.loss = weighted_loss(type(self).__name__, self.loss_name, self.model)
        if self.max_weight is None:
            self.max_weight = _to_float(self.loss.weight)
        super().on_train_begin(logs)

    def get_config(self):
        return {
            "loss": self.loss_name,
            "max_weight": self.max_weight,
            "ramp_up": self.ramp_up,
            "ramp_down": self.ramp_down,
            "total_epochs": self.total_epochs,
            "log_key": self.log_key,
        }


@keras.saving.register_keras_serializable(package="keras_angular")
class LearningRateRamp(GaussianRamp):
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

    Examples:
        >>> ramp = LearningRateRamp(max_lr=0.003, ramp_up=80, ramp_down=50, total_epochs=300)
        >>> round(ramp.value(0), 8), ramp.value(100)
        (2.021e-05, 0.003)
    """

    def __init__(self, *, max_lr=0.003, ramp_up=80, ramp_down=50, total_epochs=None):
        super().__init__(
            ramp_up=ramp_up, ramp_down=ramp_down, total_epochs=total_epochs, log_key="learning_rate"
        )
        self.max_lr = check_positive(type(self).__name__, "max_lr", max_lr)

    def _bounds(self):
        return 0.0, self.max_lr

    def _assign(self, value):
        optimizer = self.model.optimizer
        try:
            optimizer.learning_rate = value
        except TypeError as error:
            raise ValueError(
                f"{type(self).__name__} sets the learning rate each epoch: make the optimizer "
                "with a float `learning_rate` (not a LearningRateSchedule)."
            ) from error
        return _to_float(optimizer.learning_rate)

    def get_config(self):
        return {
            "max_lr": self.max_lr,
            "ramp_up": self.ramp_up,
            "ramp_down": self.ramp_down,
            "total_epochs": self.total_epochs,
        }


@keras.saving.register_keras_serializable(package="keras_angular")
class AdamBeta1Ramp(GaussianRamp):
    """Ramps Adam's ``beta_1`` from ``start`` to ``end`` during the Gaussian ramp-down.

    AMC-Loss Sec. 3.2 ("ramp down the learning rate and Adam beta_1 to 0.5 during
    the last 50 epochs"), as in Laine & Aila's and the mean-teacher code:
    ``beta_1(t) = rd(t) * start + (1 - rd(t)) * end`` with
    ``rd = gaussian_ramp_down(t, T, ramp_down)``. Set at the beginning of each
    epoch, logged as ``logs["beta_1"]`` at its end.

    Keras 3 Adam stores ``beta_1`` as a Python float that the compiled train step
    bakes in as a constant. On TensorFlow and PyTorch, when training starts, this
    callback replaces it by a scalar ``keras.Variable`` with the same value
    ([`keras_angular.callbacks.adam_beta_1.beta_1_variable`][], which says why
    and how), read by the train step at every step. On JAX, whose step reads only
    tracked state, ``beta_1`` stays a float and the steps are traced again in each epoch
    where it changes (the module docstring). Keras computes Adam's bias
    correction ``1 - beta_1^t`` with the *current* ``beta_1`` (TF1's
    ``AdamOptimizer``, which the authors used, accumulates the product of the past
    values instead); both corrections are 1 to within ``0.9^t`` after ``t`` steps,
    so the two agree once training has run a few hundred steps.

    Args:
        start: ``beta_1`` before the ramp-down, in [0, 1). Paper: 0.9.
        end: ``beta_1`` the ramp-down tends to, in [0, 1). Paper: 0.5.
        ramp_down: ramp-down length in epochs (>= 0). Paper: 50.
        total_epochs: ``T``; None = the ``epochs`` given to fit. Paper: 300.

    Examples:
        >>> ramp = AdamBeta1Ramp(ramp_down=50, total_epochs=300)
        >>> ramp.value(0), round(ramp.value(275), 4)
        (0.9, 0.5176)
    """

    def __init__(self, *, start=0.9, end=0.5, ramp_down=50, total_epochs=None):
        super().__init__(
            ramp_up=0, ramp_down=ramp_down, total_epochs=total_epochs, log_key="beta_1"
        )
        owner = type(self).__name__
        self.start = check_range(owner, "start", start, 0, 1, high_open=True)
        self.end = check_range(owner, "end", end, 0, 1, high_open=True)
        self._variable = None  # beta_1 as a variable (TensorFlow, PyTorch)
        self._optimizer = None  # the optimizer whose float beta_1 is set (JAX)

    def _bounds(self):
        return self.end, self.start

    def _assign(self, value):
        if self._variable is None:
            self._optimizer.beta_1 = float(value)
            return float(value)
        self._variable.assign(value)
        return _to_float(self._variable)

    def _baked_into_steps(self):
        return self._variable is None

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        owner = type(self).__name__
        if backend.steps_read_untracked_variables():
            self._variable = beta_1_variable(self.model, owner=owner)
        else:
            self._variable, self._optimizer = None, adam_optimizer(self.model, owner=owner)

    def get_config(self):
        return {
            "start": self.start,
            "end": self.end,
            "ramp_down": self.ramp_down,
            "total_epochs": self.total_epochs,
        }
