"""Seeded, class-stratified selections: the train / test split of sources without a test
split, and [`subsample`][keras_angular.data.subsample], a smaller copy of a
[`DatasetSplits`][keras_angular.data.DatasetSplits]."""

from __future__ import annotations

import numpy as np

from keras_angular.data.splits import DatasetSplits

__all__ = ["split_indices", "subsample"]


def split_indices(y, seed, *, test_size=None, train_size=None):
    """Seeded ``(train, test)`` index arrays of the labels ``y``, each in shuffled order,
    from ``sklearn.model_selection.train_test_split``: ``test_size`` / ``train_size``
    as it takes them (a fraction or a count). Stratified by ``y`` where every class has two
    or more members and both parts can hold one of each class; a plain seeded split
    otherwise.

    Examples:
        >>> train, test = split_indices(np.repeat([0, 1], 5), seed=0, test_size=0.4)
        >>> len(train), len(test), np.bincount(np.repeat([0, 1], 5)[test]).tolist()
        (6, 4, [2, 2])
    """
    from sklearn.model_selection import train_test_split

    y = np.asarray(y)
    index = np.arange(len(y))
    _, counts = np.unique(y, return_counts=True)
    stratify = y if counts.min() >= 2 else None
    sizes = dict(test_size=test_size, train_size=train_size, random_state=seed)
    try:
        return train_test_split(index, stratify=stratify, **sizes)
    except ValueError:  # e.g. fewer test slots than classes: fall back to a plain split
        return train_test_split(index, **sizes)


def subsample(splits, train_size=None, test_size=None, seed=0):
    """A seeded, class-stratified subset of ``splits`` (a
    [`DatasetSplits`][keras_angular.data.DatasetSplits]): ``train_size`` training and ``test_size``
    test images (None, or at least the split's size, keeps the split whole). Each split is
    drawn by ``split_indices`` with ``seed``: every class keeps its share (rounded so
    that the sizes are exact), the order is shuffled, and the preprocessing statistics are
    the original's.

    Examples:
        >>> from keras_angular.data import load_dataset
        >>> small = subsample(load_dataset("digits"), 300, 100, seed=0)
        >>> len(small.x_train), len(small.x_test), small.num_classes
        (300, 100, 10)
        >>> np.bincount(small.y_test).tolist()   # the 360 test digits hold 35 to 37 of each
        [10, 10, 10, 10, 10, 10, 10, 10, 10, 10]
    """

    def pick(y, size):
        if size is None or size >= len(y):
            return None
        if size < 1:
            raise ValueError(f"subsample: sizes must be >= 1, got {size}.")
        return split_indices(y, seed, train_size=size)[0]

    train, test = pick(splits.y_train, train_size), pick(splits.y_test, test_size)
    if train is None and test is None:
        return splits
    x_train, y_train = _take(splits.x_train, splits.y_train, train)
    x_test, y_test = _take(splits.x_test, splits.y_test, test)
    return DatasetSplits(
        x_train,
        y_train,
        x_test,
        y_test,
        splits.num_classes,
        splits.class_names,
        f"{splits.name} ({len(y_train)} train / {len(y_test)} test)",
        mean=splits.mean,
        std=splits.std,
        standardize=splits.standardize,
        source=splits.source,
    )


def _take(x, y, index):
    return (x, y) if index is None else (x[index], y[index])
