"""Property-based numerics: every loss and head stays finite at the edges of its domain.

Hypothesis draws the inputs that break naive angle code - cosines exactly at +1 and -1
(and one float32 ulp outside, as a head can round to), zero feature vectors, identical,
antipodal and zero class weights (a zero hyperplane normal off the target), a batch of
one and odd batches (the pair losses' unpaired row), scales up to 64 and every margin at
its documented limits - and checks that the loss and its gradients with respect to
``y_pred``, the head kernel and the embedding are finite:

* in float32 for every loss, directly and through its head;
* in a model under the ``mixed_float16`` and ``mixed_bfloat16`` policies (heads in
  float32, Keras' advice and our default), and with the head itself in half precision.

What does not hold, and why:

* an (almost) zero embedding under ``mixed_float16`` gives the float16 backbone a
  gradient of ``upstream / max(norm, 1e-6)`` (the normalisation floor, as
  ``tf.math.l2_normalize``), which overflows float16. The loss, d/d(y_pred) and
  d/d(head kernel) stay finite, and Keras' ``LossScaleOptimizer`` (which ``compile``
  adds under that policy) skips such a step, so the weights stay finite
  (``test_mixed_float16_zero_embedding_*``);
* a head that itself computes in half precision (``dtype="mixed_float16"``, not the
  default) with degenerate class weights (a zero column, two identical columns) gets
  float32 gradients of ``1/||w||`` or ``1/||w_y - w_j||`` ~ 1e6 that overflow its float16
  output or kernel; with regular weights it is finite (``test_half_precision_heads_*``).

The tests take gradients through ``backend_tools`` and run under every backend; JAX runs
only the two fixed-input ones (the rest are ``slow_on_jax``: hypothesis draws a new shape
per example, which JAX compiles op by op, 0.5-1 min a test there).
"""

import contextlib
import math

import keras
import numpy as np
import pytest
from backend_tools import BACKEND, to_numpy, value_and_grad
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from keras import ops

from keras_angular import layers
from keras_angular import losses as L

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
MODEL_SETTINGS = settings(SETTINGS, max_examples=12)

F32 = np.float32
#: cosines a loss must survive: the ends, one float32 ulp inside and outside, the clip point
SPECIAL_COSINES = [
    -1.0,
    1.0,
    0.0,
    float(np.nextafter(F32(1), F32(2))),
    float(np.nextafter(F32(-1), F32(-2))),
    float(np.nextafter(F32(1), F32(0))),
    float(np.nextafter(F32(-1), F32(0))),
    1.0 - 1e-7,
    -1.0 + 1e-7,
]


def finite(*arrays):
    return all(np.all(np.isfinite(np.asarray(to_numpy(a), np.float64))) for a in arrays)


def at_limits(low, high):
    """Floats in [low, high], the limits themselves drawn often."""
    return st.one_of(st.sampled_from([low, high]), st.floats(low, high))


SCALES = at_limits(0.5, 64.0)


@st.composite
def cosine_batches(draw, max_batch=7, max_classes=6):
    batch = draw(st.integers(1, max_batch))
    num_classes = draw(st.integers(2, max_classes))
    elements = st.one_of(st.sampled_from(SPECIAL_COSINES), st.floats(-1.0, 1.0, width=32))
    cosines = draw(hnp.arrays(F32, (batch, num_classes), elements=elements))
    labels = draw(hnp.arrays(np.int32, (batch,), elements=st.integers(0, num_classes - 1)))
    return cosines, labels


def feature_rows(dim, kernel=None):
    """A row: Gaussian, zero, tiny, huge, or (given a kernel) +- one of its columns."""
    choices = [
        hnp.arrays(F32, (dim,), elements=st.floats(-3, 3, width=32)),
        st.just(np.zeros(dim, F32)),
        st.just(np.full(dim, 1e-30, F32)),
        st.just(np.full(dim, 1e4, F32)),
    ]
    if kernel is not None:
        columns = [kernel[:, j] for j in range(kernel.shape[1])]
        choices.append(st.sampled_from(columns + [-c for c in columns]))
    return st.one_of(*choices)


