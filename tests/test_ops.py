"""keras_angular.ops and the heads in keras_angular.layers against the NumPy references."""

import keras
import numpy as np
import pytest
import reference as ref
import tensorflow as tf

from keras_angular import layers, ops


def _problem(rng, batch, dim, num_classes):
    e = rng.normal(size=(batch, dim)).astype(np.float32)
    w = rng.normal(size=(dim, num_classes)).astype(np.float32)
    y = rng.integers(0, num_classes, size=batch).astype(np.int32)
    return e, w, y


# ---------------------------------------------------------------------------------------
# l2_normalize
# ---------------------------------------------------------------------------------------
def test_l2_normalize_matches_reference(rng):
    x = rng.normal(size=(5, 7)).astype(np.float32)
    np.testing.assert_allclose(ops.l2_normalize(x), ref.l2_normalize(x), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(
        ops.l2_normalize(x, axis=0), ref.l2_normalize(x, axis=0), rtol=1e-6, atol=1e-7
    )


def test_l2_normalize_zero_vector_is_zero_with_finite_gradient():
    x = tf.constant([[0.0, 0.0, 0.0], [3.0, 0.0, 4.0]])
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = ops.l2_normalize(x)
        total = tf.reduce_sum(out * tf.constant([[1.0, 2.0, 3.0]]))
    grad = tape.gradient(total, x)
    np.testing.assert_array_equal(np.asarray(out)[0], [0.0, 0.0, 0.0])
    np.testing.assert_allclose(np.asarray(out)[1], [0.6, 0.0, 0.8], rtol=1e-6)
    assert np.all(np.isfinite(grad.numpy()))


# ---------------------------------------------------------------------------------------
# safe_acos
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_safe_acos_finite_value_and_gradient_at_plus_minus_one(dtype):
    x = tf.constant([-1.0, -0.5, 0.0, 0.5, 1.0], dtype=dtype)
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = ops.safe_acos(x)
        total = tf.reduce_sum(out)
    grad = tape.gradient(total, x)
    assert out.dtype == x.dtype
    assert grad.dtype == x.dtype
    values = tf.cast(out, "float32").numpy()
    grads = tf.cast(grad, "float32").numpy()
    assert np.all(np.isfinite(values)), values
    assert np.all(np.isfinite(grads)), grads
    # the clip at 1 - 1e-7 (float32) moves the endpoints by about 5e-4
    tol = 1e-5 if dtype == "float32" else 2e-2
    np.testing.assert_allclose(values, np.arccos([-1.0, -0.5, 0.0, 0.5, 1.0]), atol=1e-3)
    np.testing.assert_allclose(values[1:4], np.arccos([-0.5, 0.0, 0.5]), rtol=tol)
    # Interior gradient is -1 / sqrt(1 - x^2).
    np.testing.assert_allclose(
        grads[1:4], -1.0 / np.sqrt(1.0 - np.array([0.25, 0.0, 0.25])), rtol=tol
    )


def test_safe_acos_clips_to_epsilon_in_float32():
    out = ops.safe_acos(np.array([1.0, -1.0], np.float32)).numpy()
    one_minus = np.float32(1.0) - np.float32(1e-7)
    np.testing.assert_allclose(out[0], np.arccos(np.float64(one_minus)), rtol=1e-3)
    np.testing.assert_allclose(out[1], np.pi - np.arccos(np.float64(one_minus)), rtol=1e-6)
    assert out[0] > 0.0  # clipped, not exactly arccos(1) = 0


def test_safe_acos_graph_and_xla():
    fn = tf.function(lambda t: ops.safe_acos(t), jit_compile=True)
    out = fn(tf.constant([-1.0, 0.3, 1.0])).numpy()
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out[1], np.arccos(0.3), rtol=1e-6)


