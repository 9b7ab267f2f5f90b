"""Where a backbone's starting weights come from, and which of its layers hold the body that
pretrained training freezes first.

``build_backbone(name, input_shape, weights=...)`` takes ``None`` (random initialisation),
``"imagenet"`` (Keras' pretrained weights, for the ``keras.applications`` backbones only) or
the path of a weights file; this module checks that argument, loads a ``.weights.h5`` of a whole
backbone and names what failed in one sentence
([`BackboneWeightsError`][keras_angular.models.BackboneWeightsError]).
"""

import os
import warnings

from keras_angular.models.parts import EMBEDDING

__all__ = [
    "BackboneWeightsError",
    "checked_weights",
    "feature_extractor_layers",
    "is_backbone_weights_file",
    "load_backbone_weights",
]

BACKBONE_WEIGHTS_SUFFIX = ".weights.h5"
"""The suffix of the file ``keras.Model.save_weights`` writes (a whole backbone's weights)."""


class BackboneWeightsError(ValueError):
    """A backbone's ``weights`` cannot be had: no pretrained weights for that backbone, the
    ImageNet download failed (no network), or the file is missing or does not fit. The
    message is one sentence; ``keras-angular`` prints it and exits with status 2.

    Examples:
        >>> issubclass(BackboneWeightsError, ValueError)
        True
    """


def is_backbone_weights_file(path):
    """Whether ``path`` names a ``.weights.h5`` file: the weights of a whole backbone, as
    ``keras.Model.save_weights`` writes them (any other ``.h5`` is taken for a
    ``keras.applications`` network's own weights file).

    Examples:
        >>> is_backbone_weights_file("runs/net.weights.h5"), is_backbone_weights_file("x.h5")
        (True, False)
    """
    return str(path).endswith(BACKBONE_WEIGHTS_SUFFIX)


def checked_weights(weights, backbone):
    """``weights`` as ``None``, ``"imagenet"`` or the path (a ``str``) of an existing ``.h5``
    file, or [`BackboneWeightsError`][keras_angular.models.BackboneWeightsError] naming
    ``backbone``.

    Examples:
        >>> checked_weights(None, "mlp") is None, checked_weights("ImageNet", "mobilenetv2")
        (True, 'imagenet')
        >>> try:
        ...     checked_weights("missing.weights.h5", "mlp")
        ... except BackboneWeightsError as error:
        ...     print(error)
        backbone 'mlp': no weights file at missing.weights.h5.
    """
    if weights is None:
        return None
    if not isinstance(weights, (str, os.PathLike)):
        raise BackboneWeightsError(
            f"backbone {backbone!r}: `weights` must be None, 'imagenet' or the path of a "
            f".h5 file, got {weights!r}."
        )
    weights = os.fspath(weights)
    if weights.lower() == "imagenet":
        return "imagenet"
    if not weights.endswith(".h5"):
        raise BackboneWeightsError(
            f"backbone {backbone!r}: `weights` must be None, 'imagenet' or the path of a "
            f".h5 file (a {BACKBONE_WEIGHTS_SUFFIX} of the whole backbone), got {weights!r}."
        )
    if not os.path.isfile(weights):
        raise BackboneWeightsError(f"backbone {backbone!r}: no weights file at {weights}.")
    return weights


def load_backbone_weights(net, path):
    """Load the ``.weights.h5`` at ``path`` (written by ``save_weights`` of a backbone built
    the same way) into ``net``; returns ``net``. A file that does not fit raises
    [`BackboneWeightsError`][keras_angular.models.BackboneWeightsError] with Keras' reason.

    Examples:
        >>> import os, tempfile
        >>> from keras_angular.models import mlp
        >>> path = os.path.join(tempfile.mkdtemp(), "mlp.weights.h5")
        >>> mlp(embedding_dim=4).save_weights(path)
        >>> load_backbone_weights(mlp(embedding_dim=4), path).name
        'mlp'
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            net.load_weights(path)
        except (ValueError, KeyError, OSError) as error:
            # Keras warns once per layer it skipped; the one error below says it all
            raise BackboneWeightsError(
                f"could not load {path} into backbone {net.name!r} (was it saved from a "
                f"backbone built with the same name, input shape and embedding_dim?): "
                f"{_first_lines(error)}"
            ) from error
    for warning in caught:
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    return net


def _first_lines(error):
    """Keras' reason in one line: its first line, and the next one where that ends in ':'."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    return " ".join(lines[:2]) if lines[0].endswith(":") and len(lines) > 1 else lines[0]


def feature_extractor_layers(net):
    """The layers of backbone ``net`` that hold its body: what training freezes while it
    trains the head first (``--freeze-backbone-epochs``).

    These are ``net``'s top-level layers with variables other than the embedding layer: for a
    ``keras.applications`` backbone, the application itself (one nested model; the input
    scaling and resizing before it have no variables); for the package's own backbones,
    every layer with weights before the embedding. Freeze them with ``layer.trainable =
    False`` (and compile again); the answer does not change when they are frozen, so the same
    list unfreezes them.

    Args:
        net: a backbone of [`build_backbone`][keras_angular.models.build_backbone] (its output
            layer is named "embedding").

    Returns:
        A list of layers of ``net``.

    Raises:
        ValueError: ``net`` has no layer named "embedding".

    Examples:
        >>> from keras_angular.models import mlp
        >>> [layer.name for layer in feature_extractor_layers(mlp(embedding_dim=4))]
        ['hidden']
    """
    if EMBEDDING not in [layer.name for layer in net.layers]:
        raise ValueError(
            f"feature_extractor_layers: model {net.name!r} has no layer named {EMBEDDING!r}; "
            "pass a backbone of build_backbone."
        )
    return [layer for layer in net.layers if layer.name != EMBEDDING and layer.weights]
