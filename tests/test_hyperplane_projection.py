"""HyperplaneProjection against a NumPy reference written from HASeparator Eq. 5-6."""

import os

import keras
import numpy as np
import pytest
from backend_tools import to_numpy

from keras_angular.layers import CosineDense, HyperplaneProjection, WeightsBiasedDense
from keras_angular.saving import load_model


def _reference(embeddings, kernel, classes=None):
    """Per sample: p_j = e_hat . (w_c - w_j) / ||w_c - w_j||, 0 for j = c; c = argmax cos."""
    e = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    w = kernel / np.linalg.norm(kernel, axis=0, keepdims=True)
    cos = e @ w
    classes = cos.argmax(axis=1) if classes is None else classes
    out = np.zeros(cos.shape)
    for i, c in enumerate(classes):
        for j in range(w.shape[1]):
            if j != c:
                normal = w[:, c] - w[:, j]
                out[i, j] = e[i] @ normal / np.linalg.norm(normal)
    margins = np.array([np.delete(row, c).min() for row, c in zip(out, classes, strict=True)])
    return out, margins


@pytest.mark.backends
@pytest.mark.parametrize("head_class", [CosineDense, WeightsBiasedDense])
def test_both_implementations_equal_the_numpy_reference(head_class, rng):
    head = head_class(7)
    embeddings = rng.normal(size=(9, 5)).astype(np.float32)
    head.build((None, 5))
    kernel = to_numpy(head.kernel)
    expected, expected_margin = _reference(embeddings, kernel)
    given = rng.integers(0, 7, 9)
    expected_given, expected_given_margin = _reference(embeddings, kernel, given)
    for implementation in HyperplaneProjection.IMPLEMENTATIONS:
        layer = HyperplaneProjection(head, implementation=implementation)
        np.testing.assert_allclose(to_numpy(layer(embeddings)), expected, atol=2e-6)
        np.testing.assert_allclose(
            to_numpy(layer(embeddings, classes=given)), expected_given, atol=2e-6
        )
        margin = HyperplaneProjection(head, implementation, output="margin")
        np.testing.assert_allclose(to_numpy(margin(embeddings)), expected_margin, atol=2e-6)
        np.testing.assert_allclose(
            to_numpy(margin(embeddings, classes=given)), expected_given_margin, atol=2e-6
        )


@pytest.mark.backends
def test_margin_of_a_hand_worked_case():
    """Unit weights e1, e2, e3: for e = (2, 1, 0) the predicted class is 0 and
    p_j = e_hat . (w_0 - w_j) / sqrt(2) = (2 - e_j) / sqrt(10), so the margin is 1 / sqrt(10);
    for the given class 2, p_0 = -2 / sqrt(10) is the margin."""
    head = CosineDense(3, kernel_initializer="identity")
    head.build((None, 3))
    e = np.array([[2.0, 1.0, 0.0]], np.float32)
    for implementation in HyperplaneProjection.IMPLEMENTATIONS:
        projections = to_numpy(HyperplaneProjection(head, implementation)(e))
        np.testing.assert_allclose(
            projections, np.array([[0.0, 1.0, 2.0]]) / np.sqrt(10), atol=1e-6
        )
        margin = HyperplaneProjection(head, implementation, output="margin")
        np.testing.assert_allclose(to_numpy(margin(e)), [1 / np.sqrt(10)], atol=1e-6)
        given = to_numpy(margin(e, classes=np.array([2])))
        np.testing.assert_allclose(given, [-2 / np.sqrt(10)], atol=1e-6)


@pytest.mark.backends
def test_saved_model_with_the_layer_round_trips(tmp_path, rng):
    inputs = keras.Input((6,))
    embedding = keras.layers.Dense(4, name="embedding")(inputs)
    head = CosineDense(5, name="head")
    outputs = {
        "logits": head(embedding),
        "projections": HyperplaneProjection(head, implementation="einsum")(embedding),
        "margin": HyperplaneProjection(head, output="margin", name="margin")(embedding),
    }
    model = keras.Model(inputs, outputs)
    x = rng.normal(size=(8, 6)).astype(np.float32)
    path = os.path.join(tmp_path, "model.keras")
    model.save(path)
    loaded = load_model(path)
    before, after = model.predict(x, verbose=0), loaded.predict(x, verbose=0)
    for key in outputs:
        np.testing.assert_array_equal(before[key], after[key])
    # The loaded layer reads the loaded model's own head, not a copy.
    assert loaded.get_layer("margin").head is loaded.get_layer("head")
    assert len(loaded.weights) == len(model.weights)
    config = loaded.get_layer("margin").get_config()
    assert config["output"] == "margin" and config["implementation"] == "closed"


@pytest.mark.backends
def test_bad_arguments():
    with pytest.raises(ValueError, match="CosineDense or WeightsBiasedDense"):
        HyperplaneProjection(keras.layers.Dense(3))
    with pytest.raises(ValueError, match="implementation"):
        HyperplaneProjection(CosineDense(3), implementation="loop")
    with pytest.raises(ValueError, match="output"):
        HyperplaneProjection(CosineDense(3), output="angles")
    with pytest.raises(ValueError, match="2 sub-centres per class"):
        HyperplaneProjection(CosineDense(3, subcenters=2))
    layer = HyperplaneProjection(CosineDense(3))
    with pytest.raises(Exception, match="label"):
        layer(np.ones((2, 4), np.float32), classes=np.array([0, 3]))