# ---------------------------------------------------------------------------------------
# gram rows and hyperplane projections
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("batch,num_classes", [(4, 10), (16, 5), (6, 6)])
def test_gram_rows_both_code_paths(rng, batch, num_classes):
    _, w, y = _problem(rng, batch, 8, num_classes)
    unit = ops.l2_normalize(w, axis=0)
    got = ops.gram_rows(tf.constant(y), unit)
    np.testing.assert_allclose(got, ref.gram_rows(w, y), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("batch,dim,num_classes", [(4, 8, 10), (16, 6, 5), (7, 12, 3), (3, 5, 40)])
def test_hyperplane_projections_closed_form_vs_literal(rng, batch, dim, num_classes):
    e, w, y = _problem(rng, batch, dim, num_classes)
    cosines = ref.cosine_dense(e, w).astype(np.float32)
    literal = ref.hyperplane_projections_literal(e, w, y)
    closed = ops.hyperplane_projections(y, cosines, w).numpy()
    einsum = ops.hyperplane_projections_einsum(y, e, w).numpy()
    assert closed.shape == (batch, num_classes)
    np.testing.assert_allclose(closed, literal, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(einsum, literal, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(closed, einsum, rtol=1e-5, atol=1e-5)
    # target column is exactly zero (excluded)
    np.testing.assert_array_equal(closed[np.arange(batch), y], 0.0)


def test_hyperplane_projections_with_cosines_from_cosine_dense(rng):
    e, w, y = _problem(rng, 6, 8, 4)
    head = layers.CosineDense(4)
    head.build((None, 8))
    head.kernel.assign(w)
    closed = ops.hyperplane_projections(y, head(e), head.kernel).numpy()
    np.testing.assert_allclose(closed, ref.hyperplane_projections_literal(e, w, y), atol=1e-5)


def test_hyperplane_projections_projection_on_normal_is_a_cosine(rng):
    # p_j = e . (w_y - w_j)/||w_y - w_j|| lies in [-1, 1]; the half angle identity
    # gives p_j = sin of the angular difference for coplanar 2-d vectors.
    w = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)  # w_0 = e_x, w_1 = e_y
    e = np.array([[1.0, 0.0]], np.float32)  # on w_0
    p = ops.hyperplane_projections([0], ref.cosine_dense(e, w).astype(np.float32), w).numpy()
    np.testing.assert_allclose(p, [[0.0, np.sqrt(0.5)]], atol=1e-6)


def test_hyperplane_projections_identical_class_weights_are_finite(rng):
    e, w, y = _problem(rng, 5, 6, 4)
    w[:, 2] = w[:, 1]  # zero normal between classes 1 and 2
    y[:] = [1, 2, 0, 1, 3]
    cosines = tf.constant(ref.cosine_dense(e, w).astype(np.float32))
    kernel = tf.constant(w)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([cosines, kernel])
        closed = ops.hyperplane_projections(y, cosines, kernel)
        einsum = ops.hyperplane_projections_einsum(y, e, kernel)
        total_c = tf.reduce_sum(closed)
        total_e = tf.reduce_sum(einsum)
    literal = ref.hyperplane_projections_literal(e, w, y)
    assert np.all(np.isfinite(closed.numpy()))
    assert np.all(np.isfinite(einsum.numpy()))
    np.testing.assert_allclose(closed.numpy(), literal, atol=1e-5)
    np.testing.assert_allclose(einsum.numpy(), literal, atol=1e-5)
    # the zero off-target normal projects to 0
    assert abs(closed.numpy()[0, 2]) < 1e-5 and abs(closed.numpy()[1, 1]) < 1e-5
    for g in tape.gradient(total_c, [cosines, kernel]) + tape.gradient(total_e, [kernel]):
        assert np.all(np.isfinite(g.numpy()))


def test_hyperplane_projections_xla(rng):
    e, w, y = _problem(rng, 8, 6, 5)
    cosines = ref.cosine_dense(e, w).astype(np.float32)
    fn = tf.function(ops.hyperplane_projections, jit_compile=True)
    got = fn(tf.constant(y), tf.constant(cosines), tf.constant(w)).numpy()
    np.testing.assert_allclose(got, ref.hyperplane_projections_literal(e, w, y), atol=1e-5)


# ---------------------------------------------------------------------------------------
# halves pairing
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("batch", [1, 2, 5, 8])
def test_half_pairs(batch):
    x = np.arange(batch * 3, dtype=np.float32).reshape(batch, 3)
    first, second = ops.half_pairs(x)
    half = batch // 2
    np.testing.assert_array_equal(first, x[:half])
    np.testing.assert_array_equal(second, x[half : 2 * half])


@pytest.mark.parametrize("batch", [1, 2, 5, 8, 9])
def test_pair_values_to_samples_batch_mean_is_pair_mean(batch):
    half = batch // 2
    values = np.arange(1, half + 1, dtype=np.float32)
    samples = ops.pair_values_to_samples(tf.constant(values), batch).numpy()
    assert samples.shape == (batch,)
    expected = values.mean() if half else 0.0
    np.testing.assert_allclose(samples.mean(), expected, rtol=1e-6, atol=0)
    if batch % 2:
        assert samples[-1] == 0.0
    # both members of a pair get the same value
    np.testing.assert_array_equal(samples[:half], samples[half : 2 * half])


# ---------------------------------------------------------------------------------------
# heads
# ---------------------------------------------------------------------------------------
def test_cosine_dense_and_weights_biased_dense(rng):
    x = rng.normal(size=(4, 6)).astype(np.float32)
    cos_head = layers.CosineDense(3)
    wb_head = layers.WeightsBiasedDense(3)
    out_cos = cos_head(x).numpy()
    out_wb = wb_head(x).numpy()
    assert cos_head.kernel.shape == (6, 3) and wb_head.kernel.shape == (6, 3)
    assert len(cos_head.weights) == 1 and len(wb_head.weights) == 1  # no bias
    np.testing.assert_allclose(out_cos, ref.cosine_dense(x, cos_head.kernel.numpy()), atol=1e-6)
    np.testing.assert_allclose(
        out_wb, ref.weights_biased_dense(x, wb_head.kernel.numpy()), rtol=1e-5, atol=1e-5
    )
    assert np.all(np.abs(out_cos) <= 1.0 + 1e-6)
    # zero feature vector gives all-zero cosines
    np.testing.assert_array_equal(cos_head(np.zeros((1, 6), np.float32)).numpy(), 0.0)


def test_heads_in_model_are_trainable():
    inp = keras.Input((4,))
    out = layers.CosineDense(3)(inp)
    model = keras.Model(inp, out)
    assert len(model.trainable_weights) == 1


def test_zero_hyperplane_normal_has_no_amplified_gradient():
    """Two identical class weights: their normal is zero; p = 0 with zero gradient,
    not the ~1e6 x upstream that normalising a rounding-noise vector would give."""
    rng = np.random.default_rng(5)
    w = rng.normal(size=(8, 4)).astype(np.float32)
    w[:, 2] = w[:, 1]
    e = tf.constant(rng.normal(size=(5, 8)).astype(np.float32))
    y = np.array([1, 0, 2, 3, 1])
    kernel = tf.Variable(w)
    with tf.GradientTape() as tape:
        tape.watch(e)
        cosines = tf.linalg.l2_normalize(e, 1) @ tf.linalg.l2_normalize(kernel, 0)
        p = ops.hyperplane_projections(y, cosines, kernel)
        total = tf.reduce_sum(p)
    np.testing.assert_array_equal(p.numpy()[[0, 4], 2], 0.0)  # class 1 vs its twin 2
    np.testing.assert_array_equal(p.numpy()[2, 1], 0.0)  # class 2 vs its twin 1
    gradient = tape.gradient(total, [e, kernel])
    # every term is a difference of cosines over a normal of length >= ~0.1 here
    assert max(float(tf.reduce_max(tf.abs(g))) for g in gradient) < 100.0


# --------------------------------------------------------------------------- #
# the one label policy and the one l2_normalize
# --------------------------------------------------------------------------- #
def test_one_label_policy_for_ops_losses_metrics_and_callbacks():
    from keras_angular import metrics
    from keras_angular.callbacks import GeometryMetrics
    from keras_angular.losses import NormFaceLoss

    one_hot = np.eye(3, dtype=np.float32)[[0, 1, 2, 1]]
    refusals = [
        lambda: ops.checked_labels(one_hot, 3, "owner"),
        lambda: NormFaceLoss()(one_hot, np.zeros((4, 3), np.float32)),
        lambda: metrics.class_indices(one_hot),
        lambda: metrics.angle_statistics(np.eye(4, 3), one_hot, np.eye(3)),
        lambda: GeometryMetrics(np.zeros((4, 3)), one_hot),
    ]
    for refuse in refusals:
        with pytest.raises(
            ValueError,
            match=r"must be integer class indices of shape \(batch,\) "
            r"or \(batch, 1\), got shape \(4, 3\) - one-hot labels\?",
        ):
            refuse()
    # integer-valued floats, as Keras hands y_true to a loss, are accepted everywhere
    floats = np.array([[0.0], [2.0], [1.0], [1.0]], np.float32)
    np.testing.assert_array_equal(ops.checked_labels(floats, 3)[0].numpy(), [0, 2, 1, 1])
    np.testing.assert_array_equal(metrics.class_indices(floats, 4, 3), [0, 2, 1, 1])


def test_one_l2_normalize_for_tensors_and_arrays(rng):
    from keras_angular import conventions, metrics

    x = rng.normal(size=(5, 3))
    x[2] = 0.0
    x[3] = 1e-7  # below the floor: scaled by 1e6, not to unit length - in both
    tensor = ops.l2_normalize(tf.constant(x)).numpy()
    array = conventions.l2_normalize(x)
    np.testing.assert_allclose(tensor, array, rtol=1e-12, atol=0)
    assert array[2].tolist() == [0.0, 0.0, 0.0]
    angles = metrics.angle_between(x, x)
    np.testing.assert_allclose(angles[3, 3], np.arccos(np.clip(np.sum(array[3] ** 2), -1, 1)))
    assert ops.l2_normalize is not conventions.l2_normalize  # tensors in, tensors out
    assert metrics.l2_normalize is conventions.l2_normalize
