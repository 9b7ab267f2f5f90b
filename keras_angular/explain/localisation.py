"""Localisation of heatmaps against known object masks: the pointing game and the mass inside.

The pointing game is that of Zhang, Lin, Brandt, Shen and Sclaroff, "Top-down Neural
Attention by Excitation Backprop", ECCV 2016.
"""

import numpy as np

from keras_angular.explain.input_checks import check_heatmaps

__all__ = ["mass_in_mask", "pointing_game"]


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
    heatmaps = check_heatmaps("pointing_game", heatmaps)
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
    heatmaps = check_heatmaps("mass_in_mask", heatmaps)
    if np.any(heatmaps < 0):
        raise ValueError("mass_in_mask: `heatmaps` must be >= 0.")
    masks = _masks("mass_in_mask", masks, heatmaps)
    total = heatmaps.sum(axis=(1, 2))
    inside = (heatmaps * masks).sum(axis=(1, 2))
    return np.where(total > 0, inside / np.maximum(total, 1e-30), 0.0)
