"""Grad-CAM and Grad-CAM++ heatmaps, computed by tf-keras-vis (the one module that uses it)."""

import keras
import numpy as np
import tensorflow as tf

from keras_angular import backend
from keras_angular.checks import check_int
from keras_angular.explain.input_checks import check_class_indices, check_images
from keras_angular.explain.model_surgery import (
    FEATURE_MAP_MARKER,
    feature_map_layer,
    functional_view,
    gradcam_model,
    has_nonlinear_activation,
)

__all__ = ["METHODS", "gradcam"]

METHODS = ("gradcam", "gradcam++")
"""Grad-CAM variants of [`gradcam`][keras_angular.explain.gradcam]."""


class _PredictedClassScore:
    """tf-keras-vis score: each image's own highest class score (the predicted class)."""

    def __call__(self, output):
        return tf.reduce_max(output, axis=-1)


def gradcam(
    model,
    images,
    class_index=None,
    layer=None,
    method="gradcam",
    batch_size=64,
    progress=True,
):
    """Grad-CAM heatmaps of ``images`` for one class each, ``(B, H, W)`` in [0, 1].

    Grad-CAM (Selvaraju et al., Eq. 1-2): with ``A^k`` the feature maps of ``layer``
    and ``y^c`` the class score ([`keras_angular.explain`][]: the head's output),
    ``alpha_k = mean_{ij} d y^c / d A^k_ij`` and ``L = ReLU(sum_k alpha_k A^k)``;
    Grad-CAM++ (Chattopadhay et al., Eq. 19) weighs the positive gradients per
    location instead. Computed by tf-keras-vis' ``Gradcam`` / ``GradcamPlusPlus`` in
    inference mode, resized to the input by linear interpolation (corners aligned)
    and scaled to [0, 1] per image by its minimum and maximum (a constant map gives
    zeros).

    Args:
        model: a built classifier (see [`keras_angular.explain`][] for the outputs
            and heads it takes); also a model from [`keras_angular.saving.load_model`][].
        images: ``(B, H, W, C)`` images as the model takes them.
        class_index: None (each image's predicted class, the argmax of the scores),
            an int for every image, or B ints.
        layer: the layer to explain (None: the last spatial feature map; a name or a
            layer; see [`feature_map_layer`][keras_angular.explain.feature_map_layer]).
        method: ``"gradcam"`` or ``"gradcam++"``.
        batch_size: images per call (a few large calls; on a GPU where there is one).
        progress: show a progress bar (``keras.utils.Progbar``).

    Returns:
        float32 array ``(B, H, W)`` in [0, 1].

    Examples:
        >>> import keras, numpy as np
        >>> inputs = keras.Input((8, 8, 3))
        >>> x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
        >>> x = keras.layers.GlobalAveragePooling2D()(x)
        >>> model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x))
        >>> maps = gradcam(model, np.ones((3, 8, 8, 3), "float32"), class_index=1,
        ...                method="gradcam++", progress=False)
        >>> maps.shape, bool(maps.min() >= 0 and maps.max() <= 1)
        ((3, 8, 8), True)
    """
    backend.require_tensorflow("Grad-CAM (tf-keras-vis)")
    from tf_keras_vis.gradcam import Gradcam
    from tf_keras_vis.gradcam_plus_plus import GradcamPlusPlus
    from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
    from tf_keras_vis.utils.scores import CategoricalScore

    if method not in METHODS:
        raise ValueError(f"gradcam: `method` must be one of {METHODS}, got {method!r}.")
    batch_size = check_int("gradcam", "batch_size", batch_size, 1)
    images = check_images("gradcam", images, functional_view(model))
    target = feature_map_layer(model, layer)
    vis_model = gradcam_model(model, target)
    num_classes = vis_model.outputs[0].shape[-1]
    indices = check_class_indices("gradcam", class_index, len(images), num_classes)
    modifier = ReplaceToLinear() if has_nonlinear_activation(vis_model) else None
    visualizer = (Gradcam if method == "gradcam" else GradcamPlusPlus)(
        vis_model, model_modifier=modifier, clone=True
    )
    bar = keras.utils.Progbar(len(images), unit_name="image") if progress else None
    maps = []
    for start in range(0, len(images), batch_size):
        chunk = images[start : start + batch_size]
        if indices is None:
            score = _PredictedClassScore()
        else:
            score = CategoricalScore(indices[start : start + batch_size].tolist())
        cam = visualizer(
            score,
            chunk,
            penultimate_layer=FEATURE_MAP_MARKER,
            seek_penultimate_conv_layer=False,
            normalize_cam=False,
        )
        maps.append(_unit_range(np.asarray(cam, dtype=np.float64).reshape(chunk.shape[:3])))
        if bar is not None:
            bar.add(len(chunk))
    return np.concatenate(maps)


def _unit_range(maps):
    """Each map scaled to [0, 1] by its min and max; a constant map becomes zeros.

    (tf-keras-vis' own scaling adds 1e-7 to the range, which shrinks the maps of an
    untrained model, whose range is small, by a visible fraction.)
    """
    low = maps.min(axis=(1, 2), keepdims=True)
    span = maps.max(axis=(1, 2), keepdims=True) - low
    scaled = np.where(span > 0, (maps - low) / np.where(span > 0, span, 1.0), 0.0)
    return np.clip(scaled, 0.0, 1.0).astype(np.float32)
