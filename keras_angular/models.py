"""The papers' backbones, each a ``keras.Model`` from images to the penultimate embedding.

Every builder returns a model **without** a classification head: its output layer is
named ``"embedding"`` and the caller attaches the head (named ``"head"``), e.g.::

    import keras
    from keras_angular.models import build_backbone
    from keras_angular.layers import CosineDense

    backbone = build_backbone("resnet20", (32, 32, 3))
    logits = CosineDense(10, name="head")(backbone.output)
    model = keras.Model(backbone.input, logits)

Backbones (``BACKBONES``; name -> architecture, source, embedding size):

- ``amc_cnn``: AMC-Loss Table 2 (top), CIFAR-10/100 and SVHN; 128-d.
- ``amc_mnist_cnn``: AMC-Loss Table 2 (bottom), the MNIST net of Figs. 1 and 4; 2- or 3-d.
- ``resnet20``: He et al. (2016) CIFAR ResNet, 16-32-64 filters; 64-d. Angular loss
  Table 1 (Fashion-MNIST).
- ``resnet18`` / ``resnet34``: basic-block ResNets adapted to 32x32; 512-d. Angular loss
  Table 1 (CIFAR-10 / CIFAR-100); HASeparator Sec. IV (ResNet-18).
- ``resnet50``: bottleneck ResNet adapted to 32x32; 2048-d, or 64-d with the extra dense
  layer of HASeparator Sec. IV (``embedding_dim=64``).
- ``wsoftmax_cnn``: Liu et al. (2016, L-Softmax) Table 1 nets with PReLU + BN, as
  W-Softmax Sec. 5.1 uses them; 256-d (MNIST, CIFAR-10) or 512-d (CIFAR-100).
- ``mlp``: Flatten -> Dense 128 ReLU -> Dense, for tiny inputs (8x8 digits); 32-d.

Measured parameter counts with a 10-class ``Dense`` head (trainable): ResNet-20 269,722
(He et al. Table 6: 0.27M), ResNet-18 11,173,962, ResNet-34 21,282,122, ResNet-50
23,520,842 (the usual CIFAR adaptations: 11.2M / 21.3M / 23.5M).

All convolution / dense kernels accept ``weight_decay``: an L2 penalty
``weight_decay / 2 * ||w||^2`` per kernel, whose gradient ``weight_decay * w`` is the
classic (coupled) weight decay of the papers' SGD / Adam runs (Angular loss Table 1:
5e-4; HASeparator Sec. IV-A: 1e-4). Keras optimizers' own ``weight_decay=`` argument
is the decoupled (AdamW) kind, which is not what the papers used.
"""

import keras
from keras import layers, ops

__all__ = [
    "BACKBONES",
    "BN_MOMENTUM",
    "OptionAShortcut",
    "amc_cnn",
    "amc_mnist_cnn",
    "build_backbone",
    "cifar_resnet",
    "default_backbone",
    "mlp",
    "small_cnn",
    "wsoftmax_cnn",
]

EMBEDDING = "embedding"

BN_MOMENTUM = 0.9
"""Momentum of every batch norm in these backbones (PyTorch's default, ``momentum=0.1``
in its convention). The papers leave it open; Keras' default 0.99 keeps 0.99^t of the
initial statistics after t steps, so in runs of a few hundred steps inference reads
statistics far from the weights' (measured: the AMC MNIST CNN on 6,000 Fashion-MNIST
images, 22 % test accuracy after four epochs where training reached 64 %; 62 % at 0.9).
``train`` / ``compare`` go further and recompute the population statistics before every
evaluation (:class:`keras_angular.callbacks.PreciseBatchNorm`)."""


def _batch_norm(name):
    return layers.BatchNormalization(momentum=BN_MOMENTUM, name=name)


def _regularizer(weight_decay):
    if weight_decay is None or weight_decay == 0:
        return None
    if weight_decay < 0:
        raise ValueError(f"`weight_decay` must be >= 0, got {weight_decay}.")
    return keras.regularizers.L2(weight_decay / 2.0)


def _check_input_shape(input_shape, min_size, who):
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


