"""Misuse fails loudly, with one message that names the loss (or layer) and the problem.

* invalid hyper-parameters fail at construction (``keras_angular.checks``);
* labels that are not class indices in ``[0, C)`` - too large, negative, fractional -
  raise eagerly and inside ``tf.function`` / ``model.fit``; under XLA (where TensorFlow
  drops assertions) the sample's loss is NaN with a zero gradient, never a finite lie;
* one-hot ``y_true`` given to a sparse loss, wrong ranks, mismatched batch sizes;
* a head and a loss that do not belong together.
"""

import math

import keras
import numpy as np
import pytest
import reference as ref
from backend_tools import (
    BACKEND,
    compiled,
    eager_label_error,
    slow_on_jax,
    step_label_error,
    to_numpy,
)
from keras import ops

from keras_angular import layers
from keras_angular import losses as L

B, C, D = 6, 4, 5


def _heads():
    cosine = layers.CosineDense(C, name="cosine_head")
    cosine.build((None, D))
    biased = layers.WeightsBiasedDense(C, name="biased_head")
    biased.build((None, D))
    return {"cosine": cosine, "biased": biased}


#: name -> (factory(heads), labels bounded by C?)
LOSSES = {
    "NormFaceLoss": (lambda h: L.NormFaceLoss(), True),
    "CosFaceLoss": (lambda h: L.CosFaceLoss(), True),
    "ArcFaceLoss": (lambda h: L.ArcFaceLoss(), True),
    "SphereFaceLoss": (lambda h: L.SphereFaceLoss(), True),
    "AngularLoss": (lambda h: L.AngularLoss(), True),
    "HASeparatorLoss": (lambda h: L.HASeparatorLoss(head=h["cosine"]), True),
    "WSoftmaxLoss": (lambda h: L.WSoftmaxLoss(head=h["biased"]), True),
    "AMCLoss": (lambda h: L.AMCLoss(), False),
    "EuclideanContrastiveLoss": (lambda h: L.EuclideanContrastiveLoss(), False),
    "CenterLoss": (lambda h: _center_loss(), True),
}


def _center_loss():
    """CenterLoss(C) holds its centres; a compiled JAX step refuses such a loss (its
    centres could not move), so there the centres sit in a ClassCenters layer (C x C:
    the embeddings of these tests have C features)."""
    if BACKEND != "jax":
        return L.CenterLoss(C)
    centers = layers.ClassCenters(C, name="centers")
    centers.build((None, C))
    return L.CenterLoss(head=centers)


def _make(name):
    return LOSSES[name][0](_heads())


def _y_pred(rng, shape=(B, C)):
    """Scores / embeddings in [-1, 1] (valid cosines, fine as embeddings too)."""
    return rng.uniform(-0.9, 0.9, size=shape).astype(np.float32)


def _call(loss, y_true, y_pred, mode):
    """``loss`` called eagerly, in a compiled step (``compiled``: tf.function, jax.jit,
    PyTorch's eager step) or, on TensorFlow, under XLA."""
    y_true, y_pred = ops.convert_to_tensor(y_true), ops.convert_to_tensor(y_pred)
    if mode == "eager":
        return loss(y_true, y_pred)
    if mode == "xla":
        import tensorflow as tf

        return tf.function(loss.__call__, jit_compile=True)(y_true, y_pred)
    return compiled(loss.__call__)(y_true, y_pred)


# ---------------------------------------------------------------------------------------
# hyper-parameters at construction
# ---------------------------------------------------------------------------------------
def _cosine_head():
    return layers.CosineDense(C)


HYPER_PARAMETERS = [
    # (owner, argument, factory)
    *[
        (owner, "scale", lambda v, o=owner: getattr(L, o)(scale=v))
        for owner in ["NormFaceLoss", "CosFaceLoss", "ArcFaceLoss", "SphereFaceLoss", "AngularLoss"]
    ],
    ("HASeparatorLoss", "scale", lambda v: L.HASeparatorLoss(scale=v, head=_cosine_head())),
]
BAD_SCALES = [0.0, -1.0, float("nan"), float("inf"), "3", True, None]

