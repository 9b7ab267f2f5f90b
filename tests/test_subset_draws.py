"""Subsets and sample counts against what the docstrings promise.

* ``PreciseBatchNorm`` keeps ``num_samples`` *distinct* images, drawn from its ``seed``.
* ``embedding_scores(..., max_samples=n)`` scores the subset drawn without replacement
  by ``numpy.random.default_rng(seed)``; precision@1 is checked against a NumPy one.
* ``num_sampled_classes`` is ``ceil(fraction * C)``.
"""

import numpy as np

from keras_angular.callbacks import PreciseBatchNorm
from keras_angular.losses import partial_fc
from keras_angular.retrieval import RETRIEVAL_KEYS, embedding_scores


def _rows(images):
    return {tuple(row) for row in np.asarray(images).reshape(len(images), -1).tolist()}


def test_precise_batch_norm_subset_holds_distinct_rows_of_the_images():
    images = np.arange(1600).reshape(400, 4)  # every row distinct
    subset = PreciseBatchNorm(images, num_samples=100, seed=3).images
    assert subset.shape == (100, 4)
    assert len(_rows(subset)) == 100  # drawn with replacement: about 93
    assert _rows(subset) <= _rows(images)


def test_precise_batch_norm_seed_picks_the_images():
    images = np.arange(1600).reshape(400, 4)
    three = _rows(PreciseBatchNorm(images, num_samples=100, seed=3).images)
    again = _rows(PreciseBatchNorm(images, num_samples=100, seed=3).images)
    four = _rows(PreciseBatchNorm(images, num_samples=100, seed=4).images)
    assert three == again
    assert three != four
    # fewer images than num_samples: all of them, whatever the seed
    assert _rows(PreciseBatchNorm(images[:50], num_samples=100, seed=4).images) == _rows(
        images[:50]
    )


def _precision_at_1(x, y):
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    cos = unit @ unit.T
    np.fill_diagonal(cos, -np.inf)
    return float(np.mean(y[cos.argmax(axis=1)] == y))


def test_embedding_scores_subset_is_the_documented_draw_without_replacement():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4))
    y = np.arange(200) % 20
    scores = embedding_scores(x, y, max_samples=150, seed=5)
    keep = np.sort(np.random.default_rng(5).choice(200, 150, replace=False))
    assert scores["precision_at_1"] == np.float64(_precision_at_1(x[keep], y[keep]))
    expected = embedding_scores(x[keep], y[keep], seed=5)
    for key in RETRIEVAL_KEYS:
        np.testing.assert_allclose(scores[key], expected[key], rtol=1e-12, err_msg=key)
    # random data: precision@1 near chance (1/20); duplicates would find themselves
    assert scores["precision_at_1"] < 0.2


def test_num_sampled_classes_rounds_up():
    assert partial_fc.num_sampled_classes(15, 0.1) == 2
    assert partial_fc.num_sampled_classes(1001, 0.1) == 101
    assert partial_fc.num_sampled_classes(10, 0.1) == 1
    assert partial_fc.num_sampled_classes(10, 0.01) == 1  # at least one
    assert partial_fc.num_sampled_classes(10, 1.0) == 10
