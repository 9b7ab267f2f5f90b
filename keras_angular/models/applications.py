"""Backbones from ``keras.applications`` by name, each ending in the package's embedding layer.

[`application_backbone`][keras_angular.models.application_backbone] ``(name, input_shape)``
builds, for images in the package's range (``[0, 1]``, or z-scored per channel with known
statistics):

```text
image (H, W, C)                        input "image", C = 1 or 3
Rescaling to [0, 255]                  "to_pixels" (undoes a channel z-score first)
Concatenate x3                         "gray_to_rgb", grayscale only
Resizing                               "resize", only where the image is smaller than the
                                       network's minimum (or image_size asks)
the network's ImageNet preprocessing   "preprocess" (ImageNetPreprocessing), where the
                                       network does not hold it itself
the application, include_top=False     a nested keras.Model, with global pooling
Dense(embedding_dim), linear           "embedding"
```

[`APPLICATIONS`][keras_angular.models.APPLICATIONS] lists the names (the lowercase Keras
constructor names; Keras' ``ResNet50`` is ``"keras_resnet50"``, since ``"resnet50"`` is the
package's CIFAR ResNet-50). The minimum image size is 32x32 (75x75 for ``inceptionv3`` and
``inceptionresnetv2``, 71x71 for ``xception``); smaller images are resized up to it.
"""

import contextlib
import socket
from typing import NamedTuple

import keras
import numpy as np
from keras import layers, ops

from keras_angular.models.parts import EMBEDDING, checked_input_shape
from keras_angular.models.weights import (
    BackboneWeightsError,
    checked_weights,
    is_backbone_weights_file,
    load_backbone_weights,
)

__all__ = [
    "APPLICATIONS",
    "ApplicationSpec",
    "ImageNetPreprocessing",
    "application_backbone",
]


class ApplicationSpec(NamedTuple):
    """How one ``keras.applications`` network is built and fed.

    Attributes:
        constructor: the name of its function in ``keras.applications``.
        module: its module in ``keras.applications`` (whose ``preprocess_input`` it expects).
        preprocessing: the mode of that ``preprocess_input`` (``"tf"``, ``"torch"`` or
            ``"caffe"``, see [`ImageNetPreprocessing`][keras_angular.models.ImageNetPreprocessing]),
            or None where the network holds its preprocessing itself and takes [0, 255] pixels.
        min_size: the smallest height and width it accepts.

    Examples:
        >>> spec = APPLICATIONS["mobilenetv3small"]
        >>> spec.constructor, spec.min_size
        ('MobileNetV3Small', 32)
    """

    constructor: str
    module: str
    preprocessing: str | None
    min_size: int


def _family(module, preprocessing, min_size, constructors):
    return {
        constructor.lower(): ApplicationSpec(constructor, module, preprocessing, min_size)
        for constructor in constructors
    }


APPLICATIONS = {
    **_family(
        "convnext",
        None,
        32,
        ["ConvNeXtTiny", "ConvNeXtSmall", "ConvNeXtBase", "ConvNeXtLarge", "ConvNeXtXLarge"],
    ),
    **_family("densenet", "torch", 32, ["DenseNet121", "DenseNet169", "DenseNet201"]),
    **_family("efficientnet", None, 32, [f"EfficientNetB{i}" for i in range(8)]),
    **_family(
        "efficientnet_v2",
        None,
        32,
        [f"EfficientNetV2B{i}" for i in range(4)] + [f"EfficientNetV2{s}" for s in "SML"],
    ),
    **_family("inception_resnet_v2", "tf", 75, ["InceptionResNetV2"]),
    **_family("inception_v3", "tf", 75, ["InceptionV3"]),
    **_family("mobilenet", "tf", 32, ["MobileNet"]),
    **_family("mobilenet_v2", "tf", 32, ["MobileNetV2"]),
    **_family("mobilenet_v3", None, 32, ["MobileNetV3Small", "MobileNetV3Large"]),
    **_family("nasnet", "tf", 32, ["NASNetMobile", "NASNetLarge"]),
    "keras_resnet50": ApplicationSpec("ResNet50", "resnet", "caffe", 32),
    **_family("resnet", "caffe", 32, ["ResNet101", "ResNet152"]),
    **_family("resnet_v2", "tf", 32, ["ResNet50V2", "ResNet101V2", "ResNet152V2"]),
    **_family("vgg16", "caffe", 32, ["VGG16"]),
    **_family("vgg19", "caffe", 32, ["VGG19"]),
    **_family("xception", "tf", 71, ["Xception"]),
}
"""Backbone name -> [`ApplicationSpec`][keras_angular.models.ApplicationSpec] of every
``keras.applications`` network (Keras 3.15): the lowercase constructor name, except Keras'
``ResNet50``, named ``"keras_resnet50"`` (``"resnet50"`` is the package's CIFAR ResNet-50)."""

