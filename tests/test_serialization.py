"""Save, load, export and resume.

* every public layer and loss round-trips through ``get_config`` / ``from_config`` and
  ``keras.saving.serialize_keras_object`` / ``deserialize_keras_object`` (through JSON);
* the ramped ``weight`` variable's value survives ``get_config``;
* a model with each head saves to ``.keras`` and loads with bit-identical predictions;
* ``model.export()`` serves the same outputs after ``tf.saved_model.load``;
* a model compiled with each loss saves and loads with ``keras_angular.saving.load_model``
  with bit-identical predictions and trains on with ``fit`` and no other call, exactly like
  the original model; ``CenterLoss``'s centres are saved and restored;
* after a plain ``keras.saving.load_model`` the losses that hold a head (HASeparator,
  W-Softmax, AMC / Euclidean with a head) know it only by name: ``fit`` raises the
  ``RuntimeError`` that names the loader and ``loss.bind(model)``, and after ``bind`` (which
  leaves the model's compiled steps alone) training continues.
"""

import json

import keras
import numpy as np
import pytest
from backend_tools import BACKEND, slow_on_jax, to_numpy

import keras_angular
from keras_angular import layers
from keras_angular import losses as L

D, C, B = 6, 4, 8


def _built(head):
    head.build((None, D))
    return head


def _cosine():
    return _built(layers.CosineDense(C, name="cos_head", kernel_regularizer="l2"))


def _biased():
    return _built(layers.WeightsBiasedDense(C, name="wb_head", kernel_initializer="he_normal"))


LAYERS = {
    "CosineDense": _cosine,
    "WeightsBiasedDense": _biased,
}

#: name -> (factory(head), kind of y_pred, head factory or None)
LOSSES = {
    "NormFaceLoss": (lambda h: L.NormFaceLoss(scale=5.0, name="nf"), "cosines", None),
    "CosFaceLoss": (lambda h: L.CosFaceLoss(scale=11.0, margin=0.25), "cosines", None),
    "ArcFaceLoss": (lambda h: L.ArcFaceLoss(9.0, 0.3, easy_margin=True), "cosines", None),
    "SphereFaceLoss": (lambda h: L.SphereFaceLoss(scale=6.0, margin=3), "cosines", None),
    "AngularLoss": (lambda h: L.AngularLoss(scale=2.5, reduction="sum"), "cosines", None),
    "HASeparatorLoss": (lambda h: L.HASeparatorLoss(2.0, 0.5, head=h), "cosines", _cosine),
    "WSoftmaxLoss": (lambda h: L.WSoftmaxLoss(alpha=0.7, head=h), "outputs", _biased),
    "AMCLoss": (lambda h: L.AMCLoss(margin=0.7, weight=0.3), "embedding", None),
    "AMCLoss-classifier": (lambda h: L.AMCLoss(0.6, 0.2, head=h), "embedding", _cosine),
    "EuclideanContrastiveLoss": (
        lambda h: L.EuclideanContrastiveLoss(margin=1.5, weight=0.2),
        "embedding",
        None,
    ),
    "EuclideanContrastiveLoss-classifier": (
        lambda h: L.EuclideanContrastiveLoss(head=h),
        "embedding",
        _biased,
    ),
    "CenterLoss": (lambda h: L.CenterLoss(C, alpha=0.3, weight=0.01), "embedding", None),
}


def _inputs(kind, head, rng):
    labels = rng.integers(0, C, size=B).astype(np.int32)
    x = rng.normal(size=(B, D)).astype(np.float32)
    if kind == "embedding":
        return labels, x
    return labels, to_numpy(head(x) if head is not None else _cosine()(x))


def _holder_model(head):
    """A model holding ``head`` under its name, to bind rebuilt losses to."""
    inputs = keras.Input((D,))
    return keras.Model(inputs, head(inputs))


# ---------------------------------------------------------------------------------------
# get_config / from_config and serialize / deserialize
# ---------------------------------------------------------------------------------------
@pytest.mark.backends
@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_config_round_trip(name, rng):
    layer = LAYERS[name]()
    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    restored = keras.saving.deserialize_keras_object(
        json.loads(json.dumps(keras.saving.serialize_keras_object(layer)))
    )
    assert type(restored) is type(layer)
    assert restored.get_config() == layer.get_config()
    for copy in (clone, restored):
        if not copy.built:
            copy.build((None, D))
        copy.set_weights(layer.get_weights())
        x = rng.normal(size=(3, D)).astype(np.float32)
        np.testing.assert_array_equal(to_numpy(copy(x)), to_numpy(layer(x)))


