"""Partial FC (An et al., 2021): the sampled-class loss against NumPy references."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_angular.layers import CosineDense
from keras_angular.losses import (
    AngularLoss,
    ArcFaceLoss,
    CosFaceLoss,
    HASeparatorLoss,
    NormFaceLoss,
    PartialFCLoss,
    SphereFaceLoss,
)
from keras_angular.losses.partial_fc import partial_fc_values, sample_classes


def _head(units, dim, seed=0):
    head = CosineDense(units, name="head")
    head.build((None, dim))
    head.kernel.assign(np.random.default_rng(seed).normal(size=(dim, units)).astype("float32"))
    return head


def _reference_sample(labels, noise, num_sampled):
    """The batch's classes, then the negatives of highest noise, up to S; sorted."""
    positives = sorted(set(labels.tolist()))
    negatives = [c for c in np.argsort(-noise) if c not in positives]
    return np.array(sorted(positives + negatives[: num_sampled - len(positives)]))


@pytest.mark.parametrize(
    "make", [NormFaceLoss, CosFaceLoss, ArcFaceLoss, SphereFaceLoss, AngularLoss, "has"]
)
def test_fraction_one_equals_the_full_head(make, rng):
    head = _head(12, 6)
    loss = HASeparatorLoss(head=head) if make == "has" else make()
    x = tf.constant(rng.normal(size=(9, 6)).astype("float32"))
    y = rng.integers(0, 12, size=9)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        full = loss(y, head(x))
        partial = PartialFCLoss(loss, 1.0, head=head, seed=0)(y, x)
    assert float(partial) == pytest.approx(float(full), rel=1e-6, abs=1e-6)
    for a, b in zip(
        tape.gradient([full], [x, head.kernel]),
        tape.gradient([partial], [x, head.kernel]),
        strict=True,
    ):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-5, atol=1e-6)


def test_sampled_set_holds_the_positives_and_has_size_s(rng):
    c, s = 50, 10
    for _ in range(5):
        labels = rng.integers(0, c, size=6)
        noise = rng.random(c).astype("float32")
        index, sampled, valid = sample_classes(tf.constant(labels, "int32"), c, s, noise)
        index = np.asarray(index)
        assert index.shape == (s,)
        np.testing.assert_array_equal(index, _reference_sample(labels, noise, s))
        np.testing.assert_array_equal(index[np.asarray(sampled)], labels)
        assert np.asarray(valid).all()
    # more classes in the batch than S: the left-out ones are flagged, their loss NaN
    labels = np.arange(12)
    _, _, valid = sample_classes(tf.constant(labels, "int32"), c, s, np.zeros(c, "float32"))
    assert np.asarray(valid).sum() == s


def test_loss_and_gradient_over_the_sampled_classes(rng):
    c, dim, r = 40, 5, 0.2
    head = _head(c, dim, seed=1)
    kernel = np.asarray(head.kernel, dtype=np.float64)
    x = rng.normal(size=(6, dim)).astype("float32")
    y = rng.integers(0, c, size=6)
    noise = rng.random(c).astype("float32")
    s = math.ceil(r * c)
    index = _reference_sample(y, noise, s)
    # NumPy ArcFace over the sampled columns only (s = 16, m = 0.3)
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    w = kernel[:, index] / np.linalg.norm(kernel[:, index], axis=0)
    cos = u @ w
    target = np.searchsorted(index, y)
    logits = 16.0 * cos
    rows = np.arange(6)
    logits[rows, target] = 16.0 * np.cos(np.arccos(cos[rows, target]) + 0.3)
    expected = np.log(np.exp(logits).sum(axis=1)) - logits[rows, target]
    loss = ArcFaceLoss(16.0, 0.3)
    with tf.GradientTape() as tape:
        values, valid = partial_fc_values(loss, tf.constant(y, "int32"), x, head.kernel, r, noise)
        total = tf.reduce_sum(values)
    np.testing.assert_allclose(np.asarray(values), expected, rtol=1e-5)
    assert np.asarray(valid).all()
    # the gradient: that of the loss over a head holding only the sampled columns,
    # zero for every other column
    grad = np.asarray(tape.gradient(total, head.kernel))
    small = _head(s, dim)
    small.kernel.assign(kernel[:, index].astype("float32"))
    with tf.GradientTape() as tape:
        reference = tf.reduce_sum(loss.fn(target, small(x), scale=16.0, margin=0.3))
    np.testing.assert_allclose(grad[:, index], tape.gradient(reference, small.kernel), atol=1e-5)
    others = np.setdiff1d(np.arange(c), index)
    assert np.all(grad[:, others] == 0)


def test_seeded_negatives_are_uniform_and_fit_trains(rng):
    c, dim = 50, 4
    head = _head(c, dim)
    loss = PartialFCLoss(NormFaceLoss(), 0.2, head=head, seed=3)
    y = np.arange(4)  # 4 positives, S = 10: 6 of the 46 negatives per step
    counts = np.zeros(c)
    draws = 300

    @tf.function
    def draw():  # one step's sample, as the loss draws it (graph: fast)
        noise = keras.random.uniform((c,), seed=loss.seed_generator)
        return sample_classes(tf.constant(y, "int32"), c, 10, noise)[0]

    for _ in range(draws):
        counts[np.asarray(draw())] += 1
    assert np.all(counts[:4] == draws)
    share = counts[4:] / draws  # each negative: 6/46 = 0.13 per step in expectation
    assert share.mean() == pytest.approx(6 / 46, abs=1e-9)
    assert share.min() > 0.06 and share.max() < 0.22  # binomial(300, 0.13): +-4.5 SD
    # the same seed draws the same sequence
    again = PartialFCLoss(NormFaceLoss(), 0.2, head=head, seed=3)
    first = keras.random.uniform((c,), seed=again.seed_generator)
    np.testing.assert_array_equal(
        first, keras.random.uniform((c,), seed=keras.random.SeedGenerator(3))
    )
    # in model.fit: the loss on the embedding output, the full head served for inference
    inputs = keras.Input((8,))
    embedding = keras.layers.Dense(dim, name="embedding")(inputs)
    model = keras.Model(inputs, {"logits": head(embedding), "embedding": embedding})
    model.compile("adam", loss={"embedding": PartialFCLoss(NormFaceLoss(), 0.2, head=head, seed=0)})
    xs = rng.normal(size=(64, 8)).astype("float32")
    ys = rng.integers(0, c, size=64)
    before = np.asarray(head.kernel).copy()
    history = model.fit(xs, {"embedding": ys}, batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert not np.allclose(before, np.asarray(head.kernel))
