"""Sub-centre CosineDense (Deng et al., ECCV 2020, Eq. 1-2) against NumPy references."""

import keras
import numpy as np
import pytest
from backend_tools import to_numpy, value_and_grad
from keras import ops

from keras_angular.callbacks.geometry import class_weights
from keras_angular.layers import CosineDense
from keras_angular.losses import ArcFaceLoss, HASeparatorLoss
from keras_angular.saving import load_model


def _unit(a, axis):
    return a / np.linalg.norm(a, axis=axis, keepdims=True)


def _reference(x, kernel, units, k):
    """Eq. 1: cos_j = max_k x^ . w^_{j,k}, sub-centre k of class j in column j*K + k."""
    cos = _unit(x, 1) @ _unit(kernel, 0)  # (B, C*K)
    return np.stack([cos[:, j * k : (j + 1) * k].max(axis=1) for j in range(units)], axis=1)


@pytest.mark.backends
def test_one_subcenter_is_the_plain_head(rng):
    x = rng.normal(size=(6, 8)).astype("float32")
    plain, one = CosineDense(5), CosineDense(5, subcenters=1)
    plain.build((None, 8))
    one.build((None, 8))
    one.kernel.assign(plain.kernel)
    np.testing.assert_array_equal(to_numpy(plain(x)), to_numpy(one(x)))
    assert one.get_config() == {**plain.get_config(), "name": one.name}
    np.testing.assert_allclose(
        to_numpy(one(x)), _reference(x, to_numpy(plain.kernel), 5, 1), rtol=1e-5, atol=1e-6
    )
    assert one.class_kernel is one.kernel


@pytest.mark.backends
def test_subcenter_output_and_gradient_follow_eq_1(rng):
    units, k = 4, 3
    head = CosineDense(units, subcenters=k)
    x = rng.normal(size=(7, 5)).astype("float32")
    out = head(x)
    kernel = to_numpy(head.kernel)
    assert kernel.shape == (5, units * k) and tuple(out.shape) == (7, units)
    np.testing.assert_allclose(to_numpy(out), _reference(x, kernel, units, k), rtol=1e-5, atol=1e-6)
    # the gradient of class j's output reaches only the winning sub-centre's column
    winners = (_unit(x, 1) @ _unit(kernel, 0)).reshape(7, units, k).argmax(axis=2)
    # sample 0, every class
    _, (grad,) = value_and_grad(lambda kernel: ops.sum(head(x)[0]), head.kernel)
    touched = np.flatnonzero(np.abs(grad).sum(axis=0) > 0)
    assert touched.tolist() == [j * k + winners[0, j] for j in range(units)]
    # a margin loss on the max cosines: ArcFace of the reference cosines
    labels = np.array([0, 1, 2, 3, 0, 1, 2])
    loss = float(to_numpy(ArcFaceLoss(scale=16.0, margin=0.3)(labels, out)))
    cos = _reference(x, kernel, units, k).astype(np.float64)
    logits = 16.0 * cos
    rows = np.arange(7)
    logits[rows, labels] = 16.0 * np.cos(np.arccos(cos[rows, labels]) + 0.3)
    logits -= logits.max(axis=1, keepdims=True)
    expected = np.mean(np.log(np.exp(logits).sum(axis=1)) - logits[rows, labels])
    assert loss == pytest.approx(expected, rel=1e-5)


@pytest.mark.backends
def test_dominant_subcenter_is_the_one_most_samples_pick():
    head = CosineDense(2, subcenters=2)
    head.build((None, 2))
    # class 0: sub-centres +x, +y; class 1: -x, -y
    head.kernel.assign(np.array([[1.0, 0.0, -1.0, 0.0], [0.0, 1.0, 0.0, -1.0]], "float32"))
    x = np.array([[0.1, 1.0], [0.2, 1.0], [1.0, 0.1], [0.0, 3.0], [-1.0, -0.1]])
    y = np.array([0, 0, 0, 0, 1])  # class 0: three samples pick +y, one +x; class 1: -x
    assert head.dominant_subcenters(x, y).tolist() == [1, 0]
    np.testing.assert_array_equal(class_weights(head, x, y), [[0.0, -1.0], [1.0, 0.0]])
    np.testing.assert_array_equal(class_weights(head), [[1.0, -1.0], [0.0, 0.0]])  # stored: 0
    head.set_dominant_subcenters(x, y)
    np.testing.assert_array_equal(class_weights(head), [[0.0, -1.0], [1.0, 0.0]])
    # a class with no sample keeps its stored choice
    assert head.dominant_subcenters(x[:4], y[:4]).tolist() == [1, 0]
    with pytest.raises(ValueError, match="out of range"):
        head.dominant_subcenters(x, [0, 0, 0, 0, 2])


@pytest.mark.backends
def test_subcenter_head_round_trips_and_refuses_kernel_losses(tmp_path, rng):
    inputs = keras.Input((6,))
    head = CosineDense(3, subcenters=2, name="head")
    model = keras.Model(inputs, head(keras.layers.Dense(4)(inputs)))
    x = rng.normal(size=(10, 6)).astype("float32")
    head.dominant.assign(np.array([1, 0, 1], "int32"))
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(model.predict(x, verbose=0), loaded.predict(x, verbose=0))
    assert loaded.get_layer("head").subcenters == 2
    np.testing.assert_array_equal(
        to_numpy(loaded.get_layer("head").class_kernel), to_numpy(head.class_kernel)
    )
    with pytest.raises(ValueError, match="sub-centres"):
        HASeparatorLoss(head=head)
    with pytest.raises(ValueError, match="subcenters"):
        CosineDense(3, subcenters=0)
