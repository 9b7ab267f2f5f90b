"""Pictures of heatmaps: jet-coloured overlays and the comparison grid of several models.

The grid is the layout of Fig. 2 / Fig. 6 of H. Choi, A. Som and P. Turaga, "AMC-Loss:
Angular Margin Contrastive Loss for Improved Explainability in Image Classification",
CVPR Workshops 2020.
"""

import numpy as np

from keras_angular.checks import check_range
from keras_angular.data.preprocessing import stretch_to_unit
from keras_angular.explain.input_checks import check_heatmaps, check_images

__all__ = ["overlay", "save_grid"]


def _display_images(images):
    """Images as (B, H, W, 3) floats in [0, 1] (grey repeated; out-of-range rescaled)."""
    if images.shape[-1] not in (1, 3):
        raise ValueError(f"overlay: images must have 1 or 3 channels, got {images.shape[-1]}.")
    if images.min() < 0.0 or images.max() > 1.0:
        images = stretch_to_unit(images)
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
    images = check_images("overlay", images)
    heatmaps = check_heatmaps("overlay", heatmaps, images)
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
    score_name="p",
):
    """The AMC-Loss paper's Fig. 2 / Fig. 6 comparison: one row per image.

    Each row shows the image (titled with its label when ``labels`` is given), then
    for each model its heatmap (jet) and the heatmap over the image
    ([`overlay`][keras_angular.explain.overlay]), the overlay titled
    ``"<model>: <class> p=<score>"`` when ``predictions_by_model`` gives that model's predicted
    classes and scores: by default the predicted class's softmax probability
    ([`keras_angular.explain.class_probabilities`][]), ``p``; another score (a logit, a cosine) is
    named by ``score_name``.

    Args:
        path: file to write (format from the extension; see
            [`keras_angular.plots.save_figure`][]), or None to only return the figure.
        images: ``(B, H, W, C)``.
        heatmaps_by_model: ``{model name: (B, H, W) heatmaps}`` (insertion order =
            column order).
        predictions_by_model: ``{model name: (classes, scores)}``, two length-B arrays.
            With ``score_name="p"`` the scores must lie in [0, 1].
        class_names: names of the class indices.
        labels: B true class indices.
        alpha: overlay weight of the heatmap.
        show_maps: also show each bare heatmap (AMC Fig. 2's middle row).
        title: figure title.
        dpi: resolution of the file.
        score_name: what the scores are, written before each one in the overlay titles
            (default ``"p"``: class probabilities).

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
        (5, 'amc: dog p=0.90')
    """
    from matplotlib.figure import Figure

    from keras_angular.plots import save_figure

    images = check_images("save_grid", images)
    if not isinstance(heatmaps_by_model, dict) or not heatmaps_by_model:
        raise ValueError("save_grid: `heatmaps_by_model` must be a non-empty dict name -> maps.")
    maps = {name: check_heatmaps("save_grid", m, images) for name, m in heatmaps_by_model.items()}
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
        scores = np.asarray(pair[1], dtype=np.float64)
        if score_name == "p" and not np.all((scores >= 0.0) & (scores <= 1.0)):
            raise ValueError(
                f"save_grid: the scores of {name!r} run from {scores.min():.3g} to "
                f"{scores.max():.3g}, so they are not the probabilities p the titles call them: "
                "pass explain.class_probabilities or name the score with score_name=."
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
                label = f"{name}: {name_of(classes[row])} {score_name}={float(scores[row]):.2f}"
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
