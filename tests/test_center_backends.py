"""CenterLoss keeps Wen et al.'s centre update (ECCV 2016, Eq. 4) exactly on every Keras
backend (run these under ``KERAS_BACKEND=tensorflow``, ``jax`` and ``torch``).

* the registry's ``center`` model (centres in a ``ClassCenters`` layer): after each
  ``fit`` step on a fixed batch the centres equal a NumPy reference of Eq. 4 (written
  here, class by class, from the paper) applied to the embeddings the model produced in
  that step, and the step's loss is the reference center loss with the centres before
  the step; ``evaluate`` and ``predict`` leave the centres unchanged;
* a ``.keras`` save / load round trip restores the centres, binds the loss to the
  loaded layer, and the loaded model's next step updates them as the reference does;
* ``CenterLoss(num_classes)`` (centres in the loss) follows Eq. 4 in ``fit`` on
  TensorFlow and PyTorch; on JAX, where the step cannot keep them, ``fit`` raises an
  error that names the remedy;
* bad arguments raise clear errors.
"""

import os

import keras
import numpy as np
import pytest

from keras_angular import backend, layers
from keras_angular import losses as L
from keras_angular.methods import build_method, targets
from keras_angular.saving import load_model

pytestmark = pytest.mark.backends

C, D, B = 3, 4, 6
ALPHA, WEIGHT = 0.5, 1.0
X = np.random.default_rng(7).normal(size=(B, 5)).astype("float32")
Y = np.array([0, 2, 2, 1, 2, 0], "int32")  # class counts 2, 1, 3


def wen_update(features, labels, centers, alpha):
    """Wen et al. Eq. 4 for one mini-batch: for each class j,
    delta c_j = sum_i [y_i = j] (c_j - x_i) / (1 + sum_i [y_i = j]); c_j -= alpha delta c_j."""
    new = np.array(centers, dtype=np.float64)
    for j in range(len(new)):
        members = np.asarray(features, np.float64)[np.asarray(labels) == j]
        new[j] = new[j] - alpha * np.sum(new[j] - members, axis=0) / (1.0 + len(members))
    return new


def half_squared_distance(features, labels, centers, weight):
    """Mean over the batch of weight * 1/2 ||x_i - c_{y_i}||^2 (Wen et al. Eq. 2)."""
    diff = np.asarray(features, np.float64) - np.asarray(centers, np.float64)[labels]
    return float(np.mean(weight * 0.5 * np.sum(diff**2, axis=-1)))


def _registry_model():
    inputs = keras.Input((5,))
    hidden = keras.layers.Dense(8, activation="tanh", kernel_initializer="glorot_uniform")(inputs)
    embedding = keras.layers.Dense(D, name="embedding")(hidden)
    backbone = keras.Model(inputs, embedding, name="tiny")
    setup = build_method("center", backbone, C, epochs=1, alpha=ALPHA, weight=WEIGHT)
    setup.compile(keras.optimizers.SGD(0.2))
    return setup


def _embedding(model):
    return np.asarray(model.predict(X, verbose=0)["embedding"], np.float64)


def _centers(variable):
    return np.asarray(keras.ops.convert_to_numpy(variable), np.float64)


def _fit_one_step(model):
    history = model.fit(X, targets(Y), batch_size=B, epochs=1, shuffle=False, verbose=0)
    return history.history["embedding_loss"][0]


