"""Grad-CAM maps, overlays, comparison grids and faithfulness scores.

The one module that uses ``tf-keras-vis`` (replacing that dependency is one file), so
the one that needs the TensorFlow backend (:func:`gradcam` says so on another):

* :func:`gradcam` - Grad-CAM (Selvaraju et al., ICCV 2017, Eq. 1-2) or Grad-CAM++
  (Chattopadhay et al., WACV 2018) heatmaps, ``(B, H, W)`` in [0, 1] at the input
  size, batched, with a progress bar; any Keras classifier whose class scores are its
  single output or the ``"logits"`` entry of a dict output (the registry's
  ``{"logits", "embedding"}`` models), with a :class:`~keras_angular.layers.CosineDense`,
  :class:`~keras_angular.layers.WeightsBiasedDense` or ``Dense`` head, built in memory
  or loaded from a ``.keras`` file; nested backbones (a ``keras.Model`` used as a layer)
  are searched too;
* :func:`class_scores` / :func:`class_probabilities` - the head's output and the
  softmax of the logits the model was trained with;
* :func:`overlay` and :func:`save_grid` - heatmaps over images (jet colour map) and
  the AMC-Loss paper's Fig. 2 / Fig. 6 layout: one row per image, the image, then for
  each model its map and its overlay, titled with the predicted class and its score;
* :func:`deletion_auc` / :func:`insertion_auc` - the causal faithfulness metrics of
  Petsiuk et al. (RISE, BMVC 2018, Sec. 4.1), batched and seeded, with
  :func:`random_heatmaps` as the baseline a map must beat;
* :func:`pointing_game` / :func:`mass_in_mask` - localisation against known masks;
* :func:`explain_report` - all of it for several models on the same images (what
  ``keras-angular explain`` writes).

**The class score.** Grad-CAM differentiates a class score ``y^c`` (Selvaraju et al.
use the pre-softmax score). Here ``y^c`` is the head's output for class ``c``:

* a ``Dense`` head: its logit ``w_c . x + b_c`` (a softmax activation on the head is
  replaced by the identity, tf-keras-vis' ``ReplaceToLinear``, on a copy);
* a :class:`~keras_angular.layers.CosineDense` head: ``cos(theta_c)``. The training
  logit of every cosine loss at inference is ``s * cos(theta_c)`` (NormFace, CosFace,
  ArcFace, HASeparator: margins exist only in training, where the label is known), a
  positive multiple of the cosine, so it has the same gradient direction and, after
  Grad-CAM's per-map normalisation, exactly the same map; for the Angular "Arc" loss
  the logit ``s (pi - theta_c)`` is monotone in ``cos(theta_c)`` too. The softmax
  probability would be the wrong score: ``d p_c = s p_c [(1 - p_c) d cos_c -
  sum_{j != c} p_j d cos_j]`` mixes in the other classes' cosines (the map then
  shows what separates c from its rivals, not what makes c), and with the large
  scales of these losses (``s = 64``) ``p_c`` saturates at 1 and the gradient
  vanishes;
* a :class:`~keras_angular.layers.WeightsBiasedDense` head: ``||x|| cos(theta_c)``,
  W-Softmax's logit itself.

**The layer.** By default the last layer with a spatial output ``(B, h, w, k)``
(searched from the output back, into nested models): the last convolution block's
feature maps after its batch norm and activation, the rectified maps ``A^k`` that
Grad-CAM weighs. Pass ``layer=`` (a name or a layer) for another one.

Examples:
    >>> import keras, numpy as np
    >>> from keras_angular import explain
    >>> from keras_angular.layers import CosineDense
    >>> inputs = keras.Input((16, 16, 1))
    >>> x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    >>> x = keras.layers.GlobalAveragePooling2D()(x)
    >>> model = keras.Model(inputs, CosineDense(3, name="head")(x))
    >>> images = np.random.default_rng(0).random((2, 16, 16, 1), dtype="float32")
    >>> explain.gradcam(model, images, progress=False).shape
    (2, 16, 16)
"""

import math
import numbers

import keras
import numpy as np
import tensorflow as tf

from keras_angular import backend
from keras_angular.checks import check_int, check_positive, check_range

__all__ = [
    "CANVASES",
    "METHODS",
    "class_probabilities",
    "class_scores",
    "deletion_auc",
    "explain_report",
    "feature_map_layer",
    "gradcam",
    "insertion_auc",
    "mass_in_mask",
    "overlay",
    "perturbation_curves",
    "pointing_game",
    "random_heatmaps",
    "save_grid",
    "score_model",
]

#: Grad-CAM variants of :func:`gradcam`.
METHODS = ("gradcam", "gradcam++")

#: Canvases of :func:`deletion_auc` / :func:`insertion_auc`.
CANVASES = ("blur", "grey")

_MARKER = "keras_angular_gradcam_feature_map"


# --------------------------------------------------------------------------- checks