@pytest.mark.backends
@pytest.mark.parametrize("name", list(LOSSES))
def test_loss_config_round_trip(name, rng):
    make, kind, make_head = LOSSES[name]
    head = make_head() if make_head else None
    loss = make(head)
    config = loss.get_config()
    serialized = json.loads(json.dumps(keras.saving.serialize_keras_object(loss)))
    assert serialized["registered_name"].startswith("keras_angular>")
    clones = [
        type(loss).from_config(config),
        keras.saving.deserialize_keras_object(serialized),
    ]
    y_true, y_pred = _inputs(kind, head, rng)
    expected = to_numpy(loss(y_true, y_pred))
    if isinstance(loss, L.CenterLoss):
        # centres are state, not config: compare with a fresh loss
        expected = to_numpy(make(head)(y_true, y_pred))
    for clone in clones:
        assert type(clone) is type(loss)
        assert clone.get_config() == config
        if head is not None:
            clone.bind(_holder_model(head))
        np.testing.assert_array_equal(to_numpy(clone(y_true, y_pred)), expected)


@pytest.mark.backends
@pytest.mark.parametrize(
    "make",
    [
        lambda: L.AMCLoss(weight=0.1),
        lambda: L.EuclideanContrastiveLoss(weight=0.1),
        lambda: L.CenterLoss(C, weight=0.003),
    ],
    ids=["AMCLoss", "EuclideanContrastiveLoss", "CenterLoss"],
)
def test_ramped_weight_value_survives_get_config(make):
    loss = make()
    loss.weight.assign(0.37)  # what LossWeightRamp does mid-training
    clone = type(loss).from_config(loss.get_config())
    assert isinstance(clone.weight, keras.Variable)
    assert float(to_numpy(clone.weight)) == float(np.float32(0.37))
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(loss))
    assert float(to_numpy(restored.weight)) == float(np.float32(0.37))


@pytest.mark.backends
@pytest.mark.parametrize(
    "name", ["HASeparatorLoss", "WSoftmaxLoss", "AMCLoss-classifier"], ids=lambda n: n
)
def test_rebuilt_head_loss_says_how_to_bind(name, rng):
    make, kind, make_head = LOSSES[name]
    head = make_head()
    loss = make(head)
    clone = type(loss).from_config(loss.get_config())
    y_true, y_pred = _inputs(kind, head, rng)
    owner = type(loss).__name__
    with pytest.raises(RuntimeError, match=rf"^{owner} was rebuilt .* call `loss.bind\(model\)`"):
        clone(y_true, y_pred)
    assert clone.bind(_holder_model(head)) is clone
    np.testing.assert_array_equal(to_numpy(clone(y_true, y_pred)), to_numpy(loss(y_true, y_pred)))


# ---------------------------------------------------------------------------------------
# .keras files, export, resume
# ---------------------------------------------------------------------------------------
def _model(method):
    """The training model of ``method``: one output, or logits + embedding."""
    keras.utils.set_random_seed(7)
    inputs = keras.Input((D,))
    embedding = keras.layers.Dense(5, activation="tanh", name="embedding")(inputs)
    head_cls = layers.WeightsBiasedDense if method == "wsoftmax" else layers.CosineDense
    head = head_cls(C, name="head")
    logits = head(embedding)
    single = {
        "arcface": lambda: L.ArcFaceLoss(scale=8.0),
        "haseparator": lambda: L.HASeparatorLoss(head=head),
        "wsoftmax": lambda: L.WSoftmaxLoss(head=head),
    }
    pair = {
        "amc": lambda: L.AMCLoss(head=head, weight=0.5),
        "center": lambda: L.CenterLoss(C, weight=0.1),
    }
    if method in single:
        model = keras.Model(inputs, logits)
        loss = single[method]()
    else:
        model = keras.Model(inputs, {"logits": logits, "embedding": embedding})
        loss = {"logits": L.NormFaceLoss(scale=8.0), "embedding": pair[method]()}
    model.compile(keras.optimizers.Adam(1e-2), loss=loss)
    return model


def _data(method, rng, n=32):
    x = rng.normal(size=(n, D)).astype(np.float32)
    y = rng.integers(0, C, size=n).astype(np.int32)
    return x, (
        y if method in ("arcface", "haseparator", "wsoftmax") else {"logits": y, "embedding": y}
    )


