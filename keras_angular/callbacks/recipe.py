"""The AMC-Loss training recipe: its ramps together, as the paper or the authors' code runs it.

AMC-Loss (Choi et al.), Sec. 3.2, trains for ``T`` epochs with Adam, a loss weight
and a learning rate ramped up, and the learning rate and Adam's ``beta_1`` ramped
down ([`keras_angular.callbacks.ramps`][]).
[`TemporalEnsemblingSchedule`][keras_angular.callbacks.TemporalEnsemblingSchedule] applies the whole
recipe, as the paper gives it (``recipe="paper"``) or as the authors' TF1 code runs it
(``"official"``: a 100x larger loss weight, shorter ramps and evaluation with Polyak-averaged (EMA
0.999) weights; the documentation's AMC-Loss page lists every difference), scaled to any number of
epochs. [`RECIPES`][keras_angular.callbacks.RECIPES] holds both;
[`ema_optimizer`][keras_angular.callbacks.ema_optimizer] is the optimizer the ``"official"`` recipe
expects.
"""

import math
import warnings

import keras
from keras import ops

from keras_angular.callbacks.adam_beta_1 import inner_optimizer
from keras_angular.callbacks.ramps import (
    AdamBeta1Ramp,
    LearningRateRamp,
    LossWeightRamp,
    check_total_epochs,
    resolve_total_epochs,
    weighted_loss,
)
from keras_angular.checks import check_non_negative, check_positive

__all__ = ["TemporalEnsemblingSchedule", "ema_optimizer", "RECIPES"]

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
    # The authors' TF1 code (github.com/hchoi71/AMC-Loss): effective weight 10 * ramp(t)
    # (lambda 0.1 times a maximum weight of 100), ramps 50 up / 30 down of 200 epochs, the
    # learning rate ramped, beta_1 0.9 -> 0.5 in the ramp-down, evaluation with Polyak
    # (EMA 0.999) weights.
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
"""The AMC training recipes, for ``epochs`` epochs;
[`TemporalEnsemblingSchedule`][keras_angular.callbacks.TemporalEnsemblingSchedule] scales the
ramp lengths to the number of epochs it is given. ``weight_scale`` multiplies the loss's own
``weight`` (its ``lambda``, 0.1)."""


def _round_half_up(value):
    return int(math.floor(value + 0.5))


def ema_optimizer(learning_rate=0.003, ema_momentum=0.999, **kwargs):
    """Adam keeping a Polyak (exponential moving) average of the weights.

    ``keras.optimizers.Adam(learning_rate, use_ema=True, ema_momentum=0.999, **kwargs)``:
    the optimizer the ``"official"`` AMC recipe expects. Evaluate with the averaged
    weights during training with ``keras.callbacks.SwapEMAWeights()``
    ([`TemporalEnsemblingSchedule`][keras_angular.callbacks.TemporalEnsemblingSchedule] does it
    itself); at the end of ``fit`` Keras copies the averages into the model
    (``optimizer.finalize_variable_values``), so the trained model *is* the averaged one.

    Examples:
        >>> opt = ema_optimizer()
        >>> opt.use_ema, opt.ema_momentum
        (True, 0.999)
    """
    return keras.optimizers.Adam(
        learning_rate=learning_rate, use_ema=True, ema_momentum=ema_momentum, **kwargs
    )


