"""Causal faithfulness of heatmaps: RISE's deletion and insertion curves and their AUCs.

Petsiuk, Das and Saenko, "RISE: Randomized Input Sampling for Explanation of Black-box
Models", BMVC 2018, Sec. 4.1; [`random_heatmaps`][keras_angular.explain.random_heatmaps] is the
baseline a map must beat.
"""

import math

import keras
import numpy as np
from scipy.special import softmax

from keras_angular.checks import check_int, check_positive
from keras_angular.explain.input_checks import (
    check_class_indices,
    check_heatmaps,
    check_images,
)
from keras_angular.explain.model_surgery import functional_view, score_model
from keras_angular.explain.scoring import (
    class_scores,
    predict_in_chunks,
    training_logit_scale,
)

__all__ = [
    "CANVASES",
    "deletion_auc",
    "insertion_auc",
    "perturbation_curves",
    "random_heatmaps",
]

CANVASES = ("blur", "grey")
"""Canvases of [`deletion_auc`][keras_angular.explain.deletion_auc] /
[`insertion_auc`][keras_angular.explain.insertion_auc]."""


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
    the logits, [`class_probabilities`][keras_angular.explain.class_probabilities]).

    Args:
        model: the classifier (as for [`gradcam`][keras_angular.explain.gradcam]).
        images: ``(B, H, W, C)``.
        heatmaps: ``(B, H, W)``, higher = more important (e.g. from
            [`gradcam`][keras_angular.explain.gradcam]).
        mode: ``"deletion"`` or ``"insertion"``.
        class_index: None (the class predicted on the intact image), an int, or B ints.
        steps: number of equal pixel fractions (>= 1).
        canvas: ``"grey"`` (every pixel the images' mean colour) or ``"blur"`` (the
            image under a Gaussian blur of ``blur_sigma`` pixels, default
            ``max(H, W) / 10``); default ``"grey"`` for deletion, ``"blur"`` for
            insertion, as in RISE.
        batch_size: images per forward pass.
        seed: seed of the tie-breaking order.
        logit_scale: see [`class_probabilities`][keras_angular.explain.class_probabilities].
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
    images = check_images(owner, images, functional_view(model))
    heatmaps = check_heatmaps(owner, heatmaps, images)
    scale = training_logit_scale(model, logit_scale)
    scorer = score_model(model)
    num_classes = scorer.outputs[0].shape[-1]
    indices = check_class_indices(owner, class_index, len(images), num_classes)
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
        logits = predict_in_chunks(scorer, block, batch_size).astype(np.float64)
        probs = softmax(scale * logits, axis=-1).reshape(b1 - b0, steps + 1, num_classes)
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
    with the same images under [`random_heatmaps`][keras_angular.explain.random_heatmaps].

    Args:
        model, images, heatmaps: as for
        [`perturbation_curves`][keras_angular.explain.perturbation_curves]. **kwargs:
        ``class_index``, ``steps`` (28), ``canvas`` (``"grey"``),
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
        model, images, heatmaps: as for
        [`perturbation_curves`][keras_angular.explain.perturbation_curves]. **kwargs:
        ``class_index``, ``steps`` (28), ``canvas`` (``"blur"``),
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
    """Random heatmaps, the baseline of [`deletion_auc`][keras_angular.explain.deletion_auc] /
    [`insertion_auc`][keras_angular.explain.insertion_auc].

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
