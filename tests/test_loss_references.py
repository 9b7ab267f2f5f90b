"""Losses against NumPy references where a bug hid: the W-Softmax angular form's margin
and scale, and the Euclidean contrastive loss of close and equal pairs.

* ``delta_j`` is held constant: with the cosines fixed the loss does not depend on the
  kernel (zero or no gradient), while its gradient with respect to the cosines is the
  chain rule of ``cos(theta_j - delta_j)`` worked here by hand.
* Without a ``scale``, ``WSoftmaxLoss(1.5, form="angular")`` is the NumPy reference at
  ``s = 16`` (what the registry's ``wsoftmax`` method trains: it leaves the scale unset).
"""

import math

import numpy as np
import pytest
from backend_tools import to_numpy, value_and_grad

from keras_angular.layers import CosineDense
from keras_angular.losses import WSoftmaxLoss
from keras_angular.losses.weights_biased import weights_biased_angular_logits

ALPHA = 1.5


def _unit(v, axis=-1):
    return v / np.linalg.norm(v, axis=axis, keepdims=True)


def _deltas(kernel, c):
    """``delta_j = arccos(w_j . w'_j)``, ``w'_j = unit(alpha w_c + w_j)`` (Eq. 1)."""
    w = _unit(kernel.astype(np.float64), axis=0)
    return np.array(
        [
            math.acos(np.clip(w[:, j] @ _unit(ALPHA * w[:, c] + w[:, j]), -1.0, 1.0))
            for j in range(w.shape[1])
        ]
    )


def _reference_loss(cosines, kernel, labels, scale):
    out = []
    for cos, c in zip(cosines.astype(np.float64), labels, strict=True):
        theta = np.arccos(np.clip(cos, -1.0, 1.0))
        logits = np.cos(np.maximum(theta - _deltas(kernel, c), 0.0))
        logits[c] = cos[c]
        z = scale * logits
        out.append(np.log(np.exp(z - z.max()).sum()) + z.max() - z[c])
    return np.array(out)


def _case(seed=0):
    rng = np.random.default_rng(seed)
    kernel = rng.normal(size=(6, 4)).astype(np.float32)
    # cosines away from 0 and +-1 and from theta_j = delta_j (where max(., 0) has a kink)
    cosines = rng.uniform(-0.6, 0.3, (5, 4)).astype(np.float32)
    labels = np.array([0, 1, 2, 3, 1])
    return kernel, cosines, labels


def _head_with(kernel):
    """A built ``CosineDense`` head whose kernel is ``kernel``."""
    head = CosineDense(kernel.shape[1], name="head")
    head.build((None, kernel.shape[0]))
    head.kernel.assign(kernel)
    return head


@pytest.mark.backends
def test_angular_logits_hold_delta_constant():
    kernel, cosines, labels = _case()
    logits, (grad_cosines, grad_kernel) = value_and_grad(
        lambda c, k: weights_biased_angular_logits(labels, c, k, ALPHA), cosines, kernel
    )
    assert grad_kernel is None or not np.any(grad_kernel), grad_kernel
    # d cos(theta - delta) / d cos(theta) = sin(theta - delta) / sin(theta); 1 on the target
    expected = np.ones(cosines.shape)
    for i, c in enumerate(labels):
        theta = np.arccos(cosines[i].astype(np.float64))
        delta = _deltas(kernel, c)
        for j in range(cosines.shape[1]):
            if j != c:
                assert theta[j] - delta[j] > 1e-3  # away from the kink
                expected[i, j] = math.sin(theta[j] - delta[j]) / math.sin(theta[j])
    np.testing.assert_allclose(grad_cosines, expected, rtol=1e-4, atol=1e-5)
    assert logits.shape == cosines.shape


@pytest.mark.backends
def test_angular_loss_has_no_gradient_on_the_kernel_through_delta():
    kernel, cosines, labels = _case(1)
    head = _head_with(kernel)
    loss = WSoftmaxLoss(ALPHA, form="angular", head=head)
    value, (grad, grad_cosines) = value_and_grad(
        lambda variable, c: loss(labels, c), head.kernel, cosines
    )
    assert grad is None or not np.any(grad), grad
    assert np.any(grad_cosines)
    assert float(value) == pytest.approx(_reference_loss(cosines, kernel, labels, 16.0).mean())


@pytest.mark.backends
def test_angular_form_without_a_scale_is_the_reference_at_16():
    kernel, cosines, labels = _case(2)
    head = _head_with(kernel)
    for scale, loss in [
        (16.0, WSoftmaxLoss(ALPHA, form="angular", head=head)),
        (16.0, WSoftmaxLoss(ALPHA, form="angular", scale=16.0, head=head)),
        (32.0, WSoftmaxLoss(ALPHA, form="angular", scale=32.0, head=head)),
    ]:
        expected = _reference_loss(cosines, kernel, labels, scale).mean()
        assert float(to_numpy(loss(labels, cosines))) == pytest.approx(expected, rel=1e-5)


@pytest.mark.backends
def test_euclidean_contrastive_loss_of_close_and_equal_pairs():
    """Positive pairs a few thousandths apart (and one at distance 0) cost their squared
    distance, as the AMC paper's Eq. 1 says; a floor on the distance would show here.
    Pairs are (i, i + B/2), as the NumPy reference of tests/reference.py draws them."""
    import reference as ref

    from keras_angular.losses import EuclideanContrastiveLoss

    base = np.array([[0.3, -0.2, 0.9], [1.0, 0.5, -0.4], [0.2, 0.2, 0.2]], np.float32)
    offsets = np.array([[0.003, 0.0, 0.0], [0.0, -0.004, 0.0], [0.0, 0.0, 0.0]], np.float32)
    x = np.concatenate([base, base + offsets])
    y = np.array([0, 1, 2, 0, 1, 2])
    loss = EuclideanContrastiveLoss(margin=1.0, weight=1.0)
    expected = ref.euclidean_contrastive(x, y, margin=1.0, weight=1.0)
    assert expected == pytest.approx((0.003**2 + 0.004**2) / 3, rel=1e-3)
    assert float(to_numpy(loss(y, x))) == pytest.approx(expected, rel=1e-3, abs=1e-9)