# --------------------------------------------------------------------------- AMC-Loss

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
        x = _batch_norm(f"{name}_bn")(x)
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
    the authors' ``tf.contrib`` ``conv2d(normalizer_fn=batch_norm, activation_fn=lrelu)``)::

        GaussianNoise(0.15)                               (training only)
        3x3 conv 128, lReLU(0.1), same      x3
        2x2 max-pool, dropout 0.5
        3x3 conv 256, lReLU(0.1), same      x3
        2x2 max-pool, dropout 0.5
        3x3 conv 512, lReLU(0.1), valid                   (32x32 input -> 6x6)
        1x1 conv 256, lReLU(0.1)
        1x1 conv 128, lReLU(0.1)            <- ``embedding_dim`` filters
        global average pool 6x6 -> 1x1      <- layer "embedding" (128-d deep feature)

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
        weight_decay: coupled L2 weight decay on the kernels (see the module docstring).
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
    input_shape = _check_input_shape(input_shape, 12, "amc_cnn")
    f1, f2, f3, one_by_ones = _AMC_VARIANTS[variant]
    reg = _regularizer(weight_decay)
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
    on the unit sphere)::

        GaussianNoise(0.15)                               (training only)
        3x3 conv 64, lReLU(0.1), same
        2x2 max-pool, dropout 0.5
        3x3 conv 64, lReLU(0.1), same
        2x2 max-pool, dropout 0.5
        3x3 conv 128, lReLU(0.1), valid                   (28x28 input -> 5x5)
        1x1 conv 64, lReLU(0.1), same
        1x1 conv ``embedding_dim``, linear   (added, see below)
        global average pool 5x5 -> 1x1       <- layer "embedding"

    Table 2 lists ``1x1 conv 64`` as the last convolution but then ``Fully connected
    3 -> 10``, and its caption says the global-average-pool output is 2-d (Fig. 1) or
    3-d (Fig. 4). To keep every listed layer *and* give the pooled feature
    ``embedding_dim`` entries, a linear 1x1 convolution with ``embedding_dim`` filters
    is added before the pooling (the same as a linear projection of the pooled 64-d
    vector; being linear, it lets the low-dimensional feature cover the whole sphere,
    which a leaky-ReLU output would fold into the positive orthant).

    Args: as :func:`amc_cnn` (``input_shape`` at least 12x12).

    Examples:
        >>> model = amc_mnist_cnn((28, 28, 1), embedding_dim=3)
        >>> model.output_shape, model.get_layer("embedding").name
        ((None, 3), 'embedding')
    """
    input_shape = _check_input_shape(input_shape, 12, "amc_mnist_cnn")
    reg = _regularizer(weight_decay)
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


# --------------------------------------------------------------------------- ResNets


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
    x = _batch_norm(f"{name}_bn")(x)
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
        weight_decay: coupled L2 weight decay on the kernels (see the module docstring).
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
    input_shape = _check_input_shape(input_shape, 1, "cifar_resnet")
    reg = _regularizer(weight_decay)
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


# --------------------------------------------------------------------------- W-Softmax

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
    return _batch_norm(f"{name}_bn")(x)


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
    with n filters, stride 1, padding 1)::

        layer        mnist          cifar10        cifar100
        Conv0.x      [3x3, 64]x1    [3x3, 64]x1    [3x3, 96]x1
        Conv1.x      [3x3, 64]x3    [3x3, 64]x4    [3x3, 96]x4
        Pool1        2x2 max, stride 2
        Conv2.x      [3x3, 64]x3    [3x3, 96]x4    [3x3, 192]x4
        Pool2        2x2 max, stride 2
        Conv3.x      [3x3, 64]x3    [3x3, 128]x4   [3x3, 384]x4
        Pool3        2x2 max, stride 2
        FC           256            256            512

    Each convolution is ``Conv2D -> PReLU (one slope per channel) -> BatchNorm``; the
    pooled map is flattened and the FC layer (``Dense(M) -> PReLU -> BatchNorm``, the
    last BN named "embedding") gives the M-d feature x that W-Softmax's classifier
    ``W (M x C)`` reads. W-Softmax Sec. 3 / 5.2: M >= C - 1 units suffice (M_min = 9 for
    MNIST / CIFAR-10, 99 for CIFAR-100); ``embedding_dim`` sets M.

    Sources and choices: the table is Liu et al.'s paper (not among ``shared/papers``);
    its MNIST column agrees with a third-party PyTorch port of L-Softmax. Liu et al.'s
    released Caffe CIFAR-10 prototxt differs from their own table (64 / 128 / 256
    filters, FC 512, conv -> BN -> ReLU); we follow the table, with the activation and
    BN order W-Softmax states. "same" padding everywhere (the table's padding 1).

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
    input_shape = _check_input_shape(input_shape, 8, "wsoftmax_cnn")
    if variant is None:
        variant = "mnist" if input_shape[-1] == 1 else "cifar10"
    if variant not in _LSOFTMAX_VARIANTS:
        raise ValueError(
            f"wsoftmax_cnn: unknown variant {variant!r}; use one of {sorted(_LSOFTMAX_VARIANTS)}."
        )
    conv0, stages, fc_units = _LSOFTMAX_VARIANTS[variant]
    embedding_dim = fc_units if embedding_dim is None else embedding_dim
    reg = _regularizer(weight_decay)

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
    outputs = _batch_norm(EMBEDDING)(x)
    return keras.Model(inputs, outputs, name=name)


# --------------------------------------------------------------------------- default CNN


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
    CPU run at any image size, so a first comparison of losses reads something real::

        stage 1:  3x3 conv 32, BN, ReLU, same
                  2x2 max-pool            (each pool skipped below 4x4, so any size works)
        stage 2:  3x3 conv 64, BN, ReLU, same     x2
                  2x2 max-pool
        stage 3:  3x3 conv 128, BN, ReLU, same    x2
        global average pool
        Dense(embedding_dim), linear              <- layer "embedding"

    The linear embedding lets the angular heads use the whole sphere (a ReLU output
    would confine the features to the positive orthant). Its batch norms are meant to
    be trained with :class:`keras_angular.callbacks.PreciseBatchNorm` (``train`` and
    ``compare`` add it), which gives inference the population statistics of the current
    weights.

    Args:
        input_shape: ``(H, W, C)``, any size of at least 1x1.
        embedding_dim: size of the embedding (default 128).
        widths: filters of each stage; one pooling between consecutive stages.
        convs: convolutions in each stage (as many entries as ``widths``).
        batch_norm: BN after every convolution.
        weight_decay: coupled L2 weight decay on the kernels (see the module docstring).
        name: model name.

    Examples:
        >>> model = small_cnn((28, 28, 1), embedding_dim=64)
        >>> model.output_shape
        (None, 64)
    """
    input_shape = _check_input_shape(input_shape, 1, "small_cnn")
    reg = _regularizer(weight_decay)
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
                x = _batch_norm(f"conv{stage}_{i}_bn")(x)
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
    reg = _regularizer(weight_decay)
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = layers.Flatten(name="flatten")(inputs)
    x = layers.Dense(hidden_units, activation="relu", kernel_regularizer=reg, name="hidden")(x)
    outputs = layers.Dense(embedding_dim, kernel_regularizer=reg, name=EMBEDDING)(x)
    return keras.Model(inputs, outputs, name=name)


