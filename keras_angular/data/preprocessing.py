"""Pixel scaling to [0, 1] and the standardizations ``load_dataset`` applies (``"channel"``,
``"image"`` or ``None``; [`keras_angular.data`][] cites the papers), in place by chunks."""

from __future__ import annotations

import numpy as np

from keras_angular.data.splits import CHUNK

__all__ = [
    "STANDARDIZATIONS",
    "channel_stats",
    "standardize_splits",
    "stretch_to_unit",
    "to_unit_float",
    "with_channel",
]

STANDARDIZATIONS = ("channel", "image", None)
"""The ``standardize`` values [`load_dataset`][keras_angular.data.load_dataset] accepts."""


def with_channel(x, what="images"):
    """``x`` as ``(N, H, W, C)``: a channel axis is added to ``(N, H, W)``; any other rank
    raises ``ValueError`` naming ``what``.

    Examples:
        >>> with_channel(np.zeros((2, 3, 4))).shape
        (2, 3, 4, 1)
    """
    x = np.asarray(x)
    if x.ndim == 3:
        return x[..., None]
    if x.ndim != 4:
        raise ValueError(f"{what} must be (N, H, W) or (N, H, W, C), got shape {x.shape}.")
    return x


def to_unit_float(x, source=None):
    """float32 copy in [0, 1]: integer images are divided by 255 (or by their maximum if
    that exceeds 255, e.g. 16-bit), boolean ones become 0 / 1, float images are kept as
    they are (assumed to be in [0, 1] already). ``source`` names the images in errors.

    Examples:
        >>> to_unit_float(np.array([[[0, 51, 255]]], np.uint8))[0, 0, :, 0].tolist()
        [0.0, 0.20000000298023224, 1.0]
    """
    x = with_channel(x, f"{source}: images" if source is not None else "images")
    if x.dtype == bool:
        return x.astype(np.float32)
    if np.issubdtype(x.dtype, np.integer):
        top = float(x.max()) if x.size else 255.0
        scale = 255.0 if top <= 255 else top
        out = x.astype(np.float32)
        out /= np.float32(scale)
        return out
    return np.array(x, dtype=np.float32, copy=True)


def stretch_to_unit(images):
    """Each image of ``images`` (B, H, W, C) rescaled from its own minimum to its maximum
    into [0, 1] (a constant image to 0): how the figures show standardised images, whose
    pixels cannot be had back.

    Examples:
        >>> stretch_to_unit(np.array([-1.0, 0.0, 3.0], np.float32).reshape(1, 1, 3, 1)).ravel()
        array([0.  , 0.25, 1.  ], dtype=float32)
    """
    low = images.min(axis=(1, 2, 3), keepdims=True)
    high = images.max(axis=(1, 2, 3), keepdims=True)
    return (images - low) / np.maximum(high - low, 1e-12)


def channel_stats(x):
    """Per-channel mean and std of ``x`` (N, H, W, C), accumulated in float64 by chunks;
    a channel with zero std gets std 1 (it is then only centred).

    Examples:
        >>> mean, std = channel_stats(np.array([0.0, 1.0], np.float32).reshape(2, 1, 1, 1))
        >>> mean.tolist(), std.tolist()
        ([0.5], [0.5])
    """
    c = x.shape[-1]
    total = np.zeros(c)
    total_sq = np.zeros(c)
    for i in range(0, len(x), CHUNK):
        chunk = x[i : i + CHUNK].reshape(-1, c).astype(np.float64)
        total += chunk.sum(axis=0)
        total_sq += np.square(chunk).sum(axis=0)
    count = max(x.size // c, 1)
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - mean**2, 0.0))
    std = np.where(std < 1e-8, 1.0, std)
    return mean.astype(np.float32), std.astype(np.float32)


def standardize_splits(splits, standardize):
    """Standardize the [0, 1] images of ``splits`` (a
    [`DatasetSplits`][keras_angular.data.DatasetSplits]) in place: ``"channel"`` with the training
    split's per-channel statistics (kept as ``splits.mean`` / ``splits.std``), ``"image"``
    each image on its own, ``None`` not at all; ``splits.standardize`` records which.

    Examples:
        >>> from keras_angular.data import DatasetSplits
        >>> x = np.array([0.0, 1.0, 0.5, 0.5], np.float32).reshape(4, 1, 1, 1)
        >>> splits = DatasetSplits(x[:2], [0, 1], x[2:], [0, 1], 2, ["a", "b"], "toy")
        >>> standardize_splits(splits, "channel")
        >>> splits.x_train.ravel().tolist(), splits.x_test.ravel().tolist()
        ([-1.0, 1.0], [0.0, 0.0])
    """
    if standardize == "channel":
        splits.mean, splits.std = channel_stats(splits.x_train)
        for x in (splits.x_train, splits.x_test):
            _apply_channel_standardization(x, splits.mean, splits.std)
    elif standardize == "image":
        for x in (splits.x_train, splits.x_test):
            _apply_image_standardization(x)
    splits.standardize = standardize


def _apply_channel_standardization(x, mean, std):
    for i in range(0, len(x), CHUNK):
        chunk = x[i : i + CHUNK]
        chunk -= mean
        chunk /= std


def _apply_image_standardization(x):
    """In place, as ``tf.image.per_image_standardization``: std floored at 1/sqrt(pixels)."""
    n_pixels = np.prod(x.shape[1:])
    floor = 1.0 / np.sqrt(n_pixels)
    for i in range(0, len(x), CHUNK):
        chunk = x[i : i + CHUNK]
        mean = chunk.mean(axis=(1, 2, 3), keepdims=True, dtype=np.float64)
        std = chunk.std(axis=(1, 2, 3), keepdims=True, dtype=np.float64)
        chunk -= mean.astype(np.float32)
        chunk /= np.maximum(std, floor).astype(np.float32)
