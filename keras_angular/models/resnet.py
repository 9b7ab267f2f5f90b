"""CIFAR-style ResNets (He et al., "Deep Residual Learning for Image Recognition", CVPR
2016): ResNet-20 with the parameter-free option-A shortcut, and ResNet-18 / 34 / 50 adapted
to 32x32 inputs."""

import keras
from keras import layers, ops

from keras_angular.models.parts import (
    EMBEDDING,
    batch_normalization,
    checked_input_shape,
    l2_regularizer,
)

__all__ = ["OptionAShortcut", "cifar_resnet"]


@keras.saving.register_keras_serializable(package="keras_angular")
class OptionAShortcut(keras.layers.Layer):
    """He et al. (2016) CIFAR shortcut "option A": parameter-free identity shortcut.

    Subsamples by ``strides`` and zero-pads the channels up to ``filters`` (half the
    padding before the existing channels, half after), so the CIFAR ResNets have
    0.27M (ResNet-20) parameters as in He et al., Table 6.

    Examples:
        >>> shortcut = OptionAShortcut(16, strides=2)
        >>> tuple(shortcut(ops.zeros((2, 8, 8, 8))).shape)   # 8 channels padded to 16
        (2, 4, 4, 16)
    """

    def __init__(self, filters, strides=2, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.strides = int(strides)

    def compute_output_shape(self, input_shape):
        h, w = input_shape[1], input_shape[2]
        s = self.strides
        h = None if h is None else -(-h // s)
        w = None if w is None else -(-w // s)
        return (input_shape[0], h, w, self.filters)

    def call(self, inputs):
        x = inputs[:, :: self.strides, :: self.strides, :]
        extra = self.filters - inputs.shape[-1]
        if extra < 0:
            raise ValueError(
                f"OptionAShortcut cannot shrink {inputs.shape[-1]} channels to {self.filters}."
            )
        if extra:
            x = ops.pad(x, [[0, 0], [0, 0], [0, 0], [extra // 2, extra - extra // 2]])
        return x

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "strides": self.strides}


_RESNET_SPECS = {
    # depth: (block kind, blocks per stage, stage widths, default shortcut)
    20: ("basic", (3, 3, 3), (16, 32, 64), "A"),
    18: ("basic", (2, 2, 2, 2), (64, 128, 256, 512), "B"),
    34: ("basic", (3, 4, 6, 3), (64, 128, 256, 512), "B"),
    50: ("bottleneck", (3, 4, 6, 3), (64, 128, 256, 512), "B"),
}


def _conv_bn(x, filters, kernel, strides, reg, name, relu=True):
    x = layers.Conv2D(
        filters,
        kernel,
        strides=strides,
        padding="same",
        use_bias=False,
        kernel_initializer="he_normal",
        kernel_regularizer=reg,
        name=f"{name}_conv",
    )(x)
    x = batch_normalization(f"{name}_bn")(x)
    if relu:
        x = layers.ReLU(name=f"{name}_relu")(x)
    return x


def _shortcut(x, filters, strides, kind, reg, name):
    if strides == 1 and x.shape[-1] == filters:
        return x
    if kind == "A":
        return OptionAShortcut(filters, strides, name=f"{name}_shortcut")(x)
    return _conv_bn(x, filters, 1, strides, reg, f"{name}_shortcut", relu=False)


def _basic_block(x, filters, strides, shortcut, reg, name):
    s = _shortcut(x, filters, strides, shortcut, reg, name)
    y = _conv_bn(x, filters, 3, strides, reg, f"{name}_1")
    y = _conv_bn(y, filters, 3, 1, reg, f"{name}_2", relu=False)
    y = layers.Add(name=f"{name}_add")([s, y])
    return layers.ReLU(name=f"{name}_out")(y)


def _bottleneck_block(x, filters, strides, shortcut, reg, name):
    s = _shortcut(x, 4 * filters, strides, shortcut, reg, name)
    y = _conv_bn(x, filters, 1, 1, reg, f"{name}_1")
    y = _conv_bn(y, filters, 3, strides, reg, f"{name}_2")
    y = _conv_bn(y, 4 * filters, 1, 1, reg, f"{name}_3", relu=False)
    y = layers.Add(name=f"{name}_add")([s, y])
    return layers.ReLU(name=f"{name}_out")(y)


def cifar_resnet(
    depth,
    input_shape=(32, 32, 3),
    embedding_dim=None,
    *,
    shortcut=None,
    base_width=None,
    weight_decay=0.0,
    name=None,
):
    """CIFAR-style ResNets (He et al., CVPR 2016) without the classifier.

    * ``depth=20``: the He et al. Sec. 4.2 CIFAR net: 3x3 conv 16, then three stages of
      3 basic blocks with 16 / 32 / 64 filters (stride 2 at stages 2 and 3), global
      average pool -> 64-d. Shortcut option A (parameter-free), so the model with a
      10-class dense head has the paper's 0.27M parameters (He et al., Table 6). The
      Angular-loss paper uses it for Fashion-MNIST (Sec. 4.1, Table 1).
    * ``depth=18 / 34``: the ImageNet basic-block ResNets (He et al., Table 1) adapted
      to 32x32 inputs the usual way: a 3x3 stride-1 stem with 64 filters and no max-pool,
      stages [2,2,2,2] / [3,4,6,3] with 64-128-256-512 filters, projection (option B)
      shortcuts, global average pool -> 512-d (11.2M / 21.3M parameters with a 10-class
      head). Angular loss Table 1: ResNet18 for CIFAR-10, ResNet34 for CIFAR-100;
      HASeparator Sec. IV: ResNet-18 on CIFAR-10/100 and SVHN.
    * ``depth=50``: the same with bottleneck blocks (1x1, 3x3, 1x1 x4), pool -> 2048-d
      (23.5M parameters with a 10-class head). HASeparator Sec. IV puts "an additional
      dense layer with 64 units before the classification one": pass
      ``embedding_dim=64`` (the authors' code also wraps that dense layer in
      BN / dropout / BN; we keep it a plain linear ``Dense``).

    Convolutions use ``he_normal`` initialisation (He et al.) and BN, conv without bias.

    Args:
        depth: 20, 18, 34 or 50.
        input_shape: ``(H, W, C)``; 32x32 is the design size, smaller works.
        embedding_dim: if set, a linear ``Dense(embedding_dim)`` after the pooling is the
            "embedding" layer; otherwise the pooling layer is.
        shortcut: ``"A"`` (zero-padded identity) or ``"B"`` (1x1 conv + BN projection);
            default "A" for ResNet-20, "B" for the others.
        base_width: filters of the first stage (default 16 for ResNet-20, 64 otherwise);
            the stages double it. Smaller values give small, fast nets for tests.
        weight_decay: coupled L2 weight decay on the kernels (see [`keras_angular.models`][]).
        name: model name (default ``"resnet{depth}"``).

    Examples:
        >>> model = cifar_resnet(20)
        >>> model.output_shape, model.count_params() + 64 * 10 + 10   # + a 10-class head: 0.27M
        ((None, 64), 271098)
    """
    if depth not in _RESNET_SPECS:
        raise ValueError(
            f"cifar_resnet: unsupported depth {depth!r}; use one of {sorted(_RESNET_SPECS)}."
        )
    kind, blocks, widths, default_shortcut = _RESNET_SPECS[depth]
    shortcut = (shortcut or default_shortcut).upper()
    if shortcut not in ("A", "B"):
        raise ValueError(f"cifar_resnet: `shortcut` must be 'A' or 'B', got {shortcut!r}.")
    if base_width is not None:
        widths = tuple(int(base_width) * 2**i for i in range(len(widths)))
    input_shape = checked_input_shape(input_shape, 1, "cifar_resnet")
    reg = l2_regularizer(weight_decay)
    block_fn = _basic_block if kind == "basic" else _bottleneck_block

    inputs = keras.Input(shape=input_shape, name="image")
    x = _conv_bn(inputs, widths[0], 3, 1, reg, "stem")
    for stage, (n_blocks, filters) in enumerate(zip(blocks, widths, strict=True), start=1):
        for b in range(1, n_blocks + 1):
            strides = 2 if (stage > 1 and b == 1) else 1
            x = block_fn(x, filters, strides, shortcut, reg, f"stage{stage}_block{b}")
    if embedding_dim is None:
        outputs = layers.GlobalAveragePooling2D(name=EMBEDDING)(x)
    else:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        outputs = layers.Dense(embedding_dim, kernel_regularizer=reg, name=EMBEDDING)(x)
    return keras.Model(inputs, outputs, name=name or f"resnet{depth}")