BAD_VALUES = [
    # (owner, argument, factory, bad value)
    ("CosFaceLoss", "margin", lambda v: L.CosFaceLoss(margin=v), -0.01),
    ("CosFaceLoss", "margin", lambda v: L.CosFaceLoss(margin=v), 2.01),
    ("CosFaceLoss", "margin", lambda v: L.CosFaceLoss(margin=v), float("nan")),
    ("ArcFaceLoss", "margin", lambda v: L.ArcFaceLoss(margin=v), -0.01),
    ("ArcFaceLoss", "margin", lambda v: L.ArcFaceLoss(margin=v), math.pi / 2 + 1e-3),
    ("SphereFaceLoss", "margin", lambda v: L.SphereFaceLoss(margin=v), 0),
    ("SphereFaceLoss", "margin", lambda v: L.SphereFaceLoss(margin=v), 9),
    ("SphereFaceLoss", "margin", lambda v: L.SphereFaceLoss(margin=v), 2.5),
    ("SphereFaceLoss", "margin", lambda v: L.SphereFaceLoss(margin=v), True),
    ("HASeparatorLoss", "margin", lambda v: L.HASeparatorLoss(margin=v, head=_cosine_head()), 0.0),
    ("HASeparatorLoss", "margin", lambda v: L.HASeparatorLoss(margin=v, head=_cosine_head()), 1.01),
    ("HASeparatorLoss", "margin", lambda v: L.HASeparatorLoss(margin=v, head=_cosine_head()), -0.5),
    (
        "WSoftmaxLoss",
        "alpha",
        lambda v: L.WSoftmaxLoss(alpha=v, head=layers.WeightsBiasedDense(C)),
        -0.01,
    ),
    (
        "WSoftmaxLoss",
        "alpha",
        lambda v: L.WSoftmaxLoss(alpha=v, head=layers.WeightsBiasedDense(C)),
        float("nan"),
    ),
    ("AMCLoss", "margin", lambda v: L.AMCLoss(margin=v), 0.0),
    ("AMCLoss", "margin", lambda v: L.AMCLoss(margin=v), -0.5),
    ("AMCLoss", "weight", lambda v: L.AMCLoss(weight=v), -0.1),
    ("AMCLoss", "weight", lambda v: L.AMCLoss(weight=v), float("nan")),
    ("EuclideanContrastiveLoss", "margin", lambda v: L.EuclideanContrastiveLoss(margin=v), 0.0),
    ("EuclideanContrastiveLoss", "weight", lambda v: L.EuclideanContrastiveLoss(weight=v), -1),
    ("CenterLoss", "num_classes", lambda v: L.CenterLoss(v), 0),
    ("CenterLoss", "num_classes", lambda v: L.CenterLoss(v), 2.5),
    ("CenterLoss", "alpha", lambda v: L.CenterLoss(C, alpha=v), -0.1),
    ("CenterLoss", "alpha", lambda v: L.CenterLoss(C, alpha=v), 1.1),
    ("CenterLoss", "weight", lambda v: L.CenterLoss(C, weight=v), -0.003),
    ("CosineDense", "units", lambda v: layers.CosineDense(v), 0),
    ("CosineDense", "units", lambda v: layers.CosineDense(v), 2.5),
    ("CosineDense", "units", lambda v: layers.CosineDense(v), True),
    ("WeightsBiasedDense", "units", lambda v: layers.WeightsBiasedDense(v), -3),
]


@pytest.mark.backends
@pytest.mark.parametrize("value", BAD_SCALES, ids=repr)
@pytest.mark.parametrize(
    "owner, argument, factory", HYPER_PARAMETERS, ids=[o for o, _, _ in HYPER_PARAMETERS]
)
def test_bad_scale_fails_at_construction(owner, argument, factory, value):
    with pytest.raises(ValueError, match=rf"^{owner}: `{argument}` must"):
        factory(value)


@pytest.mark.backends
@pytest.mark.parametrize(
    "owner, argument, factory, value",
    BAD_VALUES,
    ids=[f"{o}-{a}-{v!r}" for o, a, _, v in BAD_VALUES],
)
def test_bad_hyper_parameter_fails_at_construction(owner, argument, factory, value):
    with pytest.raises(ValueError, match=rf"^{owner}: `{argument}` must"):
        factory(value)


