"""W-Softmax's unit-feature forms against NumPy references written from their equations.

Reference (Li & Wang, Eq. 1 and 10): for a sample of class c, ``w'_j = (alpha w_c + w_j) /
||alpha w_c + w_j||``; on unit features with a scale ``s`` the paper's logits are
``s cos(theta_c)`` and ``s cos(theta'_j)``. The angular form keeps ``s cos(theta_c)`` and
makes the negative ``s cos(max(theta_j - delta_j, 0))``, ``delta_j`` the angle between
``w_j`` and ``w'_j``. Everything below is built from explicit vectors (no Gram-matrix
closed form) or worked by hand in the plane.
"""

import math

import keras
import numpy as np
import pytest
from backend_tools import to_numpy, value_and_grad

from keras_angular import layers
from keras_angular import losses as L
from keras_angular.methods import build_method
from keras_angular.models import build_backbone


def _unit(v, axis=-1):
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v, axis=axis, keepdims=True)


def _cross_entropy(logits, label):
    top = logits.max()
    return top + math.log(np.exp(logits - top).sum()) - logits[label]


def reference_angular(features, kernel, labels, alpha, scale):
    """Per sample: explicit w'_j (Eq. 1), delta_j = arccos(w_j . w'_j), then CE."""
    w = _unit(kernel, axis=0)
    out = []
    for x, c in zip(_unit(features), labels, strict=True):
        logits = np.empty(w.shape[1])
        for j in range(w.shape[1]):
            theta_j = math.acos(np.clip(x @ w[:, j], -1.0, 1.0))
            if j == c:
                logits[j] = math.cos(theta_j)
                continue
            biased = _unit(alpha * w[:, c] + w[:, j])
            delta = math.acos(np.clip(w[:, j] @ biased, -1.0, 1.0))
            logits[j] = math.cos(max(theta_j - delta, 0.0))
        out.append(_cross_entropy(scale * logits, c))
    return np.array(out)


def reference_cosine(features, kernel, labels, alpha, scale):
    """Per sample: the paper's W' (Eq. 1) on the unit feature, times s, then CE."""
    w = _unit(kernel, axis=0)
    out = []
    for x, c in zip(_unit(features), labels, strict=True):
        columns = [
            w[:, j] if j == c else _unit(alpha * w[:, c] + w[:, j]) for j in range(w.shape[1])
        ]
        out.append(_cross_entropy(scale * (np.stack(columns, axis=1).T @ x), c))
    return np.array(out)


def _head(kernel):
    head = layers.CosineDense(kernel.shape[1], name="head")
    head.build((None, kernel.shape[0]))
    head.kernel.assign(kernel)
    return head


@pytest.mark.backends
@pytest.mark.parametrize("num_classes", [4, 11])  # C <= B (whole Gram) and C > B (rows)
@pytest.mark.parametrize("form", ["angular", "cosine"])
def test_unit_feature_forms_equal_their_references(form, num_classes):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(6, 5)).astype(np.float32)
    w = rng.normal(size=(5, num_classes)).astype(np.float32)
    y = rng.integers(0, num_classes, size=6)
    head = _head(w)
    reference = {"angular": reference_angular, "cosine": reference_cosine}[form]
    for alpha, scale in [(0.5, 16.0), (1.5, 8.0)]:
        per_sample = L.wsoftmax_loss(y, head(x), head.kernel, alpha, form=form, scale=scale)
        expected = reference(x, w, y, alpha, scale)
        np.testing.assert_allclose(to_numpy(per_sample), expected, rtol=2e-4, atol=2e-5)
        loss = L.WSoftmaxLoss(alpha, form=form, scale=scale, head=head)
        np.testing.assert_allclose(float(to_numpy(loss(y, head(x)))), expected.mean(), rtol=2e-4)


@pytest.mark.backends
def test_angular_logits_are_the_papers_in_the_plane_and_differ_outside():
    """Hand-worked, 2 classes in the plane: w_c at 0 deg, w_1 at 100 deg, alpha = 1, so
    w'_1 bisects them (50 deg) and delta_1 = 50 deg. In the plane the angular negative is
    the paper's cos(theta'_1); off the plane it is cos(theta_1 - 50 deg)."""
    deg = np.radians
    w = np.array([[1.0, math.cos(deg(100))], [0.0, math.sin(deg(100))], [0.0, 0.0]])
    delta = to_numpy(L.weights_biased_margins(np.array([0]), w, 1.0))
    np.testing.assert_allclose(np.degrees(delta[0, 1]), 50.0, atol=1e-4)  # column 0 is unused
    for angle, negative in [(20, 30), (-20, 70), (45, 5)]:  # theta'_1 = |50 - angle|
        x = np.array([[math.cos(deg(angle)), math.sin(deg(angle)), 0.0]])
        cos = x @ w
        angular = to_numpy(L.weights_biased_angular_logits(np.array([0]), cos, w, 1.0))
        paper = to_numpy(L.weights_biased_logits(np.array([0]), cos, w, 1.0))
        expected = [math.cos(deg(angle)), math.cos(deg(negative))]
        np.testing.assert_allclose(angular[0], expected, atol=1e-5)
        np.testing.assert_allclose(paper[0], expected, atol=1e-5)
    # off the plane: x at 60 deg from both axes' plane; theta_c = 60, theta_1 by hand
    x = _unit([[0.5, 0.0, math.sqrt(3) / 2]])
    theta_1 = math.acos(0.5 * math.cos(deg(100)))
    angular = to_numpy(L.weights_biased_angular_logits(np.array([0]), x @ w, w, 1.0))
    paper = to_numpy(L.weights_biased_logits(np.array([0]), x @ w, w, 1.0))
    np.testing.assert_allclose(angular[0, 1], math.cos(theta_1 - deg(50)), atol=1e-5)
    np.testing.assert_allclose(paper[0, 1], 0.5 * math.cos(deg(50)), atol=1e-5)


