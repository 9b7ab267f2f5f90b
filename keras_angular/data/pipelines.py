"""Seeded ``tf.data`` input pipelines over a [`DatasetSplits`][keras_angular.data.DatasetSplits]."""

from __future__ import annotations

import numpy as np

from keras_angular.data.augmentation import AUGMENTATIONS, augment_batch

__all__ = ["test_dataset", "train_dataset"]


def train_dataset(
    splits, batch_size, augment=False, seed=0, shuffle=True, drop_remainder=False, epoch=None
):
    """A seeded ``tf.data`` pipeline of ``(images, labels)`` training batches.

    Args:
        splits: [`DatasetSplits`][keras_angular.data.DatasetSplits].
        batch_size: images per batch.
        augment: ``False`` / ``None``, ``"cifar"`` or ``"translate"`` (see
            [`augment_batch`][keras_angular.data.augment_batch]). For ``"cifar"`` the padding is
            black in the raw image (``-mean / std`` after channel standardization), as in He et al.
        seed: seeds the shuffle and the augmentation: the same seed gives the same
            batches, epoch after epoch (each epoch reshuffles and redraws).
        shuffle: reshuffle the whole training set every epoch.
        drop_remainder: drop the last incomplete batch (AMC pairs the two halves of a
            batch; the authors' code drops it).
        epoch: optionally a scalar int64 ``tf.Variable`` holding the current epoch
            (``keras_angular.training`` sets it in ``on_epoch_begin``). With it, epoch
            ``e``'s order and augmentation are a pure function of ``(seed, e)``
            (``tf.random.experimental.index_shuffle`` and stateless draws), so a run
            resumed at epoch ``e`` sees exactly the batches an uninterrupted run would.

    Returns:
        ``tf.data.Dataset`` of ``(float32 (B, H, W, C), int32 (B,))``.

    Examples:
        >>> from keras_angular.data import load_dataset
        >>> digits = load_dataset("digits")
        >>> images, labels = next(iter(train_dataset(digits, 32, augment="translate", seed=0)))
        >>> tuple(images.shape), tuple(labels.shape), labels.dtype.name
        ((32, 8, 8, 1), (32,), 'int32')
    """
    import tensorflow as tf

    if augment in (False, "none"):
        augment = None
    if augment not in AUGMENTATIONS:
        raise ValueError(f"`augment` must be one of {AUGMENTATIONS}, got {augment!r}.")
    n = len(splits.x_train)
    if n == 0:
        raise ValueError("The training split is empty.")
    # Shuffle indices, not images, then gather whole batches: the shuffle buffer holds
    # n integers instead of a second copy of the images.
    index = tf.data.Dataset.range(n)
    if shuffle and epoch is not None:
        index = index.batch(batch_size, drop_remainder=drop_remainder)
        index = index.map(  # the epoch is read when each batch is drawn, not at build time
            lambda i: tf.random.experimental.index_shuffle(
                i, tf.stack([tf.constant(seed, tf.int64), tf.cast(epoch, tf.int64)]), n - 1
            )
        )
    else:
        if shuffle:
            index = index.shuffle(n, seed=seed, reshuffle_each_iteration=True)
        index = index.batch(batch_size, drop_remainder=drop_remainder)
    gather = _batch_gather(splits.x_train, splits.y_train)
    if augment is None:
        ds = index.map(gather, num_parallel_calls=tf.data.AUTOTUNE)
        return ds.prefetch(tf.data.AUTOTUNE)
    pad_value = 0.0
    if augment == "cifar" and splits.mean is not None and splits.std is not None:
        pad_value = (-splits.mean / splits.std).astype(np.float32)
    if epoch is not None:  # stateless: batch b of epoch e draws from (seed, e, b)

        def batch_seed(b):
            key = tf.constant(seed, tf.int64) * 1_000_003 + tf.cast(epoch, tf.int64)
            return tf.random.experimental.stateless_split(tf.stack([key, b]), 1)[0]

        seeds = tf.data.Dataset.range(1 << 62).map(batch_seed)
    else:
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)

    def gather_and_augment(i, s):
        images, labels = gather(i)
        return augment_batch(images, s, augment, pad_value), labels

    ds = tf.data.Dataset.zip((index, seeds))
    ds = ds.map(gather_and_augment, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def _batch_gather(x, y):
    """``indices -> (x[indices], y[indices])`` for a ``tf.data`` map: NumPy indexing through
    ``tf.numpy_function`` reads the arrays where they are, where a tensor of them would copy
    them into the pipeline's graph at every build (seconds, and twice the memory, for
    large images)."""
    import tensorflow as tf

    def take(indices):
        return x[indices], y[indices]

    def gather(indices):
        images, labels = tf.numpy_function(
            take, [indices], (tf.as_dtype(x.dtype), tf.as_dtype(y.dtype)), stateful=False
        )
        images.set_shape(indices.shape.concatenate(x.shape[1:]))
        labels.set_shape(indices.shape)
        return images, labels

    return gather


def test_dataset(splits, batch_size):
    """``tf.data`` pipeline of ``(images, labels)`` test batches, in order, no augmentation.

    Examples:
        >>> from keras_angular.data import load_dataset
        >>> digits = load_dataset("digits")   # 360 test images
        >>> len(digits.x_test), sum(1 for _ in test_dataset(digits, 100))
        (360, 4)
    """
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((splits.x_test, splits.y_test))
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


test_dataset.__test__ = False  # not a pytest test when imported into a test module
