"""The package's own small backbones, not from the papers:
[`small_cnn`][keras_angular.models.small_cnn], the default for images larger than 16x16, and
[`mlp`][keras_angular.models.mlp] for tiny inputs such as the 8x8 digits."""

import keras
from keras import layers

from keras_angular.models.parts import (
    EMBEDDING,
    batch_normalization,
    checked_input_shape,
    l2_regularizer,
)

__all__ = ["mlp", "small_cnn"]


def small_cnn(
    input_shape=(28, 28, 1),
    embedding_dim=128,
    *,
    widths=(32, 64, 128),
    convs=(1, 2, 2),
    batch_norm=True,
    weight_decay=0.0,
    name="small_cnn",
):
    """The default image backbone: a small VGG-style CNN that learns in a few epochs.

    Not from the papers: the backbone ``train`` / ``compare`` use for images larger than
    16x16 when none is named, chosen because it reaches a useful accuracy in a short
    CPU run at any image size, so a first comparison of losses reads something real:

    ```text
    stage 1:  3x3 conv 32, BN, ReLU, same
              2x2 max-pool            (each pool skipped below 4x4, so any size works)
    stage 2:  3x3 conv 64, BN, ReLU, same     x2
              2x2 max-pool
    stage 3:  3x3 conv 128, BN, ReLU, same    x2
    global average pool
    Dense(embedding_dim), linear              <- layer "embedding"
    ```

    The linear embedding lets the angular heads use the whole sphere (a ReLU output
    would confine the features to the positive orthant). Its batch norms are meant to
    be trained with [`keras_angular.callbacks.PreciseBatchNorm`][] (``train`` and
    ``compare`` add it), which gives inference the population statistics of the current
    weights.

    Args:
        input_shape: ``(H, W, C)``, any size of at least 1x1.
        embedding_dim: size of the embedding (default 128).
        widths: filters of each stage; one pooling between consecutive stages.
        convs: convolutions in each stage (as many entries as ``widths``).
        batch_norm: BN after every convolution.
        weight_decay: coupled L2 weight decay on the kernels (see [`keras_angular.models`][]).
        name: model name.

    Examples:
        >>> model = small_cnn((28, 28, 1), embedding_dim=64)
        >>> model.output_shape
        (None, 64)
    """
    input_shape = checked_input_shape(input_shape, 1, "small_cnn")
    reg = l2_regularizer(weight_decay)
    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    size = min(input_shape[:2])
    if len(convs) != len(widths):
        raise ValueError(
            f"small_cnn: `convs` {tuple(convs)} and `widths` {tuple(widths)} differ in length."
        )
    for stage, (filters, n_convs) in enumerate(zip(widths, convs, strict=True), start=1):
        if stage > 1 and size >= 4:
            x = layers.MaxPooling2D(2, name=f"pool{stage - 1}")(x)
            size //= 2
        for i in range(1, n_convs + 1):
            x = layers.Conv2D(
                filters,
                3,
                padding="same",
                use_bias=not batch_norm,
                kernel_initializer="he_normal",
                kernel_regularizer=reg,
                name=f"conv{stage}_{i}",
            )(x)
            if batch_norm:
                x = batch_normalization(f"conv{stage}_{i}_bn")(x)
            x = layers.ReLU(name=f"conv{stage}_{i}_relu")(x)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = layers.Dense(embedding_dim, kernel_regularizer=reg, name=EMBEDDING)(x)
    return keras.Model(inputs, outputs, name=name)


# --------------------------------------------------------------------------- MLP


def mlp(input_shape=(8, 8, 1), embedding_dim=32, *, hidden_units=128, weight_decay=0.0, name="mlp"):
    """A small dense network for tiny inputs such as the 8x8 scikit-learn digits.

    ``Flatten -> Dense(hidden_units, relu) -> Dense(embedding_dim)`` (linear, named
    "embedding"). Not from the papers: the offline default that trains in seconds.

    Examples:
        >>> model = mlp((8, 8, 1), embedding_dim=32)
        >>> model.output_shape, model.count_params()   # (64 * 128 + 128) + (128 * 32 + 32)
        ((None, 32), 12448)
    """
    reg = l2_regularizer(weight_decay)
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = layers.Flatten(name="flatten")(inputs)
    x = layers.Dense(hidden_units, activation="relu", kernel_regularizer=reg, name="hidden")(x)
    outputs = layers.Dense(embedding_dim, kernel_regularizer=reg, name=EMBEDDING)(x)
    return keras.Model(inputs, outputs, name=name)
