"""data.subsampling: the seeded, class-stratified subset and the train / test split indices."""

import numpy as np
import pytest

from keras_angular.data import DatasetSplits, subsample
from keras_angular.data.subsampling import split_indices


def _id_splits(y_train, y_test):
    """Splits whose image ``i`` holds the value ``i``: a subset's images name the picks."""

    def ids(n):
        return np.arange(n, dtype=np.float32).reshape(n, 1, 1, 1)

    k = int(max(np.max(y_train), np.max(y_test))) + 1
    return DatasetSplits(
        ids(len(y_train)), y_train, ids(len(y_test)), y_test, k, [str(c) for c in range(k)], "ids"
    )


def _picks(x):
    return x.reshape(-1).astype(int)


def test_subsample_is_exact_stratified_and_a_subset():
    y_train = np.repeat(np.arange(4), [50, 30, 15, 5])  # 100 images, shares .5 .3 .15 .05
    y_test = np.tile(np.arange(4), 10)
    splits = _id_splits(y_train, y_test)
    small = subsample(splits, 40, 12, seed=1)
    assert (len(small.y_train), len(small.y_test)) == (40, 12)
    assert np.bincount(small.y_train, minlength=4).tolist() == [20, 12, 6, 2]
    assert np.bincount(small.y_test, minlength=4).tolist() == [3, 3, 3, 3]
    for x, y, full in (
        (small.x_train, small.y_train, y_train),
        (small.x_test, small.y_test, y_test),
    ):
        picks = _picks(x)
        assert len(set(picks.tolist())) == len(picks)  # no image twice
        np.testing.assert_array_equal(y, full[picks])  # each image keeps its own label
    assert not np.array_equal(np.sort(_picks(small.x_train)), _picks(small.x_train))  # shuffled
    assert small.name == "ids (40 train / 12 test)" and small.num_classes == 4


def test_subsample_is_seeded():
    y = np.repeat(np.arange(5), 40)
    splits = _id_splits(y, y)
    a, b, c = (subsample(splits, 50, 20, seed=s) for s in (3, 3, 4))
    np.testing.assert_array_equal(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.x_test, b.x_test)
    assert not np.array_equal(np.sort(_picks(a.x_train)), np.sort(_picks(c.x_train)))


def test_subsample_keeps_whole_splits_and_checks_sizes():
    y = np.repeat(np.arange(3), 10)
    splits = _id_splits(y, y)
    assert subsample(splits) is splits
    assert subsample(splits, 30, 99) is splits
    half = subsample(splits, 15, None)
    assert len(half.y_train) == 15 and half.x_test is splits.x_test
    with pytest.raises(ValueError, match="sizes must be >= 1"):
        subsample(splits, 0)


def test_subsample_without_room_to_stratify_still_gives_the_size():
    y = np.array([0] * 10 + [1] * 10 + [2])  # class 2 has one image: no stratified draw
    splits = _id_splits(y, y)
    small = subsample(splits, 6, 2, seed=0)  # 2 test slots for 3 classes
    assert (len(small.y_train), len(small.y_test)) == (6, 2)


def test_split_indices_is_a_stratified_partition():
    y = np.repeat(np.arange(3), [20, 10, 10])
    train, test = split_indices(y, seed=0, test_size=0.25)
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(40))
    counts = np.bincount(y[test], minlength=3).tolist()
    assert counts[0] == 5 and sorted(counts[1:]) == [2, 3]  # 10 test slots, shares 5 : 2.5 : 2.5
    again, _ = split_indices(y, seed=0, test_size=0.25)
    np.testing.assert_array_equal(train, again)
