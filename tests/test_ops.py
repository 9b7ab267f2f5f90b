"""keras_angular.ops and the heads in keras_angular.layers against the NumPy references."""

import keras
import numpy as np
import pytest
import reference as ref
from backend_tools import BACKEND, slow_on_jax, to_numpy, value_and_grad
from keras import ops as kops

from keras_angular import layers, ops


def _problem(rng, batch, dim, num_classes):
    e = rng.normal(size=(batch, dim)).astype(np.float32)
    w = rng.normal(size=(dim, num_classes)).astype(np.float32)
    y = rng.integers(0, num_classes, size=batch).astype(np.int32)
    return e, w, y


# ---------------------------------------------------------------------------------------
# l2_normalize
# ---------------------------------------------------------------------------------------
@pytest.mark.backends
def test_l2_normalize_matches_reference(rng):
    x = rng.normal(size=(5, 7)).astype(np.float32)
    np.testing.assert_allclose(ops.l2_normalize(x), ref.l2_normalize(x), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(
        ops.l2_normalize(x, axis=0), ref.l2_normalize(x, axis=0), rtol=1e-6, atol=1e-7
    )


@pytest.mark.backends
def test_l2_normalize_zero_vector_is_zero_with_finite_gradient():
    x = np.array([[0.0, 0.0, 0.0], [3.0, 0.0, 4.0]], np.float32)
    weights = np.array([[1.0, 2.0, 3.0]], np.float32)
    out = to_numpy(ops.l2_normalize(x))
    _, (grad,) = value_and_grad(lambda t: kops.sum(kops.multiply(ops.l2_normalize(t), weights)), x)
    np.testing.assert_array_equal(out[0], [0.0, 0.0, 0.0])
    np.testing.assert_allclose(out[1], [0.6, 0.0, 0.8], rtol=1e-6)
    assert np.all(np.isfinite(grad))


# ---------------------------------------------------------------------------------------
# safe_acos
# ---------------------------------------------------------------------------------------
@pytest.mark.backends
@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_safe_acos_finite_value_and_gradient_at_plus_minus_one(dtype):
    x = kops.convert_to_tensor([-1.0, -0.5, 0.0, 0.5, 1.0], dtype=dtype)
    out = ops.safe_acos(x)
    assert keras.backend.standardize_dtype(out.dtype) == dtype
    _, (grad,) = value_and_grad(ops.safe_acos, x)
    assert str(grad.dtype) == dtype
    values = to_numpy(out).astype(np.float32)
    grads = grad.astype(np.float32)
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
    # outside the clip range (at -1 and 1) no gradient, as the clip's own
    np.testing.assert_array_equal(grads[[0, 4]], 0.0)


@pytest.mark.backends
def test_safe_acos_clips_to_epsilon_in_float32():
    out = to_numpy(ops.safe_acos(np.array([1.0, -1.0], np.float32)))
    one_minus = np.float32(1.0) - np.float32(1e-7)
    np.testing.assert_allclose(out[0], np.arccos(np.float64(one_minus)), rtol=1e-3)
    np.testing.assert_allclose(out[1], np.pi - np.arccos(np.float64(one_minus)), rtol=1e-6)
    assert out[0] > 0.0  # clipped, not exactly arccos(1) = 0


def test_safe_acos_graph_and_xla():
    import tensorflow as tf

    fn = tf.function(lambda t: ops.safe_acos(t), jit_compile=True)
    out = fn(tf.constant([-1.0, 0.3, 1.0])).numpy()
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out[1], np.arccos(0.3), rtol=1e-6)


# ---------------------------------------------------------------------------------------
# gram rows and hyperplane projections
# ---------------------------------------------------------------------------------------
@pytest.mark.backends
@pytest.mark.parametrize("batch,num_classes", [(4, 10), (16, 5), slow_on_jax(6, 6)])
def test_gram_rows_both_code_paths(rng, batch, num_classes):
    _, w, y = _problem(rng, batch, 8, num_classes)
    unit = ops.l2_normalize(w, axis=0)
    got = to_numpy(ops.gram_rows(kops.convert_to_tensor(y), unit))
    np.testing.assert_allclose(got, ref.gram_rows(w, y), rtol=1e-5, atol=1e-6)


