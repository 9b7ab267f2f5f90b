"""The optimizers a run trains with: their names, and the one builder that turns a
[`RunConfig`][keras_angular.run_config.RunConfig]'s ``optimizer``, ``momentum``,
``nesterov`` and ``weight_decay`` into the Keras optimizer.

- ``"adam"`` (the default): ``keras.optimizers.Adam``, the optimizer of Choi et al.,
  "AMC-Loss: Angular Margin Contrastive Loss for Improved Explainability in Image
  Classification" (CVPR Workshops 2020, Sec. 4) and of Wu & Wang, "Angular Learning:
  Toward Discriminative Embedded Features" (Table 1).
- ``"adamw"``: ``keras.optimizers.AdamW``, Adam with decoupled weight decay (Loshchilov &
  Hutter, "Decoupled Weight Decay Regularization", ICLR 2019): each step also subtracts
  ``learning_rate * weight_decay * w`` from every weight.
- ``"sgd"``: ``keras.optimizers.SGD`` with ``momentum`` (default 0.9) and ``nesterov``,
  the optimizer of Kansizoglou et al., "HASeparator: Hyperplane-Assisted Softmax" (ICMLA
  2020, Sec. IV-A: momentum 0.9, weight decay 1e-4) and of Li & Wang, "Learning
  discriminative features via weights-biased softmax loss" (Pattern Recognition, 2020:
  momentum 0.9). Its
  ``weight_decay`` is Keras' decoupled decay (SGDW), ``w -= learning_rate * weight_decay *
  w`` each step: with momentum this differs from the L2 penalty added to the gradient
  that PyTorch's ``SGD(weight_decay=...)`` means; the coupled penalty is the backbones'
  ``weight_decay`` argument (``backbone_kwargs={"weight_decay": 5e-4}``), a kernel
  regulariser.

This module imports no Keras until an optimizer is built.

Examples:
    >>> from keras_angular.run_config import RunConfig
    >>> config = RunConfig(epochs=1, optimizer="sgd", nesterov=True, weight_decay=5e-4)
    >>> sgd = build_optimizer(config, learning_rate=0.1)
    >>> type(sgd).__name__, sgd.momentum, sgd.nesterov, sgd.weight_decay
    ('SGD', 0.9, True, 0.0005)
"""

OPTIMIZERS = ("adam", "adamw", "sgd")
"""The ``optimizer`` values [`RunConfig`][keras_angular.run_config.RunConfig] accepts."""

SGD_MOMENTUM = 0.9
"""SGD's momentum where a run names none (the HASeparator and W-Softmax papers')."""

ADAMW_WEIGHT_DECAY = 0.004
"""AdamW's decoupled weight decay where a run names none (``keras.optimizers.AdamW``'s)."""


def check_optimizer(optimizer, momentum, nesterov, weight_decay):
    """The sentence that refuses these settings, or None when they fit together: an
    unknown ``optimizer``; ``momentum`` or ``nesterov`` for another optimizer than SGD;
    ``weight_decay`` for Adam (AdamW is Adam with weight decay); a momentum outside
    [0, 1) or a negative weight decay. The sentence names the
    [`RunConfig`][keras_angular.run_config.RunConfig] fields.

    Examples:
        >>> check_optimizer("adam", None, False, None) is None
        True
        >>> check_optimizer("adam", 0.9, False, None)
        '`momentum` is an SGD setting; `optimizer` is adam (Adam has its own beta_1).'
    """
    if optimizer not in OPTIMIZERS:
        return f"`optimizer` must be one of {OPTIMIZERS}, got {optimizer!r}."
    if optimizer != "sgd":
        if momentum is not None:
            return (
                f"`momentum` is an SGD setting; `optimizer` is {optimizer} (Adam has its own "
                "beta_1)."
            )
        if nesterov:
            return f"`nesterov` is an SGD setting; `optimizer` is {optimizer}."
    if optimizer == "adam" and weight_decay is not None:
        return "`weight_decay` needs `optimizer` adamw or sgd (AdamW is Adam with weight decay)."
    if momentum is not None and not _number_in(momentum, 0.0, 1.0):
        return f"`momentum` must be a number in [0, 1), got {momentum!r}."
    if weight_decay is not None and not _number_in(weight_decay, 0.0, float("inf")):
        return f"`weight_decay` must be a finite number >= 0, got {weight_decay!r}."
    if not isinstance(nesterov, bool):
        return f"`nesterov` must be True or False, got {nesterov!r}."
    return None


def _number_in(value, low, high):
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and low <= value < high
        and value == value
    )


def build_optimizer(config, learning_rate):
    """The Keras optimizer of ``config`` (a
    [`RunConfig`][keras_angular.run_config.RunConfig]) with ``learning_rate`` (a float or a
    ``keras.optimizers.schedules.LearningRateSchedule``).

    Args:
        config: its ``optimizer``, ``momentum``, ``nesterov`` and ``weight_decay`` decide;
            ``momentum`` None is [`SGD_MOMENTUM`][keras_angular.optimizers.SGD_MOMENTUM],
            ``weight_decay`` None is none for SGD and
            [`ADAMW_WEIGHT_DECAY`][keras_angular.optimizers.ADAMW_WEIGHT_DECAY] for AdamW.
        learning_rate: the peak learning rate or its schedule.

    Returns:
        A ``keras.optimizers.Adam``, ``AdamW`` or ``SGD``.

    Examples:
        >>> from keras_angular.run_config import RunConfig
        >>> adamw = build_optimizer(RunConfig(epochs=1, optimizer="adamw"), 1e-3)
        >>> type(adamw).__name__, adamw.weight_decay
        ('AdamW', 0.004)
    """
    import keras

    if config.optimizer == "sgd":
        return keras.optimizers.SGD(
            learning_rate,
            momentum=SGD_MOMENTUM if config.momentum is None else config.momentum,
            nesterov=config.nesterov,
            weight_decay=config.weight_decay or None,
        )
    if config.optimizer == "adamw":
        decay = ADAMW_WEIGHT_DECAY if config.weight_decay is None else config.weight_decay
        return keras.optimizers.AdamW(learning_rate, weight_decay=decay)
    return keras.optimizers.Adam(learning_rate)


__all__ = [
    "ADAMW_WEIGHT_DECAY",
    "OPTIMIZERS",
    "SGD_MOMENTUM",
    "build_optimizer",
    "check_optimizer",
]