@pytest.mark.backends
def test_angular_target_pull_is_whole():
    """d loss / d cos_c = -s (1 - p_c) in the angular form (its negatives do not read
    cos_c), while the paper's biased negatives subtract s alpha / ||alpha w_c + w_j|| p_j
    from that pull (Eq. 1: w'_j . x holds alpha w_c . x)."""
    rng = np.random.default_rng(0)
    w = _unit(rng.normal(size=(4, 5)), axis=0)
    x = _unit(rng.normal(size=(1, 4)))
    y = np.array([2])
    alpha, scale = 1.5, 4.0
    cos = (x @ w).astype(np.float32)
    gram = w.T @ w
    norms = np.sqrt(alpha**2 + 1 + 2 * alpha * gram[2])
    for form in ["angular", "cosine"]:
        _, (grad,) = value_and_grad(
            lambda c, form=form: L.wsoftmax_loss(
                y, c, w.astype(np.float32), alpha, form=form, scale=scale
            ),
            cos,
        )
        grad = grad[0, 2]
        logits = {
            "angular": lambda: reference_logits_angular(x[0], w, 2, alpha),
            "cosine": lambda: np.array(
                [x[0] @ (w[:, j] if j == 2 else _unit(alpha * w[:, 2] + w[:, j])) for j in range(5)]
            ),
        }[form]()
        p = np.exp(scale * logits - (scale * logits).max())
        p /= p.sum()
        expected = -scale * (1 - p[2])
        if form == "cosine":
            expected += scale * alpha * sum(p[j] / norms[j] for j in range(5) if j != 2)
        np.testing.assert_allclose(grad, expected, rtol=1e-4, atol=1e-6)


def reference_logits_angular(x, w, c, alpha):
    logits = []
    for j in range(w.shape[1]):
        theta_j = math.acos(np.clip(x @ w[:, j], -1.0, 1.0))
        if j == c:
            logits.append(math.cos(theta_j))
        else:
            delta = math.acos(np.clip(w[:, j] @ _unit(alpha * w[:, c] + w[:, j]), -1.0, 1.0))
            logits.append(math.cos(max(theta_j - delta, 0.0)))
    return np.array(logits)


@pytest.mark.backends
def test_bad_form_settings_are_refused():
    cosine, biased = layers.CosineDense(3), layers.WeightsBiasedDense(3)
    with pytest.raises(ValueError, match="WSoftmaxLoss: `form` must be one of 'paper'"):
        L.WSoftmaxLoss(form="arc", head=cosine)
    with pytest.raises(ValueError, match="form='paper' has no `scale`"):
        L.WSoftmaxLoss(scale=8.0, head=biased)
    with pytest.raises(ValueError, match="`easy_margin` belongs to form='paper'"):
        L.WSoftmaxLoss(easy_margin=True, form="angular", head=cosine)
    with pytest.raises(ValueError, match="`scale` must be a finite number > 0"):
        L.WSoftmaxLoss(form="angular", scale=0.0, head=cosine)
    with pytest.raises(TypeError, match="must be a CosineDense layer for form='angular'"):
        L.WSoftmaxLoss(form="angular", head=biased)


@pytest.mark.backends
def test_registry_form_picks_the_head_and_round_trips():
    backbone = build_backbone("mlp", (8, 8, 1), embedding_dim=8)
    setup = build_method("wsoftmax", backbone, 10, 2)
    assert type(setup.head) is layers.CosineDense
    assert setup.loss["logits"].form == "angular" and setup.loss["logits"].alpha == 1.5
    backbone = build_backbone("mlp", (8, 8, 1), embedding_dim=8)
    paper = build_method("wsoftmax", backbone, 10, 2, form="paper", easy_margin=True)
    assert type(paper.head) is layers.WeightsBiasedDense and paper.loss["logits"].easy_margin
    config = L.WSoftmaxLoss(0.7, form="angular", scale=8.0, head=setup.head).get_config()
    rebuilt = keras.losses.deserialize(
        {"class_name": "keras_angular>WSoftmaxLoss", "config": config}
    )
    assert (rebuilt.form, rebuilt.scale, rebuilt.alpha) == ("angular", 8.0, 0.7)
