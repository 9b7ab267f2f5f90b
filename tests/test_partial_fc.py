"""Partial FC (An et al., 2021): the sampled-class loss against NumPy references."""

import math

import keras
import numpy as np
import pytest
from backend_tools import BACKEND, slow_on_jax, to_numpy, value_and_grad
from keras import ops

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


@pytest.mark.backends
@pytest.mark.parametrize(
    "make",
    [
        *(slow_on_jax(make) for make in (NormFaceLoss, CosFaceLoss, ArcFaceLoss)),
        *(slow_on_jax(make) for make in (SphereFaceLoss, AngularLoss)),
        "has",
    ],
)
def test_fraction_one_equals_the_full_head(make, rng):
    head = _head(12, 6)
    loss = HASeparatorLoss(head=head) if make == "has" else make()
    x = rng.normal(size=(9, 6)).astype("float32")
    y = rng.integers(0, 12, size=9)
    partial_loss = PartialFCLoss(loss, 1.0, head=head, seed=0)
    full, full_grads = value_and_grad(lambda z, k: loss(y, head(z)), x, head.kernel)
    partial, partial_grads = value_and_grad(lambda z, k: partial_loss(y, z), x, head.kernel)
    assert float(partial) == pytest.approx(float(full), rel=1e-6, abs=1e-6)
    for a, b in zip(full_grads, partial_grads, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


@pytest.mark.backends
def test_sampled_set_holds_the_positives_and_has_size_s(rng):
    c, s = 50, 10
    for _ in range(5):
        labels = rng.integers(0, c, size=6)
        noise = rng.random(c).astype("float32")
        labels_t = ops.convert_to_tensor(labels, "int32")
        index, sampled, valid = map(to_numpy, sample_classes(labels_t, c, s, noise))
        assert index.shape == (s,)
        np.testing.assert_array_equal(index, _reference_sample(labels, noise, s))
        np.testing.assert_array_equal(index[sampled], labels)
        assert valid.all()
    # more classes in the batch than S: the left-out ones are flagged, their loss NaN
    labels = ops.convert_to_tensor(np.arange(12), "int32")
    _, _, valid = sample_classes(labels, c, s, np.zeros(c, "float32"))
    assert to_numpy(valid).sum() == s


@pytest.mark.backends
def test_loss_and_gradient_over_the_sampled_classes(rng):
    c, dim, r = 40, 5, 0.2
    head = _head(c, dim, seed=1)
    kernel = to_numpy(head.kernel).astype(np.float64)
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
    labels = ops.convert_to_tensor(y, "int32")
    values, valid = map(to_numpy, partial_fc_values(loss, labels, x, head.kernel, r, noise))
    np.testing.assert_allclose(values, expected, rtol=1e-5)
    assert valid.all()
    # the gradient: that of the loss over a head holding only the sampled columns,
    # zero for every other column
    _, (grad,) = value_and_grad(
        lambda k: partial_fc_values(loss, labels, x, head.kernel, r, noise)[0], head.kernel
    )
    small = _head(s, dim)
    small.kernel.assign(kernel[:, index].astype("float32"))
    _, (reference,) = value_and_grad(
        lambda k: loss.fn(target, small(x), scale=16.0, margin=0.3), small.kernel
    )
    np.testing.assert_allclose(grad[:, index], reference, atol=1e-5)
    others = np.setdiff1d(np.arange(c), index)
    assert np.all(grad[:, others] == 0)


def _reference_arcface_over(index, kernel, x, y, scale=16.0, margin=0.3):
    """NumPy ArcFace (Eq. 3 of Deng et al.) over the kernel columns ``index`` only."""
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    w = kernel[:, index] / np.linalg.norm(kernel[:, index], axis=0)
    cos = u @ w
    target = np.searchsorted(index, y)
    rows = np.arange(len(y))
    logits = scale * cos
    logits[rows, target] = scale * np.cos(np.arccos(cos[rows, target]) + margin)
    return np.log(np.exp(logits).sum(axis=1)) - logits[rows, target]


@pytest.mark.backends
@pytest.mark.parametrize("distinct", [8, 5])
def test_a_batch_with_more_classes_than_s_keeps_every_positive(distinct, rng):
    """C = 20, r = 0.1: S = 2 columns, but the batch of 8 holds 8 (or 5) classes; the step
    keeps max(S, B) = 8 columns (every positive, then the negatives of highest noise), as
    insightface keeps every positive. Before, the left-out positives' losses were NaN."""
    c, dim, batch = 20, 5, 8
    head = _head(c, dim, seed=2)
    kernel = to_numpy(head.kernel).astype(np.float64)
    x = rng.normal(size=(batch, dim)).astype("float32")
    y = np.resize(rng.permutation(c)[:distinct], batch)
    noise = rng.random(c).astype("float32")
    index = _reference_sample(y, noise, batch)
    expected = _reference_arcface_over(index, kernel, x, y)
    loss = ArcFaceLoss(16.0, 0.3)
    labels = ops.convert_to_tensor(y, "int32")
    values, valid = map(to_numpy, partial_fc_values(loss, labels, x, head.kernel, 0.1, noise))
    assert valid.all()
    np.testing.assert_allclose(values, expected, rtol=1e-5)
    if BACKEND == "tensorflow":  # a graph of unknown batch size: the column count is a tensor
        import tensorflow as tf

        @tf.function(input_signature=[tf.TensorSpec((None,), tf.int32)] * 1)
        def graph(labels):
            return partial_fc_values(loss, labels, x, head.kernel, 0.1, noise)[0]

        np.testing.assert_allclose(to_numpy(graph(labels)), expected, rtol=1e-5)


@pytest.mark.backends
def test_seeded_negatives_are_uniform_and_fit_trains(rng):
    c, dim = 50, 4
    head = _head(c, dim)
    loss = PartialFCLoss(NormFaceLoss(), 0.2, head=head, seed=3)
    y = np.arange(4)  # 4 positives, S = 10: 6 of the 46 negatives per step
    counts = np.zeros(c)
    draws = 300

    labels = ops.convert_to_tensor(y, "int32")

    def draw():  # one step's sample, as the loss draws it
        noise = keras.random.uniform((c,), seed=loss.seed_generator)
        return sample_classes(labels, c, 10, noise)[0]

    if BACKEND == "tensorflow":  # a graph: fast (a JAX jit cannot advance the seed state)
        import tensorflow as tf

        draw = tf.function(draw)
    for _ in range(draws):
        counts[to_numpy(draw())] += 1
    assert np.all(counts[:4] == draws)
    share = counts[4:] / draws  # each negative: 6/46 = 0.13 per step in expectation
    assert share.mean() == pytest.approx(6 / 46, abs=1e-9)
    assert share.min() > 0.06 and share.max() < 0.22  # binomial(300, 0.13): +-4.5 SD
    # the same seed draws the same sequence
    again = PartialFCLoss(NormFaceLoss(), 0.2, head=head, seed=3)
    first = keras.random.uniform((c,), seed=again.seed_generator)
    np.testing.assert_array_equal(
        to_numpy(first), to_numpy(keras.random.uniform((c,), seed=keras.random.SeedGenerator(3)))
    )


def _fit_partial_fc(rng, sample_fraction, optimizer, ys, c=50, dim=4):
    """model.fit with the loss on the embedding output, the full head served for
    inference; returns the history and the kernel before and after."""
    head = _head(c, dim)
    inputs = keras.Input((8,))
    embedding = keras.layers.Dense(dim, name="embedding")(inputs)
    model = keras.Model(inputs, {"logits": head(embedding), "embedding": embedding})
    loss = PartialFCLoss(NormFaceLoss(), sample_fraction, head=head, seed=0)
    model.compile(optimizer, loss={"embedding": loss})
    xs = rng.normal(size=(len(ys), 8)).astype("float32")
    before = to_numpy(head.kernel).copy()
    history = model.fit(xs, {"embedding": ys}, batch_size=8, epochs=1, verbose=0, shuffle=False)
    return history, before, to_numpy(head.kernel)


@pytest.mark.backends
def test_fit_trains_and_draws_new_negatives_every_step(rng):
    """16 SGD steps on 4 classes (S = 10: 6 negatives a step): the kernel columns that move
    are the 4 positives and every negative drawn at some step - with fresh draws each
    step, 46 * (1 - (40/46)^16) = 41 of the 46 expected, 10 if every step drew the same."""
    ys = np.repeat(np.arange(4), 32)[rng.permutation(128)]
    if BACKEND == "jax":  # the step cannot advance the seed state: refused, not frozen
        with pytest.raises(RuntimeError, match="the same classes at every step"):
            _fit_partial_fc(rng, 0.2, keras.optimizers.SGD(0.1), ys)
        history, before, after = _fit_partial_fc(rng, 1.0, keras.optimizers.SGD(0.1), ys)
        assert np.isfinite(history.history["loss"][0])
        assert not np.allclose(before, after)
        return
    history, before, after = _fit_partial_fc(rng, 0.2, keras.optimizers.SGD(0.1), ys)
    assert np.isfinite(history.history["loss"][0])
    moved = np.flatnonzero(np.abs(after - before).sum(axis=0) > 0)
    assert set(range(4)) <= set(moved.tolist())
    assert len(moved) > 30, len(moved)
    ys = rng.integers(0, 50, size=64)  # Adam, and classes from all 50
    history, before, after = _fit_partial_fc(rng, 0.2, "adam", ys)
    assert np.isfinite(history.history["loss"][0])
    assert not np.allclose(before, after)
