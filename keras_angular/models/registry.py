"""The backbones by name: [`BACKBONES`][keras_angular.models.BACKBONES] (the package's own and
the ``keras.applications`` networks), [`default_backbone`][keras_angular.models.default_backbone]
(the one rule for the backbone of a run that names none) and
[`build_backbone`][keras_angular.models.build_backbone]."""

from keras_angular.models.amc import amc_cnn, amc_mnist_cnn
from keras_angular.models.applications import APPLICATIONS, application_backbone
from keras_angular.models.resnet import cifar_resnet
from keras_angular.models.small import mlp, small_cnn
from keras_angular.models.weights import (
    BackboneWeightsError,
    checked_weights,
    is_backbone_weights_file,
    load_backbone_weights,
)
from keras_angular.models.wsoftmax import wsoftmax_cnn

__all__ = ["BACKBONES", "OWN_BACKBONES", "build_backbone", "default_backbone"]


def _resnet(depth):
    def build(input_shape, **kwargs):
        return cifar_resnet(depth, input_shape, **kwargs)

    build.__name__ = f"resnet{depth}"
    build.__doc__ = f"``cifar_resnet({depth}, input_shape, **kwargs)``."
    return build


def _application(name):
    def build(input_shape, **kwargs):
        return application_backbone(name, input_shape, **kwargs)

    build.__name__ = name
    build.__doc__ = f"``application_backbone({name!r}, input_shape, **kwargs)``."
    return build


OWN_BACKBONES = {
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
"""The package's own backbones: name -> builder ``f(input_shape, **kwargs) -> keras.Model``."""

BACKBONES = {**OWN_BACKBONES, **{name: _application(name) for name in APPLICATIONS}}
"""Backbone name -> builder ``f(input_shape, **kwargs) -> keras.Model``: the package's own
(``OWN_BACKBONES``), then the ``keras.applications`` networks
([`APPLICATIONS`][keras_angular.models.APPLICATIONS], built by
[`application_backbone`][keras_angular.models.application_backbone])."""


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


def build_backbone(name, input_shape, weights=None, **kwargs):
    """Build the backbone called ``name`` for images of ``input_shape``.

    Args:
        name: one of ``BACKBONES`` (case-insensitive): the package's own "amc_cnn",
            "amc_mnist_cnn", "resnet20", "resnet18", "resnet34", "resnet50" (CIFAR),
            "wsoftmax_cnn", "small_cnn", "mlp", or a ``keras.applications`` network of
            [`APPLICATIONS`][keras_angular.models.APPLICATIONS] ("mobilenetv3small",
            "efficientnetv2b0", "convnexttiny", "keras_resnet50" ...); ``None`` builds
            [`default_backbone`][keras_angular.models.default_backbone] ``(input_shape)``.
        input_shape: ``(H, W, C)``.
        weights: None (random initialisation), ``"imagenet"`` (``keras.applications``
            networks only) or the path of a ``.weights.h5`` of the whole backbone, as
            ``save_weights`` of one built with the same arguments writes it (a
            ``keras.applications`` network also takes the path of its own ``.h5``, see
            [`application_backbone`][keras_angular.models.application_backbone]).
        **kwargs: passed to the builder (``embedding_dim``, ``weight_decay``, ...).

    Returns:
        A ``keras.Model`` from images to the embedding; its output layer is named
        "embedding".

    Raises:
        ValueError: unknown ``name`` (the message lists the valid names).
        BackboneWeightsError: ``weights`` cannot be had (one sentence: ImageNet weights of a
            backbone that has none, a failed download, a missing or unfitting file).

    Examples:
        >>> model = build_backbone("mlp", (8, 8, 1), embedding_dim=3)
        >>> model.name, model.output_shape
        ('mlp', (None, 3))
        >>> build_backbone(None, (8, 8, 1), embedding_dim=3).name
        'mlp'
        >>> try:
        ...     build_backbone("small_cnn", (28, 28, 1), weights="imagenet")
        ... except BackboneWeightsError as error:
        ...     print(error)  # doctest: +ELLIPSIS
        backbone 'small_cnn' has no pretrained weights; ...
    """
    if name is None:
        name = default_backbone(input_shape)
    key = str(name).lower()
    if key not in BACKBONES:
        raise ValueError(f"Unknown backbone {name!r}; valid names: {', '.join(BACKBONES)}.")
    if key in APPLICATIONS:
        return BACKBONES[key](input_shape, weights=weights, **kwargs)
    weights = checked_weights(weights, key)
    if weights == "imagenet":
        raise BackboneWeightsError(
            f"backbone {key!r} has no pretrained weights; weights='imagenet' needs a "
            "keras.applications backbone (e.g. 'mobilenetv3small', 'efficientnetv2b0', "
            "'keras_resnet50'), or pass a local .weights.h5 as weights=PATH."
        )
    if weights is not None and not is_backbone_weights_file(weights):
        raise BackboneWeightsError(
            f"backbone {key!r} loads a .weights.h5 of the whole backbone (save_weights), "
            f"got {weights}."
        )
    net = BACKBONES[key](input_shape, **kwargs)
    return net if weights is None else load_backbone_weights(net, weights)
