"""The AMC-Loss CNNs (AMC-Loss paper, Table 2): the CIFAR / SVHN net and the small MNIST
net with a 2- or 3-d feature."""

import keras
from keras import layers

from keras_angular.models.parts import (
    EMBEDDING,
    batch_normalization,
    checked_input_shape,
    l2_regularizer,
)

__all__ = ["amc_cnn", "amc_mnist_cnn"]


_AMC_VARIANTS = {
    # (block-1 filters, block-2 filters, 3x3 valid conv, [1x1 convs before the embedding])
    "paper": (128, 256, 512, [256]),
    "official": (64, 128, 256, []),
}


def _amc_conv(x, filters, kernel, padding, alpha, batch_norm, reg, name):
    x = layers.Conv2D(
        filters, kernel, padding=padding, use_bias=not batch_norm, kernel_regularizer=reg, name=name
    )(x)
    if batch_norm:
        x = batch_normalization(f"{name}_bn")(x)
    return layers.LeakyReLU(negative_slope=alpha, name=f"{name}_lrelu")(x)


def amc_cnn(
    input_shape=(32, 32, 3),
    embedding_dim=128,
    *,
    variant="paper",
    noise_stddev=0.15,
    dropout=0.5,
    leaky_alpha=0.1,
    batch_norm=True,
    weight_decay=0.0,
    name="amc_cnn",
):
    """The AMC-Loss CNN for CIFAR-10 / CIFAR-100 / SVHN (AMC-Loss paper, Table 2, top).

    ``variant="paper"`` follows Table 2 layer by layer (Appendix A, "we use standard
    batch normalization"; BN sits between each convolution and its leaky ReLU, as in
    the authors' ``tf.contrib`` ``conv2d(normalizer_fn=batch_norm, activation_fn=lrelu)``):

    ```text
    GaussianNoise(0.15)                               (training only)
    3x3 conv 128, lReLU(0.1), same      x3
    2x2 max-pool, dropout 0.5
    3x3 conv 256, lReLU(0.1), same      x3
    2x2 max-pool, dropout 0.5
    3x3 conv 512, lReLU(0.1), valid                   (32x32 input -> 6x6)
    1x1 conv 256, lReLU(0.1)
    1x1 conv 128, lReLU(0.1)            <- ``embedding_dim`` filters
    global average pool 6x6 -> 1x1      <- layer "embedding" (128-d deep feature)
    ```

    The head (``Fully connected 128 -> 10 softmax`` in the table) is left to the caller.

    ``variant="official"`` is the authors' released TF1 code (``Train_AMC.py``), which is
    narrower and shorter: 64-64-64 / pool / dropout, 128-128-128 / pool / dropout,
    3x3 conv 256 valid, 1x1 conv 128, global average pool (no 1x1 conv 256).

    Args:
        input_shape: ``(H, W, C)``, at least 12x12 (two poolings then a valid 3x3).
        embedding_dim: filters of the last 1x1 convolution = size of the pooled feature.
        variant: ``"paper"`` (default) or ``"official"``.
        noise_stddev: std of the additive Gaussian input noise (0 disables it).
        dropout: rate of the two dropout layers.
        leaky_alpha: negative slope of the leaky ReLUs.
        batch_norm: BN after every convolution.
        weight_decay: coupled L2 weight decay on the kernels (see [`keras_angular.models`][]).
        name: model name.

    Examples:
        >>> model = amc_cnn((32, 32, 3), embedding_dim=128)
        >>> model.output_shape
        (None, 128)
    """
    if variant not in _AMC_VARIANTS:
        raise ValueError(
            f"amc_cnn: unknown variant {variant!r}; use one of {sorted(_AMC_VARIANTS)}."
        )
    input_shape = checked_input_shape(input_shape, 12, "amc_cnn")
    f1, f2, f3, one_by_ones = _AMC_VARIANTS[variant]
    reg = l2_regularizer(weight_decay)
    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    if noise_stddev:
        x = layers.GaussianNoise(noise_stddev, name="gaussian_noise")(x)
    for block, filters in ((1, f1), (2, f2)):
        for i in range(1, 4):
            x = _amc_conv(x, filters, 3, "same", leaky_alpha, batch_norm, reg, f"conv{block}_{i}")
        x = layers.MaxPooling2D(2, name=f"pool{block}")(x)
        if dropout:
            x = layers.Dropout(dropout, name=f"dropout{block}")(x)
    x = _amc_conv(x, f3, 3, "valid", leaky_alpha, batch_norm, reg, "conv3_1")
    for i, filters in enumerate([*one_by_ones, embedding_dim], start=2):
        x = _amc_conv(x, filters, 1, "same", leaky_alpha, batch_norm, reg, f"conv3_{i}")
    outputs = layers.GlobalAveragePooling2D(name=EMBEDDING)(x)
    return keras.Model(inputs, outputs, name=name)


