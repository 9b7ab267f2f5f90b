"""Checks of what the explain functions take: images, heatmaps and class indices.

Each check takes the calling function's name first (``owner``), which starts its
messages, and returns the input as the array the callers compute with.
"""

import numbers

import numpy as np

__all__ = ["check_class_indices", "check_heatmaps", "check_images"]


def check_images(owner, images, model=None):
    """``images`` as float32 (B, H, W, C), checked against ``model``'s input shape.

    Examples:
        >>> check_images("f", [[[[1], [2]]]]).shape
        (1, 1, 2, 1)
    """
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


def check_heatmaps(owner, heatmaps, images=None):
    """``heatmaps`` as float32 (B, H, W), finite, matching ``images``' batch and size.

    Examples:
        >>> check_heatmaps("f", [[[0.5]]]).dtype
        dtype('float32')
    """
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


def check_class_indices(owner, class_index, batch, num_classes):
    """(B,) int class indices from an int or a length-B array; None stays None.

    Examples:
        >>> check_class_indices("f", 2, batch=3, num_classes=4).tolist()
        [2, 2, 2]
    """
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