def test_registry_center_follows_wen_update_in_fit_only_and_saves_its_centres(tmp_path):
    setup = _registry_model()
    model, loss = setup.model, setup.loss["embedding"]
    layer = model.get_layer("centers")
    assert loss.head is layer and loss.centers is layer.centers
    expected = np.zeros((C, D))
    np.testing.assert_array_equal(_centers(layer.centers), expected)
    seen = []
    for _ in range(3):
        embedding = _embedding(model)  # what this step's forward pass produces
        seen.append(embedding)
        step_loss = _fit_one_step(model)
        np.testing.assert_allclose(
            step_loss, half_squared_distance(embedding, Y, expected, WEIGHT), rtol=1e-5
        )
        expected = wen_update(embedding, Y, expected, ALPHA)
        np.testing.assert_allclose(_centers(layer.centers), expected, rtol=1e-5, atol=1e-6)
    # the embedding moved between steps, so a stale embedding would have been caught
    assert np.max(np.abs(seen[2] - seen[0])) > 1e-3
    assert np.all(np.abs(expected) > 0.0)

    # evaluate runs the loss and predict the model: neither moves the centres
    model.evaluate(X, targets(Y), batch_size=B, verbose=0)
    model.predict(X, verbose=0)
    np.testing.assert_allclose(_centers(layer.centers), expected, rtol=1e-5, atol=1e-6)

    # a .keras round trip restores them; the loaded model trains on from them by Eq. 4
    saved = _centers(layer.centers)
    path = os.path.join(tmp_path, "model.keras")
    model.save(path)
    loaded = load_model(path)
    loaded_layer = loaded.get_layer("centers")
    assert isinstance(loaded_layer, layers.ClassCenters)
    assert loaded.loss["embedding"].head is loaded_layer
    np.testing.assert_array_equal(_centers(loaded_layer.centers), saved)
    embedding = _embedding(loaded)
    np.testing.assert_allclose(embedding, _embedding(model), rtol=1e-6)
    step_loss = _fit_one_step(loaded)
    np.testing.assert_allclose(
        step_loss, half_squared_distance(embedding, Y, saved, WEIGHT), rtol=1e-5
    )
    np.testing.assert_allclose(
        _centers(loaded_layer.centers),
        wen_update(embedding, Y, saved, ALPHA),
        rtol=1e-5,
        atol=1e-6,
    )


def test_loss_owned_centres_update_with_the_gradient_or_say_what_to_do():
    inputs = keras.Input((5,))
    embedding = keras.layers.Dense(D, name="embedding")(inputs)
    logits = keras.layers.Dense(C)(embedding)
    model = keras.Model(inputs, {"logits": logits, "embedding": embedding})
    loss = L.CenterLoss(C, alpha=ALPHA, weight=WEIGHT)
    model.compile(
        keras.optimizers.SGD(0.2),
        loss={
            "logits": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            "embedding": loss,
        },
    )
    if backend.name() == "jax":
        with pytest.raises(RuntimeError, match=r"ClassCenters\(num_classes\).*head=centers"):
            _fit_one_step(model)
        return
    expected = np.zeros((C, D))
    for _ in range(2):
        embedding = _embedding(model)
        _fit_one_step(model)
        expected = wen_update(embedding, Y, expected, ALPHA)
        np.testing.assert_allclose(_centers(loss.centers), expected, rtol=1e-5, atol=1e-6)
    model.evaluate(X, targets(Y), batch_size=B, verbose=0)
    np.testing.assert_allclose(_centers(loss.centers), expected, rtol=1e-5, atol=1e-6)


def test_center_loss_arguments():
    centers = layers.ClassCenters(C)
    assert L.CenterLoss(head=centers).num_classes == C
    with pytest.raises(ValueError, match="num_classes=4 but the head"):
        L.CenterLoss(4, head=centers)
    with pytest.raises(ValueError, match="needs `num_classes`"):
        L.CenterLoss()
    with pytest.raises(TypeError, match="must be a ClassCenters layer"):
        L.CenterLoss(head=keras.layers.Dense(C))
    with pytest.raises(ValueError, match="num_classes"):
        layers.ClassCenters(0)
    # a loss rebuilt from its config knows its layer by name until bound
    rebuilt = L.CenterLoss.from_config(L.CenterLoss(head=centers).get_config())
    with pytest.raises(RuntimeError, match="load_model"):
        rebuilt.head  # noqa: B018