@st.composite
def kernels(draw, dim, num_classes):
    """Class weights with, at times, identical, antipodal or zero columns."""
    w = draw(hnp.arrays(F32, (dim, num_classes), elements=st.floats(-2, 2, width=32)))
    for j in range(1, num_classes):
        kind = draw(st.sampled_from(["own", "own", "identical", "antipodal", "zero"]))
        if kind == "identical":
            w[:, j] = w[:, 0]
        elif kind == "antipodal":
            w[:, j] = -w[:, 0]
        elif kind == "zero":
            w[:, j] = 0.0
    return w


@st.composite
def embeddings(draw, batch, dim, kernel=None):
    rows = [draw(feature_rows(dim, kernel)) for _ in range(batch)]
    x = np.stack(rows).astype(F32)
    if batch >= 2 and draw(st.booleans()):  # a pair of identical or antipodal rows
        x[batch // 2] = x[0] * draw(st.sampled_from([1.0, -1.0]))
    return x


def value_and_gradients(loss, y_true, y_pred):
    value, grads = value_and_grad(lambda p: loss(y_true, p), y_pred)
    return float(value), [g for g in grads if g is not None]


# ---------------------------------------------------------------------------------------
# the cosine-logit family, on cosines directly
# ---------------------------------------------------------------------------------------
COSINE_FAMILIES = {
    "NormFaceLoss": lambda d: L.NormFaceLoss(scale=d.draw(SCALES)),
    "CosFaceLoss": lambda d: L.CosFaceLoss(scale=d.draw(SCALES), margin=d.draw(at_limits(0, 2))),
    "ArcFaceLoss": lambda d: L.ArcFaceLoss(
        scale=d.draw(SCALES),
        margin=d.draw(at_limits(0.0, math.pi / 2)),
        easy_margin=d.draw(st.booleans()),
    ),
    "SphereFaceLoss": lambda d: L.SphereFaceLoss(
        scale=d.draw(SCALES), margin=d.draw(st.integers(1, 8))
    ),
    "AngularLoss": lambda d: L.AngularLoss(scale=d.draw(SCALES)),
}


@pytest.mark.backends
@pytest.mark.slow_on_jax
@pytest.mark.parametrize("name", list(COSINE_FAMILIES))
@SETTINGS
@given(data=st.data(), batch=cosine_batches())
def test_cosine_losses_are_finite_at_the_edges(name, data, batch):
    cosines, labels = batch
    loss = COSINE_FAMILIES[name](data)
    value, (grad,) = value_and_gradients(loss, labels, cosines)
    assert finite(value, grad), (loss.get_config(), cosines, labels, value, grad)
    assert value >= -1e-6  # a cross-entropy


# ---------------------------------------------------------------------------------------
# the losses that read their head's kernel, through the head
# ---------------------------------------------------------------------------------------
@st.composite
def head_problems(draw):
    batch = draw(st.integers(1, 7))
    dim = draw(st.integers(2, 5))
    num_classes = draw(st.integers(2, 5))
    kernel = draw(kernels(dim, num_classes))
    x = draw(embeddings(batch, dim, kernel))
    labels = draw(hnp.arrays(np.int32, (batch,), elements=st.integers(0, num_classes - 1)))
    return x, kernel, labels


def _head(cls, kernel, dtype=None):
    kwargs = {} if dtype is None else {"dtype": dtype}
    head = cls(kernel.shape[1], **kwargs)
    head.build((None, kernel.shape[0]))
    head.kernel.assign(kernel)
    return head


def _through_head(loss, head, x, labels):
    """Loss and its gradients w.r.t. y_pred, head.kernel and the embedding."""
    y_pred = to_numpy(head(x))
    # d/d(y_pred): the gradient w.r.t. a zero added to the head's output
    value, (g_pred, g_kernel, g_x) = value_and_grad(
        lambda zero, k, z: loss(labels, ops.add(head(z), zero)),
        np.zeros_like(y_pred),
        head.kernel,
        x,
    )
    return float(value), y_pred.astype(np.float32), [g_pred, g_kernel, g_x]


@pytest.mark.backends
@pytest.mark.slow_on_jax
@SETTINGS
@given(
    problem=head_problems(),
    scale=SCALES,
    margin=at_limits(1e-6, 1.0),
)
def test_haseparator_is_finite_with_degenerate_weights(problem, scale, margin):
    x, kernel, labels = problem
    head = _head(layers.CosineDense, kernel)
    value, cosines, grads = _through_head(
        L.HASeparatorLoss(scale, margin, head=head), head, x, labels
    )
    assert finite(value, cosines, *grads), (x, kernel, labels, value)


@pytest.mark.backends
@pytest.mark.slow_on_jax
@SETTINGS
@given(problem=head_problems(), alpha=st.one_of(st.sampled_from([0.0, 1.0, 1.5, 1e3])))
def test_w_softmax_is_finite_with_degenerate_weights(problem, alpha):
    # alpha = 1 with antipodal weights is the one zero-norm biased weight (w_c + w_j = 0)
    x, kernel, labels = problem
    head = _head(layers.WeightsBiasedDense, kernel)
    value, outputs, grads = _through_head(L.WSoftmaxLoss(alpha, head=head), head, x, labels)
    assert finite(value, outputs, *grads), (x, kernel, labels, value)


@pytest.mark.backends
@pytest.mark.slow_on_jax
@pytest.mark.parametrize("name", list(COSINE_FAMILIES))
@SETTINGS
@given(data=st.data(), problem=head_problems())
def test_cosine_losses_through_cosine_dense_are_finite(name, data, problem):
    """Zero / huge / aligned / anti-aligned features and degenerate weights via the head."""
    x, kernel, labels = problem
    head = _head(layers.CosineDense, kernel)
    value, cosines, grads = _through_head(COSINE_FAMILIES[name](data), head, x, labels)
    assert finite(value, cosines, *grads), (x, kernel, labels, value)


# ---------------------------------------------------------------------------------------
# pair losses and the center loss, on embeddings
# ---------------------------------------------------------------------------------------
@st.composite
def embedding_problems(draw, max_batch=7):
    batch = draw(st.integers(1, max_batch))
    dim = draw(st.integers(1, 5))
    x = draw(embeddings(batch, dim))
    num_classes = draw(st.integers(1, 4))
    labels = draw(hnp.arrays(np.int32, (batch,), elements=st.integers(0, num_classes - 1)))
    return x, labels, num_classes


PAIR_LOSSES = {
    "AMCLoss": (L.AMCLoss, at_limits(1e-6, math.pi)),
    "EuclideanContrastiveLoss": (L.EuclideanContrastiveLoss, at_limits(1e-6, 100.0)),
}


@pytest.mark.backends
@pytest.mark.slow_on_jax
@pytest.mark.parametrize("name", list(PAIR_LOSSES))
@SETTINGS
@given(
    data=st.data(),
    problem=embedding_problems(),
    weight=st.sampled_from([0.0, 0.1, 100.0]),
    predicted=st.booleans(),
)
def test_pair_losses_are_finite_for_any_batch(name, data, problem, weight, predicted):
    """B = 1 (no pair), odd B (an unpaired row), identical / antipodal / zero rows."""
    x, labels, num_classes = problem
    cls, margins = PAIR_LOSSES[name]
    classifier = None
    if predicted:
        classifier = _head(layers.CosineDense, np.eye(x.shape[1], num_classes + 1, dtype=F32))
    loss = cls(margin=data.draw(margins), weight=weight, head=classifier)
    value, (grad,) = value_and_gradients(loss, labels, x)
    assert finite(value, grad), (x, labels, value, grad)
    assert value >= 0.0
    if x.shape[0] == 1:
        assert value == 0.0


@pytest.mark.backends
@pytest.mark.slow_on_jax
@SETTINGS
@given(
    problem=embedding_problems(),
    alpha=at_limits(0.0, 1.0),
    weight=st.sampled_from([0.0, 0.003, 1.0]),
)
def test_center_loss_and_its_update_are_finite(problem, alpha, weight):
    if BACKEND == "jax":
        pytest.skip(
            "CenterLoss(num_classes) moves its centres when a gradient is taken: not on JAX"
        )
    x, labels, num_classes = problem
    loss = L.CenterLoss(num_classes, alpha=alpha, weight=weight)
    for _ in range(2):  # the second call starts from moved centres
        value, (grad,) = value_and_gradients(loss, labels, x)
        assert finite(value, grad, loss.centers), (x, labels, value)


# ---------------------------------------------------------------------------------------
# mixed precision: every method in a model under a policy
# ---------------------------------------------------------------------------------------
POLICIES = ["float32", "mixed_float16", "mixed_bfloat16"]
METHODS = {
    "normface": lambda head: L.NormFaceLoss(scale=64.0),
    "cosface": lambda head: L.CosFaceLoss(scale=64.0, margin=2.0),
    "arcface": lambda head: L.ArcFaceLoss(scale=64.0, margin=math.pi / 2),
    "sphereface": lambda head: L.SphereFaceLoss(scale=64.0, margin=8),
    "angular": lambda head: L.AngularLoss(scale=64.0),
    "haseparator": lambda head: L.HASeparatorLoss(scale=64.0, margin=1.0, head=head),
    "wsoftmax": lambda head: L.WSoftmaxLoss(alpha=1.0, head=head),
}
TWO_OUTPUT_METHODS = {
    "amc": lambda head: L.AMCLoss(margin=math.pi, head=head),
    "amc_true_labels": lambda head: L.AMCLoss(margin=math.pi, weight=1.0),
    "euclidean": lambda head: L.EuclideanContrastiveLoss(head=head),
    "center": lambda head: L.CenterLoss(4, alpha=1.0, weight=1.0),
}
DIM, EMB, NUM_CLASSES = 6, 5, 4


@contextlib.contextmanager
def global_policy(name):
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def _policy_model(method, policy, head_dtype=None):
    with global_policy(policy):
        inputs = keras.Input((DIM,))
        embedding = keras.layers.Dense(EMB, name="embedding")(inputs)
        cls = layers.WeightsBiasedDense if method == "wsoftmax" else layers.CosineDense
        kwargs = {} if head_dtype is None else {"dtype": head_dtype}
        head = cls(NUM_CLASSES, name="head", **kwargs)
        logits = head(embedding)
        model = keras.Model(inputs, {"logits": logits, "embedding": embedding})
    if method in METHODS:
        losses = {"logits": METHODS[method](head)}
    else:
        losses = {"logits": L.NormFaceLoss(), "embedding": TWO_OUTPUT_METHODS[method](head)}
    return model, head, losses


def _check_model(model, head, losses, policy, x, labels, kernel):
    head.kernel.assign(kernel)
    outputs = model(x, training=True)
    embedding = to_numpy(outputs["embedding"])
    embedding_layer = model.get_layer("embedding")

    def total(zero_embedding, zero_logits, *variables):
        # the model's two layers, with a zero added to each output: the gradients w.r.t.
        # the zeros are those a tape over the model takes w.r.t. its outputs
        emb = ops.add(embedding_layer(x, training=True), zero_embedding)
        logits = ops.add(head(emb, training=True), zero_logits)
        outputs = {"logits": logits, "embedding": emb}
        return sum(loss(labels, outputs[key]) for key, loss in losses.items())

    variables = model.trainable_variables
    zeros = [np.zeros_like(embedding), np.zeros_like(to_numpy(outputs["logits"]))]
    value, (g_embedding, g_logits, *variable_grads) = value_and_grad(total, *zeros, *variables)
    g_kernel = variable_grads[[v is head.kernel for v in variables].index(True)]
    context = (policy, x, labels, kernel, float(value))
    # the loss, d/d(logits) and d/d(head kernel): finite always
    assert finite(float(value), g_logits, g_kernel), context
    # d/d(embedding) and the backbone: finite but for the exception of the module
    # docstring (a float16 embedding of norm ~0: 1/norm x upstream overflows float16)
    norms = np.linalg.norm(embedding.astype(np.float32), axis=-1)
    if policy != "mixed_float16" or np.min(norms) > 1e-2:
        grads = [g_embedding, *variable_grads]
        assert finite(*[g for g in grads if g is not None]), context


@st.composite
def model_problems(draw, degenerate_kernels=True):
    batch = draw(st.integers(1, 5))
    x = draw(embeddings(batch, DIM))
    x = np.clip(x, -100, 100)  # a float16 backbone's own range is not ours to test
    labels = draw(hnp.arrays(np.int32, (batch,), elements=st.integers(0, NUM_CLASSES - 1)))
    if degenerate_kernels:
        kernel = draw(kernels(EMB, NUM_CLASSES))
    else:
        seed = draw(st.integers(0, 2**16))
        kernel = np.random.default_rng(seed).normal(size=(EMB, NUM_CLASSES)).astype(F32)
    return x, labels, kernel


@pytest.mark.backends
@pytest.mark.slow_on_jax
@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("method", [*METHODS, *TWO_OUTPUT_METHODS])
def test_every_method_is_finite_under_mixed_precision(method, policy):
    if method == "center" and BACKEND == "jax":
        pytest.skip(
            "CenterLoss(num_classes) moves its centres when a gradient is taken: not on JAX"
        )
    model, head, losses = _policy_model(method, policy)
    assert head.compute_dtype == "float32"  # the heads default to float32

    @MODEL_SETTINGS
    @given(problem=model_problems())
    def check(problem):
        _check_model(model, head, losses, policy, *problem)

    check()


@pytest.mark.backends
@pytest.mark.slow_on_jax
@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
@pytest.mark.parametrize("method", ["angular", "arcface", "haseparator", "wsoftmax", "amc"])
def test_half_precision_heads_are_finite(method, policy):
    """A head computing in half precision (``dtype=policy``) still gives finite values.

    With regular class weights only: degenerate ones (a zero column, two identical
    columns) give float32 gradients of 1/||w|| or 1/||w_y - w_j|| ~ 1e6 that overflow a
    float16 ``y_pred`` or kernel - one more reason the heads default to float32.
    """
    model, head, losses = _policy_model(method, policy, head_dtype=policy)
    assert head.compute_dtype != "float32"

    @MODEL_SETTINGS
    @given(problem=model_problems(degenerate_kernels=False))
    def check(problem):
        _check_model(model, head, losses, policy, *problem)

    check()


@pytest.mark.backends
@pytest.mark.parametrize("cls", [layers.CosineDense, layers.WeightsBiasedDense])
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_head_zero_and_large_features(cls, dtype):
    """l2_normalize works in float32 for half inputs: no 0/0 at zero, no overflow at 1e3."""
    head = cls(3, dtype=dtype)
    x = np.array([[0.0, 0.0], [1e3, 1e3], [1e-4, 0.0]], np.float32)
    out = to_numpy(head(x)).astype(np.float32)
    assert finite(out), out
    if cls is layers.CosineDense:
        np.testing.assert_array_equal(out[0], 0.0)
        assert np.all(np.abs(out) <= 1.0 + 1e-2)


@pytest.mark.backends
def test_mixed_float16_zero_embedding_overflows_the_backbone_gradient_only():
    """The exception of the module docstring, and that fit survives it."""
    model, head, losses = _policy_model("normface", "mixed_float16")
    x = np.zeros((2, DIM), np.float32)
    x[1] = 1.0
    labels = np.array([0, 1], np.int32)
    loss = losses["logits"]
    logits = to_numpy(model(x, training=True)["logits"])
    value, (g_logits, g_kernel, g_backbone) = value_and_grad(  # d/d(logits): of a zero added
        lambda zero, *_: loss(labels, ops.add(model(x, training=True)["logits"], zero)),
        np.zeros_like(logits),
        head.kernel,
        model.get_layer("embedding").kernel,
    )
    assert finite(float(value), g_logits, g_kernel)
    assert not finite(g_backbone)  # 1e6 x upstream does not fit in float16

    with global_policy("mixed_float16"):
        model.compile(keras.optimizers.SGD(0.1), loss={"logits": losses["logits"]})
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    y = {"logits": labels}
    model.fit(x, y, batch_size=2, epochs=3, verbose=0)
    assert all(finite(w) for w in model.get_weights())