@pytest.mark.backends
def test_limits_themselves_are_accepted():
    """The documented limits are inclusive where the docstrings say so, and at each limit
    the loss is the NumPy reference's (tests/reference.py) at that value."""
    rng = np.random.default_rng(0)
    y = np.array([0, 1, 2, 1])
    cos = rng.uniform(-0.9, 0.9, (4, C)).astype(np.float32)
    s = 8.0
    cases = [
        (L.CosFaceLoss(s, margin=0.0), ref.normface(cos, y, s)),
        (L.CosFaceLoss(s, margin=2.0), ref.cosface(cos, y, s, margin=2.0)),
        (L.ArcFaceLoss(s, margin=0.0), ref.normface(cos, y, s)),
        (L.ArcFaceLoss(s, margin=math.pi / 2), ref.arcface(cos, y, s, margin=math.pi / 2)),
        (L.SphereFaceLoss(s, margin=1), ref.normface(cos, y, s)),
        (L.SphereFaceLoss(s, margin=8), ref.sphereface(cos, y, s, margin=8)),
    ]
    for loss, expected in cases:
        np.testing.assert_allclose(
            float(to_numpy(loss(y, cos))), expected.mean(), rtol=1e-5, err_msg=loss.name
        )
    embeddings = rng.normal(size=(4, 5)).astype(np.float32)
    head = _cosine_head()
    outputs = head(embeddings)
    kernel = to_numpy(head.kernel)
    expected = ref.haseparator(embeddings, kernel, y, scale=s, margin=1.0).mean()
    loss = L.HASeparatorLoss(s, margin=1.0, head=head)
    np.testing.assert_allclose(float(to_numpy(loss(y, outputs))), expected, rtol=1e-5)
    biased = layers.WeightsBiasedDense(C)
    outputs = biased(embeddings)  # alpha = 0: plain softmax over the head's outputs
    expected = ref.cross_entropy(to_numpy(outputs), y).mean()
    loss = L.WSoftmaxLoss(alpha=0.0, head=biased)
    np.testing.assert_allclose(float(to_numpy(loss(y, outputs))), expected, rtol=1e-5)
    # weight 0: nothing, whatever the features
    one_class = np.zeros(4, np.int32)
    assert float(to_numpy(L.CenterLoss(1, alpha=0.0, weight=0.0)(one_class, embeddings))) == 0.0
    assert float(to_numpy(L.AMCLoss(weight=0.0)(y, embeddings))) == 0.0
    assert L.CenterLoss(1, alpha=1.0).get_config()["alpha"] == 1.0


@pytest.mark.backends
def test_head_needs_a_known_input_dimension():
    head = layers.CosineDense(C)
    with pytest.raises(ValueError, match="CosineDense needs a known last input dimension"):
        head.build((None, None))


# ---------------------------------------------------------------------------------------
# labels that are not class indices
# ---------------------------------------------------------------------------------------
BAD_LABELS = {
    "too_large": C,  # only where C bounds the labels
    "negative": -1,
    "fractional": 1.5,
}


def _bad_label_cases():
    for name, (_, bounded) in LOSSES.items():
        for kind in BAD_LABELS:
            if kind == "too_large" and not bounded:
                continue
            yield name, kind


#: The losses whose bad-label cases JAX runs too (the others: TensorFlow and PyTorch): the
#: label check is one function (ops.checked_labels); these reach it with cosines, a head's
#: kernel, pairs and the centres.
BAD_LABELS_ON_JAX = ("NormFaceLoss", "HASeparatorLoss", "AMCLoss", "CenterLoss")


@pytest.mark.backends
@pytest.mark.parametrize("mode", ["eager", "graph"])
@pytest.mark.parametrize(
    "name, kind",
    [
        (name, kind) if name in BAD_LABELS_ON_JAX else slow_on_jax(name, kind)
        for name, kind in _bad_label_cases()
    ],
)
def test_bad_labels_raise_naming_the_loss(name, kind, mode, rng):
    loss = _make(name)
    y_true = np.array([0, 1, 2, 3, 0, 1], np.float32)
    y_true[3] = BAD_LABELS[kind]
    error = eager_label_error() if mode == "eager" else step_label_error()
    with pytest.raises(error, match=rf"{name}: every label must be"):
        to_numpy(_call(loss, y_true, _y_pred(rng), mode))


