"""What every backbone shares: the name of the embedding layer, the batch norm, the coupled
L2 weight decay and the check of the input shape."""

import keras
from keras import layers

__all__ = [
    "BN_MOMENTUM",
    "EMBEDDING",
    "batch_normalization",
    "checked_input_shape",
    "l2_regularizer",
]

EMBEDDING = "embedding"
"""The name of every backbone's output layer, the embedding the heads read."""

BN_MOMENTUM = 0.9
"""Momentum of every batch norm in these backbones (PyTorch's default, ``momentum=0.1``
in its convention). The papers leave it open; Keras' default 0.99 keeps 0.99^t of the
initial statistics after t steps (5 % after 300 steps), so in runs of a few hundred steps
inference would read statistics far from the weights'. ``train`` / ``compare`` go further
and recompute the population statistics before every evaluation
([`keras_angular.callbacks.PreciseBatchNorm`][])."""


def batch_normalization(name):
    """A ``BatchNormalization`` layer with [`BN_MOMENTUM`][keras_angular.models.BN_MOMENTUM].

    Examples:
        >>> batch_normalization("bn").momentum
        0.9
    """
    return layers.BatchNormalization(momentum=BN_MOMENTUM, name=name)


def l2_regularizer(weight_decay):
    """The kernel regularizer of coupled weight decay ``weight_decay`` (None for 0).

    An L2 penalty ``weight_decay / 2 * ||w||^2``, whose gradient is ``weight_decay * w``.

    Examples:
        >>> l2_regularizer(0.0) is None, float(l2_regularizer(5e-4).l2)
        (True, 0.00025)
    """
    if weight_decay is None or weight_decay == 0:
        return None
    if weight_decay < 0:
        raise ValueError(f"`weight_decay` must be >= 0, got {weight_decay}.")
    return keras.regularizers.L2(weight_decay / 2.0)


def checked_input_shape(input_shape, min_size, who):
    """``input_shape`` as an ``(H, W, C)`` tuple of ints with H, W >= ``min_size``, or
    ``ValueError`` naming ``who``.

    Examples:
        >>> checked_input_shape([28.0, 28, 1], 12, "amc_cnn")
        (28, 28, 1)
    """
    input_shape = tuple(int(d) for d in input_shape)
    if len(input_shape) != 3:
        raise ValueError(
            f"{who}: `input_shape` must be (height, width, channels), got {input_shape}."
        )
    if min(input_shape[:2]) < min_size:
        raise ValueError(
            f"{who} needs images of at least {min_size}x{min_size} pixels, got "
            f"{input_shape[0]}x{input_shape[1]}; use 'resnet20' or 'mlp' for "
            "smaller inputs."
        )
    return input_shape