# --------------------------------------------------------------------------- registry


def _resnet(depth):
    def build(input_shape, **kwargs):
        return cifar_resnet(depth, input_shape, **kwargs)

    build.__name__ = f"resnet{depth}"
    build.__doc__ = f"``cifar_resnet({depth}, input_shape, **kwargs)``."
    return build


BACKBONES = {
    "amc_cnn": amc_cnn,
    "amc_mnist_cnn": amc_mnist_cnn,
    "resnet20": _resnet(20),
    "resnet18": _resnet(18),
    "resnet34": _resnet(34),
    "resnet50": _resnet(50),
    "wsoftmax_cnn": wsoftmax_cnn,
    "small_cnn": small_cnn,
    "mlp": mlp,
}
"""Backbone name -> builder ``f(input_shape, **kwargs) -> keras.Model``."""


def default_backbone(input_shape):
    """The backbone used when none is named: ``mlp`` for tiny images (16x16 or less, e.g.
    the 8x8 digits), :func:`keras_angular.models.small_cnn` (128-d embedding) for larger
    images of any size.

    Examples:
        >>> [default_backbone(shape) for shape in [(8, 8, 1), (16, 16, 3), (28, 28, 1)]]
        ['mlp', 'mlp', 'small_cnn']
    """
    height, width, _ = input_shape
    return "mlp" if max(height, width) <= 16 else "small_cnn"


def build_backbone(name, input_shape, **kwargs):
    """Build the backbone called ``name`` for images of ``input_shape``.

    Args:
        name: one of ``BACKBONES``: "amc_cnn", "amc_mnist_cnn", "resnet20", "resnet18",
            "resnet34", "resnet50", "wsoftmax_cnn", "small_cnn", "mlp"; ``None`` builds
            :func:`default_backbone` ``(input_shape)``.
        input_shape: ``(H, W, C)``.
        **kwargs: passed to the builder (``embedding_dim``, ``weight_decay``, ...).

    Returns:
        A ``keras.Model`` from images to the embedding; its output layer is named
        "embedding".

    Raises:
        ValueError: unknown ``name`` (the message lists the valid names).

    Examples:
        >>> model = build_backbone("mlp", (8, 8, 1), embedding_dim=3)
        >>> model.name, model.output_shape
        ('mlp', (None, 3))
        >>> build_backbone(None, (8, 8, 1), embedding_dim=3).name
        'mlp'
    """
    if name is None:
        name = default_backbone(input_shape)
    key = str(name).lower()
    if key not in BACKBONES:
        raise ValueError(f"Unknown backbone {name!r}; valid names: {', '.join(BACKBONES)}.")
    return BACKBONES[key](input_shape, **kwargs)