@pytest.mark.backends
@pytest.mark.parametrize(
    "batch,dim,num_classes",
    [(4, 8, 10), (16, 6, 5), slow_on_jax(7, 12, 3), slow_on_jax(3, 5, 40)],
)
def test_hyperplane_projections_closed_form_vs_literal(rng, batch, dim, num_classes):
    e, w, y = _problem(rng, batch, dim, num_classes)
    cosines = ref.cosine_dense(e, w).astype(np.float32)
    literal = ref.hyperplane_projections_literal(e, w, y)
    closed = to_numpy(ops.hyperplane_projections(y, cosines, w))
    einsum = to_numpy(ops.hyperplane_projections_einsum(y, e, w))
    assert closed.shape == (batch, num_classes)
    np.testing.assert_allclose(closed, literal, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(einsum, literal, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(closed, einsum, rtol=1e-5, atol=1e-5)
    # target column is exactly zero (excluded)
    np.testing.assert_array_equal(closed[np.arange(batch), y], 0.0)


@pytest.mark.backends
def test_hyperplane_projections_with_cosines_from_cosine_dense(rng):
    e, w, y = _problem(rng, 6, 8, 4)
    head = layers.CosineDense(4)
    head.build((None, 8))
    head.kernel.assign(w)
    closed = to_numpy(ops.hyperplane_projections(y, head(e), head.kernel))
    np.testing.assert_allclose(closed, ref.hyperplane_projections_literal(e, w, y), atol=1e-5)


@pytest.mark.backends
def test_hyperplane_projections_projection_on_normal_is_a_cosine(rng):
    # p_j = e . (w_y - w_j)/||w_y - w_j|| lies in [-1, 1]; the half angle identity
    # gives p_j = sin of the angular difference for coplanar 2-d vectors.
    w = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)  # w_0 = e_x, w_1 = e_y
    e = np.array([[1.0, 0.0]], np.float32)  # on w_0
    p = to_numpy(ops.hyperplane_projections([0], ref.cosine_dense(e, w).astype(np.float32), w))
    np.testing.assert_allclose(p, [[0.0, np.sqrt(0.5)]], atol=1e-6)


@pytest.mark.backends
def test_hyperplane_projections_identical_class_weights_are_finite(rng):
    e, w, y = _problem(rng, 5, 6, 4)
    w[:, 2] = w[:, 1]  # zero normal between classes 1 and 2
    y[:] = [1, 2, 0, 1, 3]
    cosines = ref.cosine_dense(e, w).astype(np.float32)
    closed, closed_grads = value_and_grad(
        lambda c, k: ops.hyperplane_projections(y, c, k), cosines, w
    )
    einsum, einsum_grads = value_and_grad(lambda k: ops.hyperplane_projections_einsum(y, e, k), w)
    literal = ref.hyperplane_projections_literal(e, w, y)
    assert np.all(np.isfinite(closed))
    assert np.all(np.isfinite(einsum))
    np.testing.assert_allclose(closed, literal, atol=1e-5)
    np.testing.assert_allclose(einsum, literal, atol=1e-5)
    # the zero off-target normal projects to 0
    assert abs(closed[0, 2]) < 1e-5 and abs(closed[1, 1]) < 1e-5
    for g in closed_grads + einsum_grads:
        assert np.all(np.isfinite(g))


def test_hyperplane_projections_xla(rng):
    import tensorflow as tf

    e, w, y = _problem(rng, 8, 6, 5)
    cosines = ref.cosine_dense(e, w).astype(np.float32)
    fn = tf.function(ops.hyperplane_projections, jit_compile=True)
    got = fn(tf.constant(y), tf.constant(cosines), tf.constant(w)).numpy()
    np.testing.assert_allclose(got, ref.hyperplane_projections_literal(e, w, y), atol=1e-5)


# ---------------------------------------------------------------------------------------
# halves pairing
# ---------------------------------------------------------------------------------------
@pytest.mark.backends
@pytest.mark.parametrize("batch", [1, 2, 5, 8])
def test_half_pairs(batch):
    x = np.arange(batch * 3, dtype=np.float32).reshape(batch, 3)
    first, second = ops.half_pairs(x)
    half = batch // 2
    np.testing.assert_array_equal(first, x[:half])
    np.testing.assert_array_equal(second, x[half : 2 * half])


@pytest.mark.backends
@pytest.mark.parametrize("batch", [1, 2, 5, 8, 9])
def test_pair_values_to_samples_batch_mean_is_pair_mean(batch):
    half = batch // 2
    values = np.arange(1, half + 1, dtype=np.float32)
    samples = to_numpy(ops.pair_values_to_samples(kops.convert_to_tensor(values), batch))
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
@pytest.mark.backends
def test_cosine_dense_and_weights_biased_dense(rng):
    x = rng.normal(size=(4, 6)).astype(np.float32)
    cos_head = layers.CosineDense(3)
    wb_head = layers.WeightsBiasedDense(3)
    out_cos = to_numpy(cos_head(x))
    out_wb = to_numpy(wb_head(x))
    assert cos_head.kernel.shape == (6, 3) and wb_head.kernel.shape == (6, 3)
    assert len(cos_head.weights) == 1 and len(wb_head.weights) == 1  # no bias
    np.testing.assert_allclose(out_cos, ref.cosine_dense(x, to_numpy(cos_head.kernel)), atol=1e-6)
    np.testing.assert_allclose(
        out_wb, ref.weights_biased_dense(x, to_numpy(wb_head.kernel)), rtol=1e-5, atol=1e-5
    )
    assert np.all(np.abs(out_cos) <= 1.0 + 1e-6)
    # zero feature vector gives all-zero cosines
    np.testing.assert_array_equal(to_numpy(cos_head(np.zeros((1, 6), np.float32))), 0.0)


@pytest.mark.backends
def test_heads_in_model_are_trainable():
    inp = keras.Input((4,))
    out = layers.CosineDense(3)(inp)
    model = keras.Model(inp, out)
    assert len(model.trainable_weights) == 1


@pytest.mark.backends
def test_zero_hyperplane_normal_has_no_amplified_gradient():
    """Two identical class weights: their normal is zero; p = 0 with zero gradient,
    not the ~1e6 x upstream that normalising a rounding-noise vector would give."""
    rng = np.random.default_rng(5)
    w = rng.normal(size=(8, 4)).astype(np.float32)
    w[:, 2] = w[:, 1]
    e = rng.normal(size=(5, 8)).astype(np.float32)
    y = np.array([1, 0, 2, 3, 1])

    def projections(e, kernel):  # Keras' own normalize: independent of ours
        cosines = kops.matmul(kops.normalize(e, axis=1), kops.normalize(kernel, axis=0))
        return ops.hyperplane_projections(y, cosines, kernel)

    p, gradient = value_and_grad(projections, e, w)
    np.testing.assert_array_equal(p[[0, 4], 2], 0.0)  # class 1 vs its twin 2
    np.testing.assert_array_equal(p[2, 1], 0.0)  # class 2 vs its twin 1
    # every term is a difference of cosines over a normal of length >= ~0.1 here
    assert max(float(np.max(np.abs(g))) for g in gradient) < 100.0


# --------------------------------------------------------------------------- #
# the one label policy and the one l2_normalize
# --------------------------------------------------------------------------- #
@pytest.mark.backends
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
    np.testing.assert_array_equal(to_numpy(ops.checked_labels(floats, 3)[0]), [0, 2, 1, 1])
    np.testing.assert_array_equal(metrics.class_indices(floats, 4, 3), [0, 2, 1, 1])


@pytest.mark.backends
def test_one_l2_normalize_for_tensors_and_arrays(rng):
    from keras_angular import conventions, metrics

    if BACKEND != "tensorflow":  # float64 agreement: a backend that computes it in float32
        pytest.skip(  # cannot give 1e-12 (JAX: jax_enable_x64 is off; PyTorch: Keras' own
            # result_type maps float64 to float32 there, so ops.maximum computes in float32)
            f"Keras on {BACKEND} computes float64 input in float32"
        )
    x = rng.normal(size=(5, 3))
    x[2] = 0.0
    x[3] = 1e-7  # below the floor: scaled by 1e6, not to unit length - in both
    tensor = to_numpy(ops.l2_normalize(kops.convert_to_tensor(x)))
    array = conventions.l2_normalize(x)
    np.testing.assert_allclose(tensor, array, rtol=1e-12, atol=0)
    assert array[2].tolist() == [0.0, 0.0, 0.0]
    angles = metrics.angle_between(x, x)
    np.testing.assert_allclose(angles[3, 3], np.arccos(np.clip(np.sum(array[3] ** 2), -1, 1)))
    assert ops.l2_normalize is not conventions.l2_normalize  # tensors in, tensors out
    # the NumPy side (the metrics, their features and retrieval) reads the one function
    from keras_angular import features, retrieval
    from keras_angular.metrics import angles, clustering

    for module in (angles, clustering, features, retrieval):
        assert module.l2_normalize is conventions.l2_normalize, module.__name__


def _unit_column_product(x, kernel, upstream):
    """``sum(upstream * x @ (kernel / ||columns||))`` in float64 NumPy (the 1e-12 floor)."""
    norms = np.sqrt(np.maximum((kernel**2).sum(axis=0), 1e-12))
    return float((upstream * (x @ (kernel / norms))).sum())


def _central_differences(f, array, step=1e-6):
    grad = np.zeros_like(array)
    for index in np.ndindex(array.shape):
        up, down = array.copy(), array.copy()
        up[index] += step
        down[index] -= step
        grad[index] = (f(up) - f(down)) / (2 * step)
    return grad


@pytest.mark.backends
@pytest.mark.parametrize("leading", [(5,), (2, 3)])
def test_unit_column_matmul_value_and_gradients(rng, leading):
    """The head's product with the unit class weights and its written-out gradient against
    float64 central differences: w.r.t. the features and the kernel, a zero column included
    (below the norm floor its scale is a constant), leading axes flattened."""
    x = rng.normal(size=(*leading, 4)).astype(np.float32)
    kernel = rng.normal(size=(4, 3)).astype(np.float32)
    kernel[:, 1] = 0.0
    upstream = rng.normal(size=(*leading, 3)).astype(np.float32)
    out, (grad_x, grad_kernel) = value_and_grad(
        lambda a, k: ops.unit_column_matmul(a, k) * kops.convert_to_tensor(upstream), x, kernel
    )
    x64, kernel64, upstream64 = (a.astype(np.float64) for a in (x, kernel, upstream))
    np.testing.assert_allclose(
        out.sum(), _unit_column_product(x64, kernel64, upstream64), rtol=1e-5
    )
    expected_x = _central_differences(lambda a: _unit_column_product(a, kernel64, upstream64), x64)
    expected_kernel = _central_differences(
        lambda k: _unit_column_product(x64, k, upstream64), kernel64, step=1e-8
    )
    np.testing.assert_allclose(grad_x, expected_x, rtol=1e-4, atol=1e-4)
    live = [0, 2]  # the zero column's gradient is ~1e6 x larger: compared relatively
    np.testing.assert_allclose(grad_kernel[:, live], expected_kernel[:, live], atol=1e-4)
    np.testing.assert_allclose(grad_kernel[:, 1], expected_kernel[:, 1], rtol=1e-4)