@keras.saving.register_keras_serializable(package="keras_angular")
class TemporalEnsemblingSchedule(keras.callbacks.Callback):
    """The whole AMC-Loss training recipe (Sec. 3.2), scaled to any number of epochs.

    One callback that runs a [`LearningRateRamp`][keras_angular.callbacks.LearningRateRamp], an
    [`AdamBeta1Ramp`][keras_angular.callbacks.AdamBeta1Ramp], a
    [`LossWeightRamp`][keras_angular.callbacks.LossWeightRamp] (if ``loss`` is given; ramp-up only)
    and, for a recipe with Polyak averaging, a ``keras.callbacks.SwapEMAWeights`` (validation on the
    EMA weights), through a ``keras.callbacks.CallbackList``. Ramp lengths are the recipe's
    fractions of its epochs times ``total_epochs``, rounded to whole epochs (see
    [`plan`][keras_angular.callbacks.recipe.TemporalEnsemblingSchedule.plan]):

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
    ``use_ema=True``: use
    [`make_optimizer`][keras_angular.callbacks.recipe.TemporalEnsemblingSchedule.make_optimizer] (or
    [`ema_optimizer`][keras_angular.callbacks.ema_optimizer]).

    Args:
        loss: the ramped loss (object or name, see
            [`LossWeightRamp`][keras_angular.callbacks.LossWeightRamp]), or None.
        total_epochs: ``T``; None (default) = the ``epochs`` given to fit.
        recipe: ``"paper"`` (default) or ``"official"``
            ([`RECIPES`][keras_angular.callbacks.RECIPES]).
        max_lr: override the recipe's maximum learning rate.
        max_weight: override the loss's maximum weight (absolute, not scaled).
        ema: override whether to evaluate with EMA weights (None = the recipe's).

    Examples:
        >>> schedule = TemporalEnsemblingSchedule(total_epochs=30, recipe="official")
        >>> schedule.plan()["ramp_up"], schedule.plan()["ramp_down"]
        (8, 5)
        >>> # model.compile(optimizer=schedule.make_optimizer(), loss=...)
        >>> # model.fit(..., epochs=30, callbacks=[schedule])
    """

    def __init__(
        self,
        loss=None,
        *,
        total_epochs=None,
        recipe="paper",
        max_lr=None,
        max_weight=None,
        ema=None,
    ):
        super().__init__()
        owner = type(self).__name__
        if recipe not in RECIPES:
            raise ValueError(f"{owner}: `recipe` must be one of {sorted(RECIPES)}, got {recipe!r}.")
        self.recipe = recipe
        self.total_epochs = check_total_epochs(owner, total_epochs)
        self.max_lr = None if max_lr is None else check_positive(owner, "max_lr", max_lr)
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
            self.loss = weighted_loss(owner, loss)
            self.loss_name = loss.name
            self._lambda = float(ops.convert_to_numpy(loss.weight))
        self._ramps = []
        self._callbacks = keras.callbacks.CallbackList()
        self.applied_plan = None  # the plan of the current fit, set when it starts

    @classmethod
    def from_config(cls, config):
        return cls(**config)

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
        total = check_total_epochs(type(self).__name__, total)
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

    # -- the callbacks it runs --------------------------------------------------------

    def _build(self):
        owner = type(self).__name__
        total = resolve_total_epochs(owner, self.total_epochs, self.params)
        fit_epochs = (self.params or {}).get("epochs")
        if fit_epochs and fit_epochs != total:
            warnings.warn(
                f"{owner}: the recipe is scaled to total_epochs={total} but fit() runs to epoch "
                f"{fit_epochs}.",
                stacklevel=2,
            )
        if self.loss_name is not None:
            if self.loss is None:
                self.loss = weighted_loss(owner, self.loss_name, self.model)
            if self._lambda is None:
                self._lambda = float(ops.convert_to_numpy(self.loss.weight))
        plan = self.plan(total)
        start, end = plan["beta_1"]
        ramps = [
            LearningRateRamp(
                max_lr=plan["max_lr"],
                ramp_up=plan["ramp_up"],
                ramp_down=plan["ramp_down"],
                total_epochs=total,
            ),
            AdamBeta1Ramp(start=start, end=end, ramp_down=plan["ramp_down"], total_epochs=total),
        ]
        if self.loss is not None:
            ramps.append(
                LossWeightRamp(
                    self.loss,
                    max_weight=plan["max_weight"],
                    ramp_up=plan["ramp_up"],
                    ramp_down=0,
                    total_epochs=total,
                )
            )
        callbacks = list(ramps)
        if plan["ema_momentum"] is not None:
            if not getattr(inner_optimizer(self.model.optimizer), "use_ema", False):
                raise ValueError(
                    f"{owner}: recipe {self.recipe!r} evaluates with Polyak-averaged (EMA) "
                    "weights, but the optimizer has use_ema=False. Compile with "
                    "`schedule.make_optimizer()` (or keras_angular.callbacks.ema_optimizer(), "
                    "i.e. Adam(use_ema=True, ema_momentum=0.999)), or pass ema=False."
                )
            callbacks.append(keras.callbacks.SwapEMAWeights())
        self._ramps = ramps
        self._callbacks = keras.callbacks.CallbackList(
            callbacks, model=self.model, **(self.params or {})
        )
        self.applied_plan = plan

    def on_train_begin(self, logs=None):
        self._build()
        self._callbacks.on_train_begin(logs)

    def on_train_end(self, logs=None):
        self._callbacks.on_train_end(logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._callbacks.on_epoch_begin(epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._callbacks.on_epoch_end(epoch, logs)
        # CallbackList hands its callbacks a copy of `logs`: log into fit's own.
        for ramp in self._ramps:
            ramp.log(logs)

    def on_test_begin(self, logs=None):
        self._callbacks.on_test_begin(logs)

    def on_test_end(self, logs=None):
        self._callbacks.on_test_end(logs)

    def on_predict_begin(self, logs=None):
        self._callbacks.on_predict_begin(logs)

    def on_predict_end(self, logs=None):
        self._callbacks.on_predict_end(logs)

    def get_config(self):
        return {
            "loss": self.loss_name,
            "total_epochs": self.total_epochs,
            "recipe": self.recipe,
            "max_lr": self.max_lr,
            "max_weight": self.max_weight,
            "ema": self.ema,
        }