def _images(owner, images, model=None):
    """``images`` as float32 (B, H, W, C), checked against ``model``'s input shape."""
    try:
        array = np.asarray(images, dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{owner}: `images` must be a numeric array, got {error}.") from None
    if array.ndim != 4:
        raise ValueError(
            f"{owner}: `images` must have shape (batch, height, width, channels), "
            f"got shape {array.shape}."
        )
    if array.shape[0] == 0:
        raise ValueError(f"{owner}: `images` is empty.")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{owner}: `images` holds NaN or infinite values.")
    if model is not None:
        expected = tuple(model.inputs[0].shape[1:]) if len(model.inputs) == 1 else None
        if expected is None:
            raise ValueError(f"{owner}: the model must have one image input.")
        if any(e is not None and e != a for e, a in zip(expected, array.shape[1:], strict=True)):
            raise ValueError(
                f"{owner}: `images` have shape {array.shape[1:]} but the model takes {expected}."
            )
    return array


def _heatmaps(owner, heatmaps, images=None):
    """``heatmaps`` as float32 (B, H, W), finite, matching ``images``' batch and size."""
    array = np.asarray(heatmaps, dtype=np.float32)
    if array.ndim != 3:
        raise ValueError(
            f"{owner}: `heatmaps` must have shape (batch, height, width), got {array.shape}."
        )
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{owner}: `heatmaps` holds NaN or infinite values.")
    if images is not None and array.shape != images.shape[:3]:
        raise ValueError(
            f"{owner}: `heatmaps` have shape {array.shape} but the images "
            f"{images.shape[:3]} (batch, height, width)."
        )
    return array


def _class_indices(owner, class_index, batch, num_classes):
    """(B,) int class indices from an int or a length-B array; None stays None."""
    if class_index is None:
        return None
    if isinstance(class_index, numbers.Integral) and not isinstance(class_index, bool):
        indices = np.full((batch,), int(class_index))
    else:
        raw = np.asarray(class_index)
        if raw.ndim != 1 or raw.shape[0] != batch:
            raise ValueError(
                f"{owner}: `class_index` must be an int or {batch} integers (one per image), "
                f"got shape {raw.shape}."
            )
        if not (np.issubdtype(raw.dtype, np.integer) or np.all(np.mod(raw, 1) == 0)):
            raise ValueError(f"{owner}: `class_index` must hold integers, got {raw[:8]}.")
        indices = raw.astype(np.int64)
    if np.any(indices < 0) or np.any(indices >= num_classes):
        raise ValueError(
            f"{owner}: every `class_index` must lie in [0, {num_classes}), got "
            f"{np.unique(indices[(indices < 0) | (indices >= num_classes)])[:8].tolist()}."
        )
    return indices


# --------------------------------------------------------------------------- models


def _functional(model):
    """A Functional view of ``model`` (a built Sequential becomes one with the same layers)."""
    if isinstance(model, keras.Sequential):
        return keras.Model(model.inputs, model.outputs, name=model.name)
    return model


def _score_tensor(model, owner):
    """The class-score output of ``model``: its only output or its ``"logits"`` entry."""
    try:
        output = model.output
    except (AttributeError, ValueError) as error:
        raise ValueError(
            f"{owner}: the model must be a built Functional or Sequential model ({error})."
        ) from None
    if isinstance(output, dict):
        if "logits" not in output:
            raise ValueError(
                f"{owner}: the model's outputs {sorted(output)} have no 'logits' entry; "
                "the class scores must be the only output or the one named 'logits'."
            )
        output = output["logits"]
    elif isinstance(output, (list, tuple)):
        if len(output) != 1:
            raise ValueError(
                f"{owner}: the model has {len(output)} outputs; the class scores must be "
                "the only output or the 'logits' entry of a dict output."
            )
        output = output[0]
    if len(output.shape) != 2:
        raise ValueError(
            f"{owner}: the class scores must have shape (batch, classes), got {output.shape}."
        )
    return output


def score_model(model):
    """A ``keras.Model`` from ``model``'s inputs to its class scores (the head's output).

    Its only output, or the ``"logits"`` entry of a dict output (the registry's
    ``{"logits", "embedding"}`` models). Shares ``model``'s layers and weights.

    Examples:
        >>> import keras
        >>> inputs = keras.Input((4,))
        >>> logits = keras.layers.Dense(3, name="head")(inputs)
        >>> model = keras.Model(inputs, {"logits": logits, "embedding": inputs})
        >>> score_model(model).output.shape
        (None, 3)
    """
    model = _functional(model)
    output = _score_tensor(model, "score_model")
    if not isinstance(model.output, dict) and model.output is output:
        return model
    return keras.Model(model.inputs, output, name=f"{model.name}_scores")


def _layers_walk(model):
    """Every layer of ``model``, nested models included, from the output back."""
    for layer in reversed(model.layers):
        yield layer
        if isinstance(layer, keras.Model):
            yield from _layers_walk(layer)


def _output_rank(layer):
    try:
        return len(layer.output.shape)
    except (AttributeError, ValueError):  # no or several call sites
        return None


def feature_map_layer(model, layer=None):
    """The layer whose output Grad-CAM weighs (see the module docstring).

    Args:
        model: a built Keras model.
        layer: None (the last layer with a (B, h, w, k) output, nested models
            searched), a layer name, or a layer of ``model``.

    Returns:
        The layer.

    Examples:
        >>> import keras
        >>> inputs = keras.Input((8, 8, 1))
        >>> x = keras.layers.Conv2D(2, 3, name="conv")(inputs)
        >>> x = keras.layers.ReLU(name="relu")(x)
        >>> x = keras.layers.GlobalAveragePooling2D()(x)
        >>> feature_map_layer(keras.Model(inputs, keras.layers.Dense(2)(x))).name
        'relu'
    """
    model = _functional(model)
    candidates = [lay for lay in _layers_walk(model) if not isinstance(lay, keras.Model)]
    if layer is None:
        for candidate in candidates:
            if not isinstance(candidate, keras.layers.InputLayer) and _output_rank(candidate) == 4:
                return candidate
        raise ValueError(
            f"gradcam: model {model.name!r} has no layer with a spatial (batch, height, "
            "width, channels) output to explain; Grad-CAM needs a convolutional model."
        )
    if isinstance(layer, str):
        found = [lay for lay in candidates if lay.name == layer]
        if not found:
            raise ValueError(f"gradcam: no layer named {layer!r} in model {model.name!r}.")
        layer = found[0]
    elif not any(lay is layer for lay in candidates):
        raise ValueError(
            f"gradcam: `layer` must be None, a layer name or a layer of the model, got {layer!r}."
        )
    if _output_rank(layer) != 4:
        raise ValueError(
            f"gradcam: layer {layer.name!r} must have a spatial (batch, height, width, channels) "
            f"output, got rank {_output_rank(layer)}."
        )
    return layer


def _contains(model, target):
    return any(lay is target for lay in _layers_walk(model))


def _gradcam_model(model, target):
    """``model``'s class scores with an identity layer named ``_MARKER`` after ``target``.

    The graph is rebuilt with the same layers (shared weights); nested models that hold
    ``target`` are inlined, so the marked feature map and the scores are tensors of one
    graph from the model's inputs, as tf-keras-vis needs.
    """
    marker = keras.layers.Identity(name=_MARKER)

    def call_function(layer, *args, **kwargs):
        if layer is target:
            return marker(layer(*args, **kwargs))
        if isinstance(layer, keras.Model) and _contains(layer, target):
            inner = keras.models.clone_model(
                _functional(layer),
                input_tensors=args[0],
                clone_function=lambda lay: lay,
                call_function=call_function,
            )
            return inner.output
        return layer(*args, **kwargs)

    clone = keras.models.clone_model(
        _functional(model), clone_function=lambda lay: lay, call_function=call_function
    )
    scores = _score_tensor(clone, "gradcam")
    return keras.Model(clone.inputs, scores, name=f"{model.name}_gradcam")


def _has_nonlinear_activation(vis_model):
    producer = vis_model.outputs[0]._keras_history.operation
    activation = getattr(producer, "activation", None)
    return activation is not None and activation is not keras.activations.linear


class _PredictedClassScore:
    """tf-keras-vis score: each image's own highest class score (the predicted class)."""

    def __call__(self, output):
        return tf.reduce_max(output, axis=-1)


# --------------------------------------------------------------------------- Grad-CAM


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
    and ``y^c`` the class score (module docstring: the head's output),
    ``alpha_k = mean_{ij} d y^c / d A^k_ij`` and ``L = ReLU(sum_k alpha_k A^k)``;
    Grad-CAM++ (Chattopadhay et al., Eq. 19) weighs the positive gradients per
    location instead. Computed by tf-keras-vis' ``Gradcam`` / ``GradcamPlusPlus`` in
    inference mode, resized to the input by linear interpolation (corners aligned)
    and scaled to [0, 1] per image by its minimum and maximum (a constant map gives
    zeros).

    Args:
        model: a built classifier (see the module docstring for the outputs and
            heads it takes); also a model from :func:`keras_angular.saving.load_model`.
        images: ``(B, H, W, C)`` images as the model takes them.
        class_index: None (each image's predicted class, the argmax of the scores),
            an int for every image, or B ints.
        layer: the layer to explain (None: the last spatial feature map; a name or a
            layer; see :func:`feature_map_layer`).
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
    images = _images("gradcam", images, _functional(model))
    target = feature_map_layer(model, layer)
    vis_model = _gradcam_model(model, target)
    num_classes = vis_model.outputs[0].shape[-1]
    indices = _class_indices("gradcam", class_index, len(images), num_classes)
    modifier = ReplaceToLinear() if _has_nonlinear_activation(vis_model) else None
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
            penultimate_layer=_MARKER,
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


# --------------------------------------------------------------------------- scores


def class_scores(model, images, batch_size=256):
    """The head's output (the class scores Grad-CAM explains), ``(B, C)`` float32.

    Examples:
        >>> import keras, numpy as np
        >>> inputs = keras.Input((2,))
        >>> model = keras.Model(inputs, keras.layers.Dense(3, use_bias=False,
        ...     kernel_initializer="ones")(inputs))
        >>> class_scores(model, np.ones((1, 2)), batch_size=4).tolist()
        [[2.0, 2.0, 2.0]]
    """
    batch_size = check_int("class_scores", "batch_size", batch_size, 1)
    scorer = score_model(model)
    images = np.asarray(images, dtype=np.float32)
    out = [
        np.asarray(scorer.predict_on_batch(images[i : i + batch_size]), dtype=np.float32)
        for i in range(0, len(images), batch_size)
    ]
    return np.concatenate(out)


def _logit_scale(model, logit_scale):
    """The factor that turns the head's output into the softmax logits of training."""
    if logit_scale is not None:
        return check_positive("class_probabilities", "logit_scale", logit_scale)
    loss = getattr(model, "loss", None)
    if isinstance(loss, dict):
        loss = loss.get("logits")
    scale = getattr(loss, "scale", None)
    return float(scale) if isinstance(scale, numbers.Real) and scale > 0 else 1.0


def _softmax(logits):
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def class_probabilities(model, images, batch_size=256, logit_scale=None):
    """Softmax of the logits, ``(B, C)``: ``softmax(s * class_scores)``.

    ``s`` (``logit_scale``) defaults to the ``scale`` of the loss the model was compiled
    with on its class scores (NormFace, CosFace, ArcFace, SphereFace, HASeparator: the
    head outputs cosines, the loss multiplies them by ``s``), else 1 (a ``Dense`` or
    ``WeightsBiasedDense`` head outputs the logits themselves).

    Examples:
        >>> import keras, numpy as np
        >>> inputs = keras.Input((2,))
        >>> model = keras.Model(inputs, keras.layers.Dense(2, kernel_initializer="zeros")(inputs))
        >>> class_probabilities(model, np.ones((1, 2))).tolist()
        [[0.5, 0.5]]
    """
    scale = _logit_scale(model, logit_scale)
    return _softmax(scale * class_scores(model, images, batch_size).astype(np.float64))


# --------------------------------------------------------------------------- faithfulness


def _canvas(images, canvas, blur_sigma):
    if canvas == "grey":
        return np.broadcast_to(images.mean(axis=(0, 1, 2), keepdims=True), images.shape)
    from scipy.ndimage import gaussian_filter

    sigma = max(images.shape[1:3]) / 10.0 if blur_sigma is None else blur_sigma
    return gaussian_filter(images, sigma=(0, sigma, sigma, 0), mode="nearest").astype(np.float32)


def _pixel_ranks(heatmaps, rng):
    """Rank of each pixel in decreasing heatmap order (0 = most salient); random ties."""
    batch = heatmaps.shape[0]
    flat = heatmaps.reshape(batch, -1)
    order = np.lexsort((rng.random(flat.shape), -flat), axis=-1)
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(flat.shape[1])[None, :].repeat(batch, 0), axis=-1)
    return ranks.reshape(heatmaps.shape)


def perturbation_curves(
    model,
    images,
    heatmaps,
    mode="deletion",
    class_index=None,
    steps=28,
    canvas=None,
    blur_sigma=None,
    batch_size=256,
    seed=0,
    logit_scale=None,
    progress=False,
):
    """Class probability along RISE's deletion or insertion of pixels (Petsiuk et al. 4.1).

    Pixels are ordered by decreasing heatmap value (ties in a random order drawn from
    ``seed``). Deletion starts from the image and replaces the first ``k / steps`` of
    them by the canvas; insertion starts from the canvas and puts back the image's
    pixels in the same order. At each of the ``steps + 1`` fractions
    ``0, 1/steps, ..., 1`` the model gives the probability of the class (softmax of
    the logits, :func:`class_probabilities`).

    Args:
        model: the classifier (as for :func:`gradcam`).
        images: ``(B, H, W, C)``.
        heatmaps: ``(B, H, W)``, higher = more important (e.g. from :func:`gradcam`).
        mode: ``"deletion"`` or ``"insertion"``.
        class_index: None (the class predicted on the intact image), an int, or B ints.
        steps: number of equal pixel fractions (>= 1).
        canvas: ``"grey"`` (every pixel the images' mean colour) or ``"blur"`` (the
            image under a Gaussian blur of ``blur_sigma`` pixels, default
            ``max(H, W) / 10``); default ``"grey"`` for deletion, ``"blur"`` for
            insertion, as in RISE.
        batch_size: images per forward pass.
        seed: seed of the tie-breaking order.
        logit_scale: see :func:`class_probabilities`.
        progress: show a progress bar.

    Returns:
        ``(fractions, probabilities)``: ``(steps + 1,)`` and ``(B, steps + 1)``.

    Examples:
        >>> import keras, numpy as np
        >>> inputs = keras.Input((4, 4, 1))
        >>> x = keras.layers.Flatten()(inputs)
        >>> model = keras.Model(inputs, keras.layers.Dense(2)(x))
        >>> images = np.random.default_rng(0).random((2, 4, 4, 1), dtype="float32")
        >>> f, p = perturbation_curves(model, images, images[..., 0], steps=4)
        >>> f.tolist(), p.shape
        ([0.0, 0.25, 0.5, 0.75, 1.0], (2, 5))
    """
    owner = f"{mode}_auc" if mode in ("deletion", "insertion") else "perturbation_curves"
    if mode not in ("deletion", "insertion"):
        raise ValueError(f"{owner}: `mode` must be 'deletion' or 'insertion', got {mode!r}.")
    canvas = ("grey" if mode == "deletion" else "blur") if canvas is None else canvas
    if canvas not in CANVASES:
        raise ValueError(f"{owner}: `canvas` must be one of {CANVASES}, got {canvas!r}.")
    if blur_sigma is not None:
        check_positive(owner, "blur_sigma", blur_sigma)
    steps = check_int(owner, "steps", steps, 1)
    batch_size = check_int(owner, "batch_size", batch_size, 1)
    images = _images(owner, images, _functional(model))
    heatmaps = _heatmaps(owner, heatmaps, images)
    scale = _logit_scale(model, logit_scale)
    scorer = score_model(model)
    num_classes = scorer.outputs[0].shape[-1]
    indices = _class_indices(owner, class_index, len(images), num_classes)
    if indices is None:
        indices = class_scores(scorer, images, batch_size).argmax(axis=-1)

    pixels = images.shape[1] * images.shape[2]
    counts = np.round(np.linspace(0, pixels, steps + 1)).astype(np.int64)
    ranks = _pixel_ranks(heatmaps, np.random.default_rng(seed))
    background = _canvas(images, canvas, blur_sigma)
    start, end = (images, background) if mode == "deletion" else (background, images)

    per_block = max(1, batch_size // (steps + 1))
    probabilities = np.empty((len(images), steps + 1))
    bar = keras.utils.Progbar(len(images), unit_name="image") if progress else None
    for b0 in range(0, len(images), per_block):
        b1 = min(b0 + per_block, len(images))
        changed = ranks[b0:b1, None] < counts[None, :, None, None]  # (b, steps+1, H, W)
        block = np.where(changed[..., None], end[b0:b1, None], start[b0:b1, None])
        block = block.reshape(-1, *images.shape[1:]).astype(np.float32)
        logits = np.concatenate(
            [
                np.asarray(scorer.predict_on_batch(block[i : i + batch_size]), np.float64)
                for i in range(0, len(block), batch_size)
            ]
        )
        probs = _softmax(scale * logits).reshape(b1 - b0, steps + 1, num_classes)
        probabilities[b0:b1] = np.take_along_axis(
            probs, indices[b0:b1, None, None].repeat(steps + 1, axis=1), axis=-1
        )[..., 0]
        if bar is not None:
            bar.add(b1 - b0)
    return counts / pixels, probabilities


def _auc(fractions, curves):
    return np.trapezoid(curves, fractions, axis=-1)


def deletion_auc(model, images, heatmaps, **kwargs):
    """Per-image deletion AUC (Petsiuk et al., RISE, Sec. 4.1); lower is better.

    The area under the class probability as the most salient pixels (by ``heatmaps``)
    are replaced by a canvas, over the fraction removed in [0, 1] (trapezoid rule).
    A faithful map removes the evidence first, so the probability drops early. Compare
    with the same images under :func:`random_heatmaps`.

    Args:
        model, images, heatmaps: as for :func:`perturbation_curves`.
        **kwargs: ``class_index``, ``steps`` (28), ``canvas`` (``"grey"``),
            ``blur_sigma``, ``batch_size``, ``seed``, ``logit_scale``, ``progress``.

    Returns:
        float64 array ``(B,)`` in [0, 1].

    Examples:
        >>> import keras, numpy as np
        >>> inputs = keras.Input((4, 4, 1))
        >>> model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(inputs)))
        >>> images = np.random.default_rng(0).random((2, 4, 4, 1), dtype="float32")
        >>> deletion_auc(model, images, images[..., 0], steps=4).shape
        (2,)
    """
    return _auc(*perturbation_curves(model, images, heatmaps, mode="deletion", **kwargs))


def insertion_auc(model, images, heatmaps, **kwargs):
    """Per-image insertion AUC (Petsiuk et al., RISE, Sec. 4.1); higher is better.

    The area under the class probability as the most salient pixels (by ``heatmaps``)
    are put back on a blurred (default) or grey canvas, over the fraction inserted.

    Args:
        model, images, heatmaps: as for :func:`perturbation_curves`.
        **kwargs: ``class_index``, ``steps`` (28), ``canvas`` (``"blur"``),
            ``blur_sigma``, ``batch_size``, ``seed``, ``logit_scale``, ``progress``.

    Returns:
        float64 array ``(B,)`` in [0, 1].

    Examples:
        >>> import keras, numpy as np
        >>> inputs = keras.Input((4, 4, 1))
        >>> model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(inputs)))
        >>> images = np.random.default_rng(0).random((2, 4, 4, 1), dtype="float32")
        >>> insertion_auc(model, images, images[..., 0], steps=4).shape
        (2,)
    """
    return _auc(*perturbation_curves(model, images, heatmaps, mode="insertion", **kwargs))


def random_heatmaps(batch, height, width, seed=0, cell=1):
    """Random heatmaps, the baseline of :func:`deletion_auc` / :func:`insertion_auc`.

    Uniform values on a grid of ``cell x cell`` pixel blocks (``cell=1``: one value per
    pixel, a random pixel order), ``(batch, height, width)`` float32 in [0, 1).

    Examples:
        >>> m = random_heatmaps(2, 4, 6, seed=1, cell=2)
        >>> m.shape, bool((m[:, 0, 0] == m[:, 1, 1]).all())
        ((2, 4, 6), True)
    """
    batch = check_int("random_heatmaps", "batch", batch, 1)
    height = check_int("random_heatmaps", "height", height, 1)
    width = check_int("random_heatmaps", "width", width, 1)
    cell = check_int("random_heatmaps", "cell", cell, 1)
    rng = np.random.default_rng(seed)
    grid = rng.random((batch, math.ceil(height / cell), math.ceil(width / cell)))
    full = grid.repeat(cell, axis=1).repeat(cell, axis=2)
    return full[:, :height, :width].astype(np.float32)


def _masks(owner, masks, heatmaps):
    array = np.asarray(masks)
    if array.shape != heatmaps.shape:
        raise ValueError(
            f"{owner}: `masks` must have the heatmaps' shape {heatmaps.shape}, got {array.shape}."
        )
    return array.astype(bool)


def pointing_game(heatmaps, masks):
    """Per-image hit of the pointing game (Zhang et al., ECCV 2016): the heatmap's
    maximum lies inside the mask (the first maximum in row-major order).

    Examples:
        >>> import numpy as np
        >>> maps = np.zeros((2, 3, 3)); maps[0, 1, 1] = 1; maps[1, 0, 0] = 1
        >>> masks = np.zeros((2, 3, 3), bool); masks[:, 1, 1] = True
        >>> pointing_game(maps, masks).tolist()
        [True, False]
    """
    heatmaps = _heatmaps("pointing_game", heatmaps)
    masks = _masks("pointing_game", masks, heatmaps)
    flat = heatmaps.reshape(len(heatmaps), -1).argmax(axis=-1)
    return masks.reshape(len(masks), -1)[np.arange(len(masks)), flat]


def mass_in_mask(heatmaps, masks):
    """Per-image share of the heatmap's total inside the mask (0 for an all-zero map).

    Examples:
        >>> import numpy as np
        >>> maps = np.array([[[1.0, 3.0]]]); masks = np.array([[[False, True]]])
        >>> mass_in_mask(maps, masks).tolist()
        [0.75]
    """
    heatmaps = _heatmaps("mass_in_mask", heatmaps)
    if np.any(heatmaps < 0):
        raise ValueError("mass_in_mask: `heatmaps` must be >= 0.")
    masks = _masks("mass_in_mask", masks, heatmaps)
    total = heatmaps.sum(axis=(1, 2))
    inside = (heatmaps * masks).sum(axis=(1, 2))
    return np.where(total > 0, inside / np.maximum(total, 1e-30), 0.0)


# --------------------------------------------------------------------------- pictures


def _display_images(images):
    """Images as (B, H, W, 3) floats in [0, 1] (grey repeated; out-of-range rescaled)."""
    if images.shape[-1] not in (1, 3):
        raise ValueError(f"overlay: images must have 1 or 3 channels, got {images.shape[-1]}.")
    if images.min() < 0.0 or images.max() > 1.0:
        low = images.min(axis=(1, 2, 3), keepdims=True)
        high = images.max(axis=(1, 2, 3), keepdims=True)
        images = (images - low) / np.maximum(high - low, 1e-12)
    if images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    return images


def _jet(heatmaps):
    from matplotlib import colormaps

    return colormaps["jet"](np.clip(heatmaps, 0.0, 1.0))[..., :3].astype(np.float32)


def overlay(images, heatmaps, alpha=0.4):
    """Heatmaps in the jet colour map over their images: ``(1 - alpha) image + alpha jet(map)``.

    Args:
        images: ``(B, H, W, C)`` with C = 1 or 3 (values outside [0, 1] are rescaled
            per image), or one ``(H, W, C)`` image.
        heatmaps: ``(B, H, W)`` in [0, 1] (or one ``(H, W)`` map).
        alpha: the heatmap's weight in [0, 1].

    Returns:
        float32 RGB ``(B, H, W, 3)`` (or ``(H, W, 3)``) in [0, 1].

    Examples:
        >>> import numpy as np
        >>> overlay(np.zeros((4, 4, 1)), np.ones((4, 4)), alpha=1.0)[0, 0].tolist()
        [0.5, 0.0, 0.0]
    """
    alpha = check_range("overlay", "alpha", alpha, 0.0, 1.0)
    single = np.ndim(images) == 3
    images = np.asarray(images, dtype=np.float32)[None] if single else images
    heatmaps = np.asarray(heatmaps, dtype=np.float32)[None] if single else heatmaps
    images = _images("overlay", images)
    heatmaps = _heatmaps("overlay", heatmaps, images)
    mixed = (1.0 - alpha) * _display_images(images) + alpha * _jet(heatmaps)
    mixed = np.clip(mixed, 0.0, 1.0).astype(np.float32)
    return mixed[0] if single else mixed


def save_grid(
    path,
    images,
    heatmaps_by_model,
    predictions_by_model=None,
    class_names=None,
    labels=None,
    alpha=0.4,
    show_maps=True,
    title=None,
    dpi=120,
):
    """The AMC-Loss paper's Fig. 2 / Fig. 6 comparison: one row per image.

    Each row shows the image (titled with its label when ``labels`` is given), then
    for each model its heatmap (jet) and the heatmap over the image
    (:func:`overlay`), the overlay titled ``"<model>: <class> <score>"`` when
    ``predictions_by_model`` gives that model's predicted classes and scores.

    Args:
        path: file to write (format from the extension; see
            :func:`keras_angular.plots.save_figure`), or None to only return the figure.
        images: ``(B, H, W, C)``.
        heatmaps_by_model: ``{model name: (B, H, W) heatmaps}`` (insertion order =
            column order).
        predictions_by_model: ``{model name: (classes, scores)}``, two length-B arrays.
        class_names: names of the class indices.
        labels: B true class indices.
        alpha: overlay weight of the heatmap.
        show_maps: also show each bare heatmap (AMC Fig. 2's middle row).
        title: figure title.
        dpi: resolution of the file.

    Returns:
        The ``matplotlib.figure.Figure``.

    Examples:
        >>> import numpy as np, os, tempfile
        >>> images = np.zeros((1, 8, 8, 1)); maps = np.ones((1, 8, 8))
        >>> fig = save_grid(os.path.join(tempfile.mkdtemp(), "grid.png"), images,
        ...                 {"softmax": maps, "amc": maps},
        ...                 predictions_by_model={"amc": ([1], [0.9])},
        ...                 class_names=["cat", "dog"])
        >>> len(fig.axes), fig.axes[4].get_title()
        (5, 'amc: dog 0.90')
    """
    from matplotlib.figure import Figure

    from keras_angular.plots import save_figure

    images = _images("save_grid", images)
    if not isinstance(heatmaps_by_model, dict) or not heatmaps_by_model:
        raise ValueError("save_grid: `heatmaps_by_model` must be a non-empty dict name -> maps.")
    maps = {name: _heatmaps("save_grid", m, images) for name, m in heatmaps_by_model.items()}
    predictions = dict(predictions_by_model or {})
    unknown = set(predictions) - set(maps)
    if unknown:
        raise ValueError(f"save_grid: predictions for unknown models {sorted(unknown)}.")
    for name, pair in predictions.items():
        if len(pair) != 2 or any(len(p) != len(images) for p in pair):
            raise ValueError(
                f"save_grid: predictions_by_model[{name!r}] must be (classes, scores), "
                f"each of length {len(images)}."
            )
    if labels is not None and len(labels) != len(images):
        raise ValueError(f"save_grid: {len(labels)} labels for {len(images)} images.")

    def name_of(index):
        index = int(index)
        if class_names is not None and 0 <= index < len(class_names):
            return str(class_names[index])
        return str(index)

    shown = _display_images(images)
    per_model = 2 if show_maps else 1
    cols = 1 + per_model * len(maps)
    rows = len(images)
    fig = Figure(figsize=(1.7 * cols, 1.8 * rows + (0.4 if title else 0.0)))
    axes = fig.subplots(rows, cols, squeeze=False)
    for row in range(rows):
        ax = axes[row, 0]
        ax.imshow(shown[row])
        ax.set_title("image" if labels is None else f"true: {name_of(labels[row])}", fontsize=8)
        col = 1
        for name, heat in maps.items():
            if show_maps:
                axes[row, col].imshow(heat[row], cmap="jet", vmin=0.0, vmax=1.0)
                axes[row, col].set_title(f"{name} map", fontsize=8)
                col += 1
            axes[row, col].imshow(overlay(images[row : row + 1], heat[row : row + 1], alpha)[0])
            if name in predictions:
                classes, scores = predictions[name]
                label = f"{name}: {name_of(classes[row])} {float(scores[row]):.2f}"
            else:
                label = name
            axes[row, col].set_title(label, fontsize=8)
            col += 1
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    if path is not None:
        save_figure(fig, path, dpi=dpi)
    return fig


# --------------------------------------------------------------------------- report


def _mean_sd(values):
    values = np.asarray(values, dtype=np.float64)
    sd = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    return {"mean": float(values.mean()), "sd": sd}


def _margins(model, images, batch_size):
    """Mean hyperplane margin (:class:`~keras_angular.layers.HyperplaneProjection`)."""
    from keras_angular.layers import CosineDense, HyperplaneProjection, WeightsBiasedDense

    try:
        head = model.get_layer("head")
    except ValueError:
        return None, "no layer named 'head'"
    if not isinstance(head, (CosineDense, WeightsBiasedDense)):
        return None, f"the head is a {type(head).__name__}, not a unit-weight head"
    output = model.output
    if not isinstance(output, dict) or "embedding" not in output:
        return None, "the model has no 'embedding' output"
    embedder = keras.Model(model.inputs, output["embedding"])
    layer = HyperplaneProjection(head, output="margin")
    margins = [
        np.asarray(layer(embedder.predict_on_batch(images[i : i + batch_size])))
        for i in range(0, len(images), batch_size)
    ]
    return np.concatenate(margins), None


def explain_report(
    models,
    images,
    labels=None,
    class_names=None,
    out_dir=None,
    n_grid=16,
    method="gradcam",
    steps=28,
    batch_size=64,
    seed=0,
    progress=True,
):
    """Grad-CAM of several models on the same images: the grid and the faithfulness scores.

    For each model: Grad-CAM maps of every image's predicted class (:func:`gradcam`),
    their deletion and insertion AUCs (:func:`deletion_auc` on a grey canvas,
    :func:`insertion_auc` on a blurred one; mean and SD over the images), the same for
    :func:`random_heatmaps` (the baseline), the accuracy on these images when
    ``labels`` are given, the mean hyperplane margin
    (:class:`~keras_angular.layers.HyperplaneProjection`, for a ``CosineDense`` /
    ``WeightsBiasedDense`` head with an ``"embedding"`` output; None otherwise, with the
    reason) and the seconds Grad-CAM took.

    Args:
        models: ``{name: model}`` (e.g. loaded with :func:`keras_angular.saving.load_model`).
        images: ``(N, H, W, C)``: all are scored; the first ``n_grid`` go in the grid.
        labels: optional N true classes.
        class_names: optional class names for the grid.
        out_dir: where to write ``grid.png`` and ``explain.json`` (None: nothing written).
        n_grid: rows of the grid.
        method: ``"gradcam"`` or ``"gradcam++"``.
        steps, seed: of the deletion / insertion curves and the random maps.
        batch_size: images per Grad-CAM call (the AUCs use 4x as many per forward pass).
        progress: progress bars.

    Returns:
        The dict written to ``explain.json``.

    Examples:
        >>> import keras, numpy as np
        >>> inputs = keras.Input((8, 8, 1))
        >>> x = keras.layers.Conv2D(2, 3, padding="same", activation="relu")(inputs)
        >>> x = keras.layers.GlobalAveragePooling2D()(x)
        >>> model = keras.Model(inputs, keras.layers.Dense(2, name="head")(x))
        >>> images = np.random.default_rng(0).random((3, 8, 8, 1), dtype="float32")
        >>> report = explain_report({"m": model}, images, steps=4, progress=False)
        >>> sorted(report["models"]["m"])[:3]
        ['accuracy', 'deletion_auc', 'gradcam_seconds']
    """
    import json
    import os
    import time

    if not isinstance(models, dict) or not models:
        raise ValueError("explain_report: `models` must be a non-empty dict name -> model.")
    images = _images("explain_report", images)
    n_grid = check_int("explain_report", "n_grid", n_grid, 1)
    if labels is not None:
        labels = np.asarray(labels).reshape(-1)
        if len(labels) != len(images):
            raise ValueError(f"explain_report: {len(labels)} labels for {len(images)} images.")
    noise = random_heatmaps(len(images), images.shape[1], images.shape[2], seed=seed)
    curve = {"steps": steps, "batch_size": 4 * batch_size, "seed": seed}
    report = {
        "images": int(len(images)),
        "method": method,
        "steps": steps,
        "seed": seed,
        "canvas": {"deletion": "grey", "insertion": "blur"},
        "models": {},
    }
    grid_maps, grid_predictions = {}, {}
    for name, model in models.items():
        probabilities = class_probabilities(model, images, 4 * batch_size)
        classes = probabilities.argmax(axis=-1)
        start = time.perf_counter()
        maps = gradcam(model, images, method=method, batch_size=batch_size, progress=progress)
        seconds = time.perf_counter() - start
        entry = {
            "accuracy": None if labels is None else float((classes == labels).mean()),
            "gradcam_seconds": seconds,
            "deletion_auc": _mean_sd(deletion_auc(model, images, maps, **curve)),
            "insertion_auc": _mean_sd(insertion_auc(model, images, maps, **curve)),
            "random_deletion_auc": _mean_sd(deletion_auc(model, images, noise, **curve)),
            "random_insertion_auc": _mean_sd(insertion_auc(model, images, noise, **curve)),
        }
        margins, reason = _margins(model, images, 4 * batch_size)
        entry["margin"] = None if margins is None else _mean_sd(margins)
        if reason:
            entry["margin_note"] = reason
        report["models"][name] = entry
        grid_maps[name] = maps[:n_grid]
        grid_predictions[name] = (classes[:n_grid], probabilities.max(axis=-1)[:n_grid])
    if out_dir is not None:
        os.makedirs(out_dir, exist_ok=True)
        save_grid(
            os.path.join(out_dir, "grid.png"),
            images[:n_grid],
            grid_maps,
            predictions_by_model=grid_predictions,
            class_names=class_names,
            labels=None if labels is None else labels[:n_grid],
        )
        with open(os.path.join(out_dir, "explain.json"), "w") as f:
            json.dump(report, f, indent=2)
    return report