_IMAGENET_MEAN_RGB = (0.485, 0.456, 0.406)
_IMAGENET_STD_RGB = (0.229, 0.224, 0.225)
_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
_DOWNLOAD_TIMEOUT_S = 30.0


@keras.saving.register_keras_serializable(package="keras_angular")
class ImageNetPreprocessing(layers.Layer):
    """The ``preprocess_input`` of a ``keras.applications`` family as a layer, from RGB pixels in
    [0, 255] (channels last), in the layer's compute dtype:

    - ``"tf"``: ``x / 127.5 - 1``;
    - ``"torch"``: ``(x / 255 - mean) / std`` with ImageNet's RGB mean and std;
    - ``"caffe"``: RGB -> BGR, then minus ImageNet's BGR mean pixel.

    Examples:
        >>> import numpy as np
        >>> x = np.full((1, 1, 1, 3), 255.0, "float32")
        >>> ImageNetPreprocessing("tf")(x).numpy().ravel().tolist()
        [1.0, 1.0, 1.0]
    """

    MODES = ("tf", "torch", "caffe")

    def __init__(self, mode, **kwargs):
        super().__init__(**kwargs)
        if mode not in self.MODES:
            raise ValueError(
                f"ImageNetPreprocessing: `mode` must be one of {self.MODES}, got {mode!r}."
            )
        self.mode = mode

    def call(self, inputs):
        x = ops.cast(inputs, self.compute_dtype)
        if self.mode == "tf":
            return x / 127.5 - 1.0
        if self.mode == "torch":
            mean = ops.convert_to_tensor(_IMAGENET_MEAN_RGB, self.compute_dtype)
            std = ops.convert_to_tensor(_IMAGENET_STD_RGB, self.compute_dtype)
            return (x / 255.0 - mean) / std
        bgr = ops.flip(x, axis=-1)
        return bgr - ops.convert_to_tensor(_CAFFE_MEAN_BGR, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


def _target_size(input_shape, image_size, spec, name):
    height, width, _ = input_shape
    if image_size is None:
        return max(height, spec.min_size), max(width, spec.min_size)
    size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    if len(size) != 2 or min(size) < spec.min_size:
        raise ValueError(
            f"{name}: `image_size` must be an int or (height, width) of at least "
            f"{spec.min_size}, got {image_size!r}."
        )
    return tuple(int(s) for s in size)


@contextlib.contextmanager
def _download_timeout():
    """A socket timeout while Keras downloads weights, so an unreachable host fails in seconds
    (only where the process has none set)."""
    if socket.getdefaulttimeout() is not None:
        yield
        return
    socket.setdefaulttimeout(_DOWNLOAD_TIMEOUT_S)
    try:
        yield
    finally:
        socket.setdefaulttimeout(None)


def _build_application(name, spec, shape, pooling, weights):
    """The application without its top, with ``weights`` None, "imagenet" or the path of its
    own weights file; a failed ImageNet download raises ``BackboneWeightsError``."""
    constructor = getattr(keras.applications, spec.constructor)
    arguments = dict(include_top=False, weights=weights, input_shape=shape, pooling=pooling)
    if weights != "imagenet":
        return constructor(**arguments)
    try:
        with _download_timeout():
            return constructor(**arguments)
    except (ValueError, TypeError):  # arguments Keras refuses: its own message
        raise
    except Exception as error:  # noqa: BLE001 - Keras' get_file raises a bare Exception
        raise BackboneWeightsError(
            f"could not download the ImageNet weights of {name} (no network?): {error}; put "
            "Keras' weights file in ~/.keras/models or pass a local .weights.h5 as "
            "weights=PATH (--weights PATH)."
        ) from error


def application_backbone(
    name,
    input_shape=(224, 224, 3),
    embedding_dim=512,
    *,
    weights=None,
    pooling="avg",
    image_size=None,
    input_mean=None,
    input_std=None,
):
    """The ``keras.applications`` network ``name`` as a backbone: input scaling, grayscale to
    RGB, resizing up to the network's minimum size, its ImageNet preprocessing, the network
    without its top, global pooling, then the linear layer "embedding" (docs: Backbones).

    Args:
        name: a key of [`APPLICATIONS`][keras_angular.models.APPLICATIONS]
            (``"mobilenetv3small"``, ``"efficientnetv2b0"``, ``"convnexttiny"``,
            ``"keras_resnet50"`` ...).
        input_shape: ``(H, W, C)`` of the images, C = 1 (repeated to RGB) or 3.
        embedding_dim: size of the linear embedding after the pooling (default 512).
        weights: None (random initialisation), ``"imagenet"`` (Keras' pretrained weights,
            downloaded once into ``~/.keras/models``), the path of a ``.weights.h5`` of this
            whole backbone (``save_weights`` of one built with the same arguments), or the
            path of another ``.h5``: the application's own weights file, as Keras downloads it
            (e.g. ``~/.keras/models/*_notop.h5`` copied from a machine with a network).
        pooling: ``"avg"`` or ``"max"`` global pooling of the last feature map.
        image_size: None (resize only images smaller than the network's minimum, up to that
            minimum), or an int / ``(height, width)`` every image is resized to (e.g. 224, the
            size the ImageNet weights were trained at).
        input_mean, input_std: the per-channel statistics the images were z-scored with
            ([`DatasetSplits`][keras_angular.data.DatasetSplits] ``.mean`` / ``.std`` under
            ``standardize="channel"``); the model undoes it before scaling to [0, 255].
            None: the images are in [0, 1] (``standardize=None``).

    Returns:
        A ``keras.Model`` named ``name`` whose output layer is named "embedding".

    Raises:
        ValueError: unknown ``name``, a bad shape or argument.
        BackboneWeightsError: ``weights`` cannot be had (a failed download, a missing or
            unfitting file).

    Examples:
        >>> net = application_backbone("mobilenetv3small", (28, 28, 1), embedding_dim=8)
        >>> net.name, net.output_shape, net.get_layer("resize").output.shape
        ('mobilenetv3small', (None, 8), (None, 32, 32, 3))
    """
    key = str(name).lower()
    if key not in APPLICATIONS:
        raise ValueError(
            f"Unknown keras.applications backbone {name!r}; valid names: {', '.join(APPLICATIONS)}."
        )
    spec = APPLICATIONS[key]
    input_shape = checked_input_shape(input_shape, 1, key)
    channels = input_shape[2]
    if channels not in (1, 3):
        raise ValueError(f"{key} needs images with 1 or 3 channels, got {channels}.")
    if pooling not in ("avg", "max"):
        raise ValueError(f"{key}: `pooling` must be 'avg' or 'max', got {pooling!r}.")
    weights = checked_weights(weights, key)
    whole_file = weights if weights is not None and is_backbone_weights_file(weights) else None
    size = _target_size(input_shape, image_size, spec, key)
    body = _build_application(key, spec, (*size, 3), pooling, None if whole_file else weights)

    inputs = keras.Input(shape=input_shape, name="image")
    mean = np.zeros(channels) if input_mean is None else np.broadcast_to(input_mean, channels)
    std = np.ones(channels) if input_std is None else np.broadcast_to(input_std, channels)
    x = layers.Rescaling(
        scale=[255.0 * float(s) for s in std],
        offset=[255.0 * float(m) for m in mean],
        name="to_pixels",
    )(inputs)
    if channels == 1:
        x = layers.Concatenate(name="gray_to_rgb")([x, x, x])
    if size != input_shape[:2]:
        x = layers.Resizing(*size, name="resize")(x)
    if spec.preprocessing is not None:
        x = ImageNetPreprocessing(spec.preprocessing, name="preprocess")(x)
    x = body(x)
    outputs = layers.Dense(embedding_dim, name=EMBEDDING)(x)
    net = keras.Model(inputs, outputs, name=key)
    if whole_file is not None:
        load_backbone_weights(net, whole_file)
    return net