def _fit(model, x, y):
    model.fit(x, y, batch_size=B, epochs=1, shuffle=False, verbose=0)


def _assert_same_outputs(a, b):
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])
    else:
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "method", ["haseparator", "wsoftmax"], ids=["CosineDense", "WeightsBiasedDense"]
)
def test_keras_file_round_trip_and_export(method, tmp_path, rng):
    import tensorflow as tf

    model = _model(method)
    x, y = _data(method, rng)
    _fit(model, x, y)
    model.save(tmp_path / "model.keras")
    reloaded = keras.saving.load_model(tmp_path / "model.keras")
    assert type(reloaded.get_layer("head")) is type(model.get_layer("head"))
    _assert_same_outputs(reloaded.predict(x, verbose=0), model.predict(x, verbose=0))

    model.export(str(tmp_path / "served"), verbose=False)
    served = tf.saved_model.load(str(tmp_path / "served"))
    np.testing.assert_array_equal(served.serve(tf.constant(x)).numpy(), model.predict(x, verbose=0))


def test_export_of_a_two_output_model(tmp_path, rng):
    import tensorflow as tf

    model = _model("amc")
    x, _ = _data("amc", rng)
    model.export(str(tmp_path / "served"), verbose=False)
    served = tf.saved_model.load(str(tmp_path / "served"))  # keep it: serve needs it alive
    outputs = served.serve(tf.constant(x))
    _assert_same_outputs({k: v.numpy() for k, v in outputs.items()}, model.predict(x, verbose=0))


def _loss_of(model, key="embedding"):
    return model.loss[key] if isinstance(model.loss, dict) else model.loss


#: One model per loss class (and per way of reading labels): name -> (loss factory(head),
#: head class, whether the loss goes on the embedding next to NormFace on the logits).
LOSS_MODELS = {
    "NormFaceLoss": (lambda h: L.NormFaceLoss(scale=8.0), layers.CosineDense, False),
    "CosFaceLoss": (lambda h: L.CosFaceLoss(scale=8.0, margin=0.2), layers.CosineDense, False),
    "ArcFaceLoss": (lambda h: L.ArcFaceLoss(scale=8.0), layers.CosineDense, False),
    "SphereFaceLoss": (lambda h: L.SphereFaceLoss(margin=2), layers.CosineDense, False),
    "AngularLoss": (lambda h: L.AngularLoss(), layers.CosineDense, False),
    "HASeparatorLoss": (lambda h: L.HASeparatorLoss(head=h), layers.CosineDense, False),
    "WSoftmaxLoss": (lambda h: L.WSoftmaxLoss(head=h), layers.WeightsBiasedDense, False),
    "AMCLoss": (lambda h: L.AMCLoss(weight=0.5), layers.CosineDense, True),
    "AMCLoss-head": (lambda h: L.AMCLoss(weight=0.5, head=h), layers.CosineDense, True),
    "EuclideanContrastiveLoss": (
        lambda h: L.EuclideanContrastiveLoss(weight=0.5),
        layers.CosineDense,
        True,
    ),
    "EuclideanContrastiveLoss-head": (
        lambda h: L.EuclideanContrastiveLoss(weight=0.5, head=h),
        layers.CosineDense,
        True,
    ),
    "CenterLoss": (lambda h: L.CenterLoss(C, weight=0.1), layers.CosineDense, True),
    "PartialFCLoss": (
        lambda h: L.PartialFCLoss(L.ArcFaceLoss(scale=8.0), sample_fraction=1.0, head=h, seed=0),
        layers.CosineDense,
        True,
    ),
}


def _loss_model(name):
    keras.utils.set_random_seed(7)
    make, head_cls, on_embedding = LOSS_MODELS[name]
    inputs = keras.Input((D,))
    embedding = keras.layers.Dense(5, activation="tanh", name="embedding")(inputs)
    head = head_cls(C, name="head")
    logits = head(embedding)
    if on_embedding:
        model = keras.Model(inputs, {"logits": logits, "embedding": embedding})
        loss = {"logits": L.NormFaceLoss(scale=8.0), "embedding": make(head)}
    else:
        model = keras.Model(inputs, logits)
        loss = make(head)
    model.compile(keras.optimizers.Adam(1e-2), loss=loss)
    return model, on_embedding


@pytest.mark.backends
def test_every_loss_class_has_a_save_load_fit_case():
    names = {name.split("-")[0] for name in LOSS_MODELS}
    assert names == set(L.__all__) - {n for n in L.__all__ if n[0].islower()}