def amc_mnist_cnn(
    input_shape=(28, 28, 1),
    embedding_dim=3,
    *,
    noise_stddev=0.15,
    dropout=0.5,
    leaky_alpha=0.1,
    batch_norm=True,
    weight_decay=0.0,
    name="amc_mnist_cnn",
):
    """The small AMC-Loss MNIST net with a 2- or 3-d feature (AMC-Loss Table 2, bottom).

    Used for the paper's Figure 1 (2-d angular distributions) and Figure 4 (3-d features
    on the unit sphere):

    ```text
    GaussianNoise(0.15)                               (training only)
    3x3 conv 64, lReLU(0.1), same
    2x2 max-pool, dropout 0.5
    3x3 conv 64, lReLU(0.1), same
    2x2 max-pool, dropout 0.5
    3x3 conv 128, lReLU(0.1), valid                   (28x28 input -> 5x5)
    1x1 conv 64, lReLU(0.1), same
    1x1 conv ``embedding_dim``, linear   (added, see below)
    global average pool 5x5 -> 1x1       <- layer "embedding"
    ```

    Table 2 lists ``1x1 conv 64`` as the last convolution but then ``Fully connected
    3 -> 10``, and its caption says the global-average-pool output is 2-d (Fig. 1) or
    3-d (Fig. 4). To keep every listed layer *and* give the pooled feature
    ``embedding_dim`` entries, a linear 1x1 convolution with ``embedding_dim`` filters
    is added before the pooling (the same as a linear projection of the pooled 64-d
    vector; being linear, it lets the low-dimensional feature cover the whole sphere,
    which a leaky-ReLU output would fold into the positive orthant).

    Args: as [`amc_cnn`][keras_angular.models.amc_cnn] (``input_shape`` at least 12x12).

    Examples:
        >>> model = amc_mnist_cnn((28, 28, 1), embedding_dim=3)
        >>> model.output_shape, model.get_layer("embedding").name
        ((None, 3), 'embedding')
    """
    input_shape = checked_input_shape(input_shape, 12, "amc_mnist_cnn")
    reg = l2_regularizer(weight_decay)
    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    if noise_stddev:
        x = layers.GaussianNoise(noise_stddev, name="gaussian_noise")(x)
    for block in (1, 2):
        x = _amc_conv(x, 64, 3, "same", leaky_alpha, batch_norm, reg, f"conv{block}")
        x = layers.MaxPooling2D(2, name=f"pool{block}")(x)
        if dropout:
            x = layers.Dropout(dropout, name=f"dropout{block}")(x)
    x = _amc_conv(x, 128, 3, "valid", leaky_alpha, batch_norm, reg, "conv3_1")
    x = _amc_conv(x, 64, 1, "same", leaky_alpha, batch_norm, reg, "conv3_2")
    x = layers.Conv2D(embedding_dim, 1, kernel_regularizer=reg, name="projection")(x)
    outputs = layers.GlobalAveragePooling2D(name=EMBEDDING)(x)
    return keras.Model(inputs, outputs, name=name)
