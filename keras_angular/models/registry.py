"""The backbones by name: [`BACKBONES`][keras_angular.models.BACKBONES],
[`default_backbone`][keras_angular.models.default_backbone] (the one rule for the backbone of a run
that names none) and [`build_backbone`][keras_angular.models.build_backbone]."""

from keras_angular.models.amc import amc_cnn, amc_mnist_cnn
from keras_angular.models.resnet import cifar_resnet
from keras_angular.models.small import mlp, small_cnn
from keras_angular.models.wsoftmax import wsoftmax_cnn

__all__ = ["BACKBONES", "build_backbone", "default_backbone"]


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
    the 8x8 digits), [`keras_angular.models.small_cnn`][] (128-d embedding) for larger
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
            [`default_backbone`][keras_angular.models.default_backbone] ``(input_shape)``.
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