@pytest.mark.backends
@pytest.mark.skipif(BACKEND != "torch", reason="torch.compile is PyTorch's")
def test_torch_compile_checks_labels_in_one_graph_and_marks_a_bad_one_nan(rng):
    """Under ``torch.compile`` (Keras' ``jit_compile=True`` on PyTorch) the label check reads
    no value, so the step compiles as one graph (``fullgraph=True`` refuses a break); a bad
    label gives that sample NaN, as under XLA."""
    import torch

    loss = L.NormFaceLoss(scale=4.0)
    step = torch.compile(loss.call, fullgraph=True)
    cosines = _y_pred(rng)
    good = np.array([0, 1, 2, 3, 0, 1], "float32")
    values = to_numpy(step(torch.tensor(good), torch.tensor(cosines)))
    np.testing.assert_allclose(values, ref.normface(cosines, good, scale=4.0), rtol=1e-5)
    bad = good.copy()
    bad[5] = C
    values = to_numpy(step(torch.tensor(bad), torch.tensor(cosines)))
    assert np.isnan(values[5]) and np.all(np.isfinite(values[:5]))


@pytest.mark.parametrize("name", list(LOSSES))
def test_bad_labels_under_xla_give_nan_loss_and_finite_gradient(name, rng):
    """XLA drops assertions: the bad sample's loss is NaN and it sends no gradient."""
    import tensorflow as tf

    loss = _make(name)
    y_true = tf.constant([0, 1, 2, 3, 0, -1], tf.float32)
    y_pred = tf.constant(_y_pred(rng))

    @tf.function(jit_compile=True)
    def value_and_gradient(y_true, y_pred):
        with tf.GradientTape() as tape:
            tape.watch(y_pred)
            value = loss(y_true, y_pred)
        return value, tape.gradient(value, y_pred)

    value, gradient = value_and_gradient(y_true, y_pred)
    assert np.isnan(float(value))
    assert np.all(np.isfinite(gradient.numpy()))
    if name not in ("AMCLoss", "EuclideanContrastiveLoss"):
        # the flagged row sends nothing back (a pair's other member still does)
        np.testing.assert_array_equal(gradient.numpy()[5], 0.0)


def test_bad_label_under_xla_moves_no_centre(rng):
    """A flagged label (-1, read as class 0 under XLA) is assigned to no centre: after each
    step the centres are Wen et al.'s update (Eq. 4) over the valid rows alone."""
    import tensorflow as tf

    loss = L.CenterLoss(C, alpha=0.5)
    y_true = tf.constant([0, 1, 2, 3, 0, -1], tf.float32)
    valid = np.array([True, True, True, True, True, False])

    @tf.function(jit_compile=True)
    def step(y_true, y_pred):
        with tf.GradientTape() as tape:
            tape.watch(y_pred)
            value = loss(y_true, y_pred)
        return tape.gradient(value, y_pred)  # taking the gradient runs the centre update

    centers = np.zeros((C, C))
    for _ in range(2):  # from the zero centres, then from moved ones
        y_pred = _y_pred(rng)
        step(y_true, tf.constant(y_pred))
        labels = y_true.numpy().astype(int)
        centers = ref.center_update(y_pred[valid], labels[valid], centers, alpha=0.5)
        np.testing.assert_allclose(np.asarray(loss.centers), centers, rtol=1e-5, atol=1e-6)


@pytest.mark.backends
@pytest.mark.parametrize(
    "name", [name if name in BAD_LABELS_ON_JAX else slow_on_jax(name) for name in LOSSES]
)
def test_good_labels_in_every_form_are_accepted(name, rng):
    """int or float dtypes, shape (B,) or (B, 1), eager, compiled and (TensorFlow) XLA."""
    loss = _make(name)
    y_pred = _y_pred(rng)
    labels = np.array([0, 1, 2, 3, 0, 1])
    values = [
        float(_call(loss, labels.astype(np.int32), y_pred, "eager")),
        float(_call(loss, labels.astype(np.float32)[:, None], y_pred, "graph")),
        float(
            _call(
                loss, labels.astype(np.int64), y_pred, "xla" if BACKEND == "tensorflow" else "graph"
            )
        ),
    ]
    assert np.all(np.isfinite(values)), values
    np.testing.assert_allclose(values, values[0], rtol=1e-5)


def _fit_model(jit_compile):
    inp = keras.Input((D,))
    head = layers.CosineDense(C, name="head")
    model = keras.Model(inp, head(keras.layers.Dense(3)(inp)))
    model.compile("sgd", loss=L.NormFaceLoss(), jit_compile=jit_compile)
    return model


@pytest.mark.backends
def test_bad_label_in_model_fit_raises(rng):
    # Keras' default step without XLA: tf.function on TensorFlow, jax.jit on JAX, eager on
    # PyTorch
    model = _fit_model(jit_compile=False if BACKEND == "tensorflow" else "auto")
    x = rng.normal(size=(8, D)).astype(np.float32)
    y = np.array([0, 1, 2, 3, 0, 1, 2, C])
    with pytest.raises(step_label_error(), match="NormFaceLoss: every label must be"):
        model.fit(x, y, batch_size=4, epochs=1, verbose=0)


