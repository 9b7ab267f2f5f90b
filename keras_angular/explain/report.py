"""Grad-CAM of several models on the same images: the grid and the faithfulness scores
(what ``keras-angular explain`` writes)."""

import json
import os
import time

import keras
import numpy as np

from keras_angular.checks import check_int
from keras_angular.explain.faithfulness import deletion_auc, insertion_auc, random_heatmaps
from keras_angular.explain.figures import save_grid
from keras_angular.explain.grad_cam import gradcam
from keras_angular.explain.input_checks import check_images
from keras_angular.explain.scoring import class_probabilities, predict_in_chunks
from keras_angular.layers import CosineDense, HyperplaneProjection, WeightsBiasedDense

__all__ = ["explain_report"]


def _mean_sd(values):
    values = np.asarray(values, dtype=np.float64)
    sd = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    return {"mean": float(values.mean()), "sd": sd}


def _margins(model, images, batch_size):
    """``(margins, None)``: each image's hyperplane margin
    ([`HyperplaneProjection`][keras_angular.layers.HyperplaneProjection]), or ``(None, reason)``."""
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
    embeddings = predict_in_chunks(embedder, np.asarray(images, np.float32), batch_size)
    return np.asarray(layer(embeddings)), None


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

    For each model: Grad-CAM maps of every image's predicted class
    ([`gradcam`][keras_angular.explain.gradcam]), their deletion and insertion AUCs
    ([`deletion_auc`][keras_angular.explain.deletion_auc] on a grey canvas,
    [`insertion_auc`][keras_angular.explain.insertion_auc] on a blurred one; mean and SD over the
    images), the same for [`random_heatmaps`][keras_angular.explain.random_heatmaps] (the baseline),
    the accuracy on these images when ``labels`` are given, the mean hyperplane margin
    ([`HyperplaneProjection`][keras_angular.layers.HyperplaneProjection], for a ``CosineDense`` /
    ``WeightsBiasedDense`` head with an ``"embedding"`` output; None otherwise, with the reason) and
    the seconds Grad-CAM took.

    Args:
        models: ``{name: model}`` (e.g. loaded with [`keras_angular.saving.load_model`][]).
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
    if not isinstance(models, dict) or not models:
        raise ValueError("explain_report: `models` must be a non-empty dict name -> model.")
    images = check_images("explain_report", images)
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
