"""The W-Softmax backbone: Liu et al.'s L-Softmax CNNs (ICML 2016, Table 1) with PReLU then
batch norm, as W-Softmax Sec. 5.1 uses them."""

import keras
from keras import layers

from keras_angular.models.parts import (
    EMBEDDING,
    batch_normalization,
    checked_input_shape,
    l2_regularizer,
)

__all__ = ["wsoftmax_cnn"]


_LSOFTMAX_VARIANTS = {
    # variant: (Conv0 filters, [(convs, filters) for Conv1.x, Conv2.x, Conv3.x], FC units)
    "mnist": (64, [(3, 64), (3, 64), (3, 64)], 256),
    "cifar10": (64, [(4, 64), (4, 96), (4, 128)], 256),
    "cifar100": (96, [(4, 96), (4, 192), (4, 384)], 512),
}


def _conv_prelu_bn(x, filters, reg, name):
    x = layers.Conv2D(
        filters,
        3,
        padding="same",
        kernel_initializer="glorot_uniform",
        kernel_regularizer=reg,
        name=f"{name}_conv",
    )(x)
    x = layers.PReLU(shared_axes=[1, 2], name=f"{name}_prelu")(x)
    return batch_normalization(f"{name}_bn")(x)


def wsoftmax_cnn(
    input_shape=(28, 28, 1),
    embedding_dim=None,
    *,
    variant=None,
    weight_decay=0.0,
    name="wsoftmax_cnn",
):
    """The W-Softmax backbone: Liu et al.'s L-Softmax CNNs with PReLU then BN.

    W-Softmax Sec. 5.1 ("CNN Setup"): "we use the CNN architecture presented by Liu et
    al. [23] as the backbone ... In convolution layers, the stride is 1 and PReLU is
    chosen as the activation function ... The weights are initialized by xavier
    initializer ... Batch normalization is used after PReLU and the dropout is not
    adopted." The architectures are Table 1 of Liu et al., "Large-Margin Softmax Loss
    for Convolutional Neural Networks", ICML 2016 (``[3x3, n] x k`` = k 3x3 convolutions
    with n filters, stride 1, padding 1):

    ```text
    layer        mnist          cifar10        cifar100
    Conv0.x      [3x3, 64]x1    [3x3, 64]x1    [3x3, 96]x1
    Conv1.x      [3x3, 64]x3    [3x3, 64]x4    [3x3, 96]x4
    Pool1        2x2 max, stride 2
    Conv2.x      [3x3, 64]x3    [3x3, 96]x4    [3x3, 192]x4
    Pool2        2x2 max, stride 2
    Conv3.x      [3x3, 64]x3    [3x3, 128]x4   [3x3, 384]x4
    Pool3        2x2 max, stride 2
    FC           256            256            512
    ```

    Each convolution is ``Conv2D -> PReLU (one slope per channel) -> BatchNorm``; the
    pooled map is flattened and the FC layer (``Dense(M) -> PReLU -> BatchNorm``, the
    last BN named "embedding") gives the M-d feature x that W-Softmax's classifier
    ``W (M x C)`` reads. W-Softmax Sec. 3 / 5.2: M >= C - 1 units suffice (M_min = 9 for
    MNIST / CIFAR-10, 99 for CIFAR-100); ``embedding_dim`` sets M.

    Sources and choices: the table is from Liu et al.'s paper; its MNIST column agrees
    with a third-party PyTorch port of L-Softmax. Liu et al.'s released Caffe CIFAR-10
    prototxt differs from their own table (64 / 128 / 256 filters, FC 512, conv -> BN ->
    ReLU); we follow the table, with the activation and BN order W-Softmax states.
    "same" padding everywhere (the table's padding 1).

    Args:
        input_shape: ``(H, W, C)``; at least 8x8 (three poolings).
        embedding_dim: FC width M (default: the table's 256 / 256 / 512).
        variant: ``"mnist"``, ``"cifar10"`` or ``"cifar100"``; default ``"mnist"`` for
            one-channel inputs, ``"cifar10"`` otherwise.
        weight_decay: coupled L2 weight decay on the kernels (W-Softmax Sec. 5.1: 5e-4).
        name: model name.

    Examples:
        >>> model = wsoftmax_cnn((28, 28, 1))   # one channel: the "mnist" variant, M = 256
        >>> model.output_shape
        (None, 256)
    """
    input_shape = checked_input_shape(input_shape, 8, "wsoftmax_cnn")
    if variant is None:
        variant = "mnist" if input_shape[-1] == 1 else "cifar10"
    if variant not in _LSOFTMAX_VARIANTS:
        raise ValueError(
            f"wsoftmax_cnn: unknown variant {variant!r}; use one of {sorted(_LSOFTMAX_VARIANTS)}."
        )
    conv0, stages, fc_units = _LSOFTMAX_VARIANTS[variant]
    embedding_dim = fc_units if embedding_dim is None else embedding_dim
    reg = l2_regularizer(weight_decay)

    inputs = keras.Input(shape=input_shape, name="image")
    x = _conv_prelu_bn(inputs, conv0, reg, "conv0")
    for stage, (n_convs, filters) in enumerate(stages, start=1):
        for i in range(1, n_convs + 1):
            x = _conv_prelu_bn(x, filters, reg, f"conv{stage}_{i}")
        x = layers.MaxPooling2D(2, name=f"pool{stage}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(
        embedding_dim, kernel_initializer="glorot_uniform", kernel_regularizer=reg, name="fc"
    )(x)
    x = layers.PReLU(name="fc_prelu")(x)
    outputs = batch_normalization(EMBEDDING)(x)
    return keras.Model(inputs, outputs, name=name)
