"""Seeded image augmentation: the CIFAR10+ recipe and the AMC-Loss code's random translation."""

from __future__ import annotations

__all__ = ["AUGMENTATIONS", "augment_batch"]

AUGMENTATIONS = ("cifar", "translate", None)
"""The ``augment`` values [`train_dataset`][keras_angular.data.train_dataset] accepts."""


def augment_batch(images, seed, kind, pad_value=0.0):
    """Augment a batch ``(B, H, W, C)`` with stateless randomness from ``seed`` (shape [2]).

    ``kind="cifar"``: pad 4 pixels with ``pad_value`` (per channel, broadcastable to C),
    random HxW crop, random horizontal flip with probability 0.5 (He et al. 2016 Sec.
    4.2; Angular loss Sec. 4.1). ``kind="translate"``: reflect-pad 2 pixels and random
    HxW crop, i.e. a random translation by -2..2 pixels per axis (the AMC-Loss code,
    ``augment_translation=2``, no mirroring). Same seed, same output.

    Examples:
        >>> import numpy as np
        >>> images = np.arange(2 * 8 * 8 * 3, dtype=np.float32).reshape(2, 8, 8, 3)
        >>> out = augment_batch(images, [1, 2], "cifar")
        >>> tuple(out.shape), bool(np.all(augment_batch(images, [1, 2], "cifar") == out))
        ((2, 8, 8, 3), True)
    """
    import tensorflow as tf

    if kind == "cifar":
        pad, mode, flip = 4, "CONSTANT", True
    elif kind == "translate":
        pad, mode, flip = 2, "REFLECT", False
    else:
        raise ValueError(f"Unknown augmentation {kind!r}; use one of {AUGMENTATIONS}.")
    images = tf.convert_to_tensor(images)
    seed = tf.cast(tf.convert_to_tensor(seed), tf.int64)
    crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    shape = tf.shape(images)
    b, h, w = shape[0], shape[1], shape[2]
    paddings = [[0, 0], [pad, pad], [pad, pad], [0, 0]]
    if mode == "CONSTANT":
        fill = tf.cast(pad_value, images.dtype)
        padded = tf.pad(images - fill, paddings) + fill
    else:
        padded = tf.pad(images, paddings, mode=mode)
    offsets = tf.random.stateless_uniform(
        [b, 2], crop_seed, minval=0, maxval=2 * pad + 1, dtype=tf.int32
    )
    rows = offsets[:, :1] + tf.range(h)[None, :]
    cols = offsets[:, 1:] + tf.range(w)[None, :]
    out = tf.gather(padded, rows, axis=1, batch_dims=1)
    out = tf.gather(out, cols, axis=2, batch_dims=1)
    if flip:
        mirror = tf.random.stateless_uniform([b], flip_seed) < 0.5
        out = tf.where(mirror[:, None, None, None], tf.reverse(out, axis=[2]), out)
    return out
