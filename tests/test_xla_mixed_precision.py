"""XLA and mixed precision for every head and loss. Nothing here is timed.

* XLA: loss values and gradients (w.r.t. the embedding and the head's variables) of a
  ``tf.function(jit_compile=True)`` step equal the eager ones, for every method of the
  head + loss benchmark (``benchmarks/heads_and_losses.py``) and the paper-literal forms;
* mixed precision: under ``mixed_float16`` and ``mixed_bfloat16`` every loss gives
  finite values and finite (loss-scaled, then unscaled) gradients on a half-precision
  embedding, also with degenerate inputs (identical pairs, an embedding equal to its
  class weight); and ``model.fit`` of a few steps stays finite under each policy.
"""

import os
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

sys.path.insert(
    0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")
)
import heads_and_losses as bench  # noqa: E402

BATCH, WIDTH, CLASSES = 12, 16, 5
ALL_FORMS = (*bench.METHODS, *bench.LITERAL_FORMS)
POLICIES = ("mixed_float16", "mixed_bfloat16")


@pytest.fixture
def restore_policy():
    previous = keras.config.dtype_policy()
    yield
    keras.config.set_dtype_policy(previous)


def _inputs(dtype="float32", seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(BATCH, WIDTH)).astype("float32")
    x[BATCH // 2 :][:2] = x[:2]  # identical AMC pairs: geodesic distance 0
    y = rng.integers(0, CLASSES, size=BATCH).astype("int32")
    y[BATCH // 2 :][:2] = y[:2]
    return tf.constant(x, dtype=dtype), tf.constant(y)


def _loss_and_gradients(forward, head, x, y):
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = forward(x, y)
    return loss, tape.gradient(loss, [x, *head.trainable_variables])


def _centers_of(forward):
    """The CenterLoss centres a bench candidate's forward closes over, if any."""
    for cell in forward.__closure__ or ():
        value = cell.cell_contents
        if isinstance(value, dict) and "embedding" in value:
            return getattr(value["embedding"], "centers", None)
    return None


@pytest.mark.parametrize("name", ALL_FORMS)
def test_xla_matches_eager(name):
    keras.utils.set_random_seed(0)
    head, forward = bench.build_candidate(name, CLASSES)
    head.build((BATCH, WIDTH))
    x, y = _inputs()

    eager_loss, eager_grads = _loss_and_gradients(forward, head, x, y)
    centers = _centers_of(forward)
    eager_centers = None
    if centers is not None:  # the centre update ran with the gradient: start XLA afresh
        eager_centers = centers.numpy()
        assert np.abs(eager_centers).sum() > 0  # the eager step moved the centres
        centers.assign(np.zeros_like(eager_centers))

    compiled = tf.function(lambda x, y: _loss_and_gradients(forward, head, x, y), jit_compile=True)
    xla_loss, xla_grads = compiled(x, y)

    np.testing.assert_allclose(float(xla_loss), float(eager_loss), rtol=1e-5, atol=1e-6)
    for got, expected in zip(xla_grads, eager_grads, strict=True):
        assert got is not None and expected is not None
        np.testing.assert_allclose(np.asarray(got), np.asarray(expected), rtol=1e-4, atol=1e-6)
    if centers is not None:
        np.testing.assert_allclose(centers.numpy(), eager_centers, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("policy", POLICIES)
def test_mixed_precision_losses_and_gradients_are_finite(policy, restore_policy):
    keras.config.set_dtype_policy(policy)
    compute = keras.config.dtype_policy().compute_dtype
    scale = 2.0**15 if compute == "float16" else 1.0  # LossScaleOptimizer's initial scale
    for name in bench.METHODS:
        keras.utils.set_random_seed(0)
        head, forward = bench.build_candidate(name, CLASSES)
        head.build((BATCH, WIDTH))
        x, y = _inputs(compute)
        # An embedding equal to its class's weight (cos = 1 in half precision).
        kernel = head.trainable_variables[0]
        row = tf.cast(tf.gather(tf.transpose(kernel), y[0]), compute)
        x = tf.tensor_scatter_nd_update(x, [[0]], row[None] * 3.0)
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = forward(x, y)
            scaled = loss * scale
        gradients = tape.gradient(scaled, [x, *head.trainable_variables])
        assert np.isfinite(float(loss)), (policy, name)
        for gradient in gradients:
            unscaled = tf.cast(gradient, "float32") / scale
            assert np.all(np.isfinite(unscaled.numpy())), (policy, name)


@pytest.mark.parametrize("policy", POLICIES)
def test_model_fit_under_mixed_precision_stays_finite(policy, restore_policy):
    """One model, every method's head on a shared half-precision embedding: one compile."""
    keras.config.set_dtype_policy(policy)
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 20)).astype("float32")
    y = rng.integers(0, CLASSES, size=64).astype("int32")
    inputs = keras.Input((20,))
    embedding = keras.layers.Dense(WIDTH, name="embedding")(inputs)
    assert embedding.dtype == keras.config.dtype_policy().compute_dtype
    outputs, losses = {}, {}
    for name in bench.METHODS:
        head, loss = bench.method_head_and_loss(name, CLASSES)
        head.name = f"head_{name}"
        outputs[name] = head(embedding)
        losses[name] = loss["logits"]
        if "embedding" in loss:
            outputs[f"{name}_embedding"] = keras.layers.Identity()(embedding)
            losses[f"{name}_embedding"] = loss["embedding"]
    model = keras.Model(inputs, outputs)
    model.compile(keras.optimizers.Adam(1e-2), loss=losses, jit_compile=False)
    if policy == "mixed_float16":
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    targets = {key: y for key in outputs}
    history = model.fit(x, targets, batch_size=32, epochs=2, verbose=0, shuffle=False)
    applied = int(model.optimizer.iterations.numpy())
    if policy == "mixed_float16":  # dynamic loss scaling skips the steps that overflow
        assert 1 <= applied <= 4
    else:
        assert applied == 4
    for key, values in history.history.items():
        assert np.all(np.isfinite(values)), (policy, key, values)
    for weight in model.trainable_weights:
        assert np.all(np.isfinite(np.asarray(weight, dtype="float32"))), (policy, weight.path)