def test_bad_label_in_model_fit_under_xla_reports_nan_and_keeps_weights_finite(rng):
    model = _fit_model(jit_compile=True)
    x = rng.normal(size=(8, D)).astype(np.float32)
    y = np.array([0, 1, 2, 3, 0, 1, 2, C])
    history = model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert np.isnan(history.history["loss"][0])
    assert all(np.all(np.isfinite(w)) for w in model.get_weights())


@pytest.mark.backends
def test_pair_loss_with_classifier_does_not_read_y_true(rng):
    """With a classifier, S_ij comes from its argmax: any placeholder y_true will do."""
    head = layers.CosineDense(C)
    head.build((None, D))
    loss = L.AMCLoss(head=head)
    embeddings = _y_pred(rng, (B, D))
    placeholder = np.full((B,), -7.5, np.float32)
    assert np.isfinite(float(_call(loss, placeholder, embeddings, "graph")))


# ---------------------------------------------------------------------------------------
# shapes: one-hot labels, ranks, batch sizes
# ---------------------------------------------------------------------------------------
@pytest.mark.backends
@pytest.mark.parametrize("name", list(LOSSES))
def test_one_hot_labels_are_refused(name, rng):
    loss = _make(name)
    one_hot = np.eye(C, dtype=np.float32)[[0, 1, 2, 3, 0, 1]]
    with pytest.raises(ValueError, match=rf"^{name}: y_true must be .* one-hot labels\?"):
        _call(loss, one_hot, _y_pred(rng), "eager")


@pytest.mark.backends
@pytest.mark.parametrize("name", list(LOSSES))
def test_y_true_of_wrong_rank_is_refused(name, rng):
    loss = _make(name)
    with pytest.raises(ValueError, match=rf"^{name}: y_true must be integer class indices"):
        _call(loss, np.zeros((B, 1, 1), np.float32), _y_pred(rng), "eager")


@pytest.mark.backends
@pytest.mark.parametrize("shape", [(B,), (B, C, 1)], ids=["rank1", "rank3"])
@pytest.mark.parametrize("name", list(LOSSES))
def test_y_pred_of_wrong_rank_is_refused(name, shape, rng):
    loss = _make(name)
    with pytest.raises(ValueError, match=rf"^{name}: y_pred must have shape \(batch, "):
        _call(loss, np.zeros((B,), np.float32), _y_pred(rng, shape), "eager")


@pytest.mark.backends
@pytest.mark.parametrize("name", list(LOSSES))
def test_batch_size_mismatch_is_refused(name, rng):
    loss = _make(name)
    with pytest.raises(ValueError, match=rf"^{name}: y_true has {B - 1} samples but y_pred"):
        _call(loss, np.zeros((B - 1,), np.float32), _y_pred(rng), "eager")


# ---------------------------------------------------------------------------------------
# a head and a loss that do not belong together
# ---------------------------------------------------------------------------------------
@pytest.mark.backends
@pytest.mark.parametrize(
    "make, match",
    [
        (
            lambda: L.WSoftmaxLoss(head=layers.CosineDense(C)),
            "WSoftmaxLoss: `head` must be a WeightsBiasedDense layer .* got CosineDense",
        ),
        (
            lambda: L.HASeparatorLoss(head=layers.WeightsBiasedDense(C)),
            "HASeparatorLoss: `head` must be a CosineDense layer .* got WeightsBiasedDense",
        ),
        (
            lambda: L.HASeparatorLoss(head=keras.layers.Dense(C)),
            "HASeparatorLoss: `head` must be a CosineDense layer .* got Dense",
        ),
        (
            lambda: L.HASeparatorLoss(head=None),
            "HASeparatorLoss: `head` must be a CosineDense layer .* got NoneType",
        ),
        (
            lambda: L.AMCLoss(head=np.ones((D, C))),
            "AMCLoss: `head` must be a Layer layer .* got ndarray",
        ),
    ],
    ids=["wsoftmax-cosine", "haseparator-biased", "haseparator-dense", "no-head", "amc-array"],
)
def test_wrong_head_type_is_refused(make, match):
    with pytest.raises(TypeError, match=match):
        make()