@pytest.mark.backends
@pytest.mark.parametrize(  # JAX: a loss bound to its head by name
    "name", [n if n == "HASeparatorLoss" else slow_on_jax(n) for n in LOSS_MODELS]
)
def test_save_load_and_fit_on_with_each_loss(name, tmp_path, rng):
    """keras_angular.saving.load_model: bit-exact predictions, then `fit` with no other call
    continues exactly like the original model (CenterLoss: from the saved centres)."""
    if name == "CenterLoss" and BACKEND == "jax":
        pytest.skip(
            "CenterLoss(num_classes) keeps its centres in the loss, which a JAX step cannot "
            "update (tests/test_center_backends.py saves and loads ClassCenters centres)"
        )
    model, on_embedding = _loss_model(name)
    x = rng.normal(size=(32, D)).astype(np.float32)
    labels = rng.integers(0, C, size=32).astype(np.int32)
    y = {"logits": labels, "embedding": labels} if on_embedding else labels
    _fit(model, x, y)
    model.save(tmp_path / "model.keras")
    reloaded = keras_angular.saving.load_model(tmp_path / "model.keras")
    _assert_same_outputs(reloaded.predict(x, verbose=0), model.predict(x, verbose=0))
    loss = _loss_of(reloaded)
    assert type(loss) is type(_loss_of(model))
    assert loss.get_config() == _loss_of(model).get_config()
    if loss.head_types and loss.head is not None:
        assert loss.head is reloaded.get_layer("head")
    if isinstance(loss, L.CenterLoss):
        saved = to_numpy(_loss_of(model).centers)
        assert np.abs(saved).sum() > 0  # the fit moved them
        np.testing.assert_array_equal(to_numpy(loss.centers), saved)

    before = [np.array(w) for w in reloaded.get_weights()]
    history = reloaded.fit(x, y, batch_size=B, epochs=1, shuffle=False, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert any(
        not np.array_equal(a, b) for a, b in zip(before, reloaded.get_weights(), strict=True)
    )
    _fit(model, x, y)
    for a, b in zip(model.get_weights(), reloaded.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    if isinstance(loss, L.CenterLoss):
        np.testing.assert_allclose(
            to_numpy(loss.centers), to_numpy(_loss_of(model).centers), rtol=1e-6, atol=1e-7
        )


@pytest.mark.backends
@pytest.mark.parametrize(
    "name", ["HASeparatorLoss", slow_on_jax("WSoftmaxLoss"), slow_on_jax("AMCLoss-head")]
)
def test_plain_keras_load_names_the_loader_and_bind_needs_no_recompile(name, tmp_path, rng):
    model, on_embedding = _loss_model(name)
    x = rng.normal(size=(16, D)).astype(np.float32)
    labels = rng.integers(0, C, size=16).astype(np.int32)
    y = {"logits": labels, "embedding": labels} if on_embedding else labels
    _fit(model, x, y)
    model.save(tmp_path / "model.keras")
    unbound = keras.saving.load_model(tmp_path / "model.keras")
    with pytest.raises(RuntimeError, match=r"keras_angular\.saving\.load_model\(path\)"):
        _fit(unbound, x, y)
    reloaded = keras.saving.load_model(tmp_path / "model.keras")
    loss = _loss_of(reloaded)
    assert loss.bind(reloaded) is loss  # before the first fit: no compiled step to drop
    assert loss.head is reloaded.get_layer("head")
    history = reloaded.fit(x, y, batch_size=B, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


def test_import_keras_angular_is_enough_to_load_a_saved_model(tmp_path):
    """A fresh process loads a saved model (heads and compiled losses) after
    `import keras_angular` alone: the package registers its classes on import."""
    import subprocess
    import sys

    inputs = keras.Input((4,))
    head = layers.CosineDense(3, name="head")
    model = keras.Model(inputs, head(keras.layers.Dense(5, name="embedding")(inputs)))
    model.compile("adam", loss=L.HASeparatorLoss(head=head))
    model.save(tmp_path / "m.keras")
    code = (
        "import keras, keras_angular, sys; "
        f"m = keras.saving.load_model({str(tmp_path / 'm.keras')!r}); "
        "print(type(m.get_layer('head')).__name__, type(m.loss).__name__)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.split()[-2:] == ["CosineDense", "HASeparatorLoss"], done.stderr[-3000:]