def _two_head_model():
    inp = keras.Input((D,))
    emb = keras.layers.Dense(3)(inp)
    cosine = layers.CosineDense(C, name="cosine_head")(emb)
    biased = layers.WeightsBiasedDense(C, name="biased_head")(emb)
    return keras.Model(inp, [cosine, biased])


@pytest.mark.backends
def test_binding_by_name_to_a_layer_of_the_wrong_type_is_refused():
    model = _two_head_model()
    loss = L.HASeparatorLoss(head="biased_head")  # a name, as from_config rebuilds it
    with pytest.raises(TypeError, match="HASeparatorLoss: `head` must be a CosineDense"):
        loss.bind(model)
    loss = L.WSoftmaxLoss(head="cosine_head")
    with pytest.raises(TypeError, match="WSoftmaxLoss: `head` must be a WeightsBiasedDense"):
        loss.bind(model)


@pytest.mark.backends
def test_binding_to_a_missing_layer_name_is_refused():
    loss = L.HASeparatorLoss(head="no_such_layer")
    with pytest.raises(ValueError, match="no_such_layer"):
        loss.bind(_two_head_model())


@pytest.mark.backends
@pytest.mark.parametrize("name", ["HASeparatorLoss", "WSoftmaxLoss"])
def test_y_pred_not_from_the_given_head_is_refused(name, rng):
    loss = _make(name)
    with pytest.raises(ValueError, match=rf"^{name}: y_pred has {C + 1} classes but the head"):
        _call(loss, np.zeros((B,), np.float32), _y_pred(rng, (B, C + 1)), "eager")


@pytest.mark.backends
def test_amc_classifier_on_an_embedding_of_the_wrong_size_is_refused(rng):
    head = layers.CosineDense(C)
    head.build((None, D))
    loss = L.AMCLoss(head=head)
    with pytest.raises(ValueError, match="expected axis -1 of input shape to have value 5"):
        _call(loss, np.zeros((B,), np.float32), _y_pred(rng, (B, D + 2)), "eager")


# ---------------------------------------------------------------------------------------
# what keras.losses.Loss accepts: tf.Variable for y_pred and y_true
# ---------------------------------------------------------------------------------------
VARIABLE_CASES = {
    **{name: factory for name, (factory, _) in LOSSES.items()},
    # a margin near pi: every pair contributes, whatever the head predicts
    "AMCLoss-classifier": lambda h: L.AMCLoss(margin=3.0, head=h["cosine"]),
}


def _value_and_gradient(loss, y_true, y_pred, mode):
    import tensorflow as tf

    def run(y_true, y_pred):
        with tf.GradientTape() as tape:
            tape.watch(y_pred)
            value = loss(y_true, y_pred)
        return value, tape.gradient(value, y_pred)

    if mode == "graph":
        run = tf.function(run)
    value, gradient = run(y_true, y_pred)
    assert gradient is not None
    return float(value), tf.convert_to_tensor(gradient).numpy()


@pytest.mark.parametrize("mode", ["eager", "graph"])
@pytest.mark.parametrize("name", list(VARIABLE_CASES))
def test_variable_inputs_give_the_tensor_value_and_gradient(name, mode, rng):
    """A custom loop differentiating a loss w.r.t. a ``tf.Variable`` of predictions
    gets the value and gradient of a plain tensor of the same values."""
    import tensorflow as tf

    heads = _heads()
    # a fresh loss per run: CenterLoss moves its centres when the gradient is taken
    make = lambda: VARIABLE_CASES[name](heads)  # noqa: E731
    shape = (B, D) if name.startswith(("AMC", "Euclidean", "Center")) else (B, C)
    y_pred = _y_pred(rng, shape)
    labels = np.array([0, 1, 2, 0, 1, 3], np.float32)  # two same-class pairs (i, i + B/2)

    expected = _value_and_gradient(make(), tf.constant(labels), tf.constant(y_pred), mode)
    got = _value_and_gradient(make(), tf.constant(labels), tf.Variable(y_pred), mode)
    both = _value_and_gradient(make(), tf.Variable(labels), tf.Variable(y_pred), mode)
    assert np.isfinite(expected[0]) and np.all(np.isfinite(expected[1]))
    assert np.any(expected[1] != 0.0)
    for value, gradient in (got, both):
        np.testing.assert_allclose(value, expected[0], rtol=1e-6)
        np.testing.assert_allclose(gradient, expected[1], rtol=1e-6, atol=1e-7)
