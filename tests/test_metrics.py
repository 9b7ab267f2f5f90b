"""keras_angular.metrics against independent NumPy / SciPy / scikit-learn computations."""

import itertools
import math
import tracemalloc

import numpy as np
import pytest
from scipy.spatial.distance import pdist
from scipy.stats import entropy, wasserstein_distance

from keras_angular import features, metrics


def _angle(a, b):
    """Reference angle between two vectors, written out."""
    cos = float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))
    return math.acos(max(-1.0, min(1.0, cos)))


def _clusters(rng, num_classes=4, per_class=30, dim=8, noise=0.1):
    centers = rng.normal(size=(num_classes, dim))
    y = np.repeat(np.arange(num_classes), per_class)
    x = centers[y] + noise * rng.normal(size=(len(y), dim))
    return x, y


# --------------------------------------------------------------------------- #
# angle_statistics
# --------------------------------------------------------------------------- #
@pytest.mark.backends
def test_angle_statistics_orthogonal_hand_made():
    kernel = np.eye(3)  # orthogonal class weights, D = C = 3
    features = np.array([[2.0, 0, 0], [1.0, 0, 0], [0, 5.0, 0], [0, 0, 0.5]])
    labels = np.array([0, 0, 1, 2])
    s = metrics.angle_statistics(features, labels, kernel)
    assert set(s) == {"w_inter", "c_inter", "cw_inter", "wc_intra"}
    assert all(type(v) is float for v in s.values())
    assert s["w_inter"] == pytest.approx(math.pi / 2, abs=1e-12)
    assert s["c_inter"] == pytest.approx(math.pi / 2, abs=1e-12)
    assert s["cw_inter"] == pytest.approx(math.pi / 2, abs=1e-12)
    assert s["wc_intra"] == pytest.approx(0.0, abs=1e-7)


@pytest.mark.backends
def test_angle_statistics_antipodal_and_simplex():
    # Two opposite weights, centres on them: everything inter is pi.
    s = metrics.angle_statistics([[1.0, 0.0], [-3.0, 0.0]], [0, 1], [[1.0, -1.0], [0.0, 0.0]])
    assert s["w_inter"] == pytest.approx(math.pi)
    assert s["c_inter"] == pytest.approx(math.pi)
    # A regular simplex has W-Inter arccos(-1/(C-1)).
    for c in (3, 10):
        w = metrics.simplex_weights(c)
        s = metrics.angle_statistics(w.T, np.arange(c), w)
        expected = math.acos(-1.0 / (c - 1))
        assert s["w_inter"] == pytest.approx(expected, abs=1e-9)
        assert s["c_inter"] == pytest.approx(expected, abs=1e-9)
        assert s["wc_intra"] == pytest.approx(0.0, abs=1e-6)


@pytest.mark.backends
def test_angle_statistics_random_matches_loops():
    rng = np.random.default_rng(0)
    n, dim, num_classes = 120, 6, 5
    x = rng.normal(size=(n, dim))
    y = rng.integers(0, num_classes - 1, size=n)  # class 4 absent
    w = rng.normal(size=(dim, num_classes))
    s = metrics.angle_statistics(x, y, w)

    present = sorted(set(y.tolist()))
    centers = {c: x[y == c].mean(axis=0) for c in present}
    w_inter = np.mean([_angle(w[:, i], w[:, j]) for i in range(5) for j in range(5) if i != j])
    c_inter = np.mean([_angle(centers[i], centers[j]) for i in present for j in present if i != j])
    cw_inter = np.mean([_angle(centers[j], w[:, i]) for j in present for i in range(5) if i != j])
    wc_intra = np.mean([_angle(centers[j], w[:, j]) for j in present])
    assert s["w_inter"] == pytest.approx(w_inter, abs=1e-10)
    assert s["c_inter"] == pytest.approx(c_inter, abs=1e-10)
    assert s["cw_inter"] == pytest.approx(cw_inter, abs=1e-10)
    assert s["wc_intra"] == pytest.approx(wc_intra, abs=1e-10)


@pytest.mark.backends
def test_angle_statistics_single_present_class_gives_nan_c_inter():
    s = metrics.angle_statistics([[1.0, 0.0], [2.0, 0.1]], [1, 1], np.eye(2))
    assert math.isnan(s["c_inter"])
    assert s["wc_intra"] == pytest.approx(_angle([1.5, 0.05], [0.0, 1.0]))
    assert s["cw_inter"] == pytest.approx(_angle([1.5, 0.05], [1.0, 0.0]))


@pytest.mark.backends
def test_zero_vector_is_ninety_degrees_not_nan():
    s = metrics.angle_statistics([[0.0, 0.0], [0.0, 1.0]], [0, 1], np.eye(2))
    assert s["wc_intra"] == pytest.approx(math.pi / 4)  # (pi/2 + 0) / 2
    assert all(np.isfinite(v) for v in s.values())


# --------------------------------------------------------------------------- #
# feature_geometry: what the package writes, every angle in degrees under *_deg
# --------------------------------------------------------------------------- #
@pytest.mark.backends
def test_feature_geometry_hand_made_in_degrees():
    # class weights: the four unit axes +e1, -e1, +e2, -e2 in 2-d. Each weight is at
    # 90, 90 and 180 degrees from the other three, so W-Inter = (90 + 90 + 180) / 3 = 120.
    kernel = np.array([[1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 1.0, -1.0]])
    features = np.array(
        [[1.0, 0.0], [1.0, 1.0], [-1.0, 0.0], [-2.0, 0.0], [0.0, 1.0], [0.0, 3.0], [0.0, -1.0]]
    )
    labels = np.array([0, 0, 1, 1, 2, 2, 3])
    g = metrics.feature_geometry(
        features, labels, kernel, predictions=labels, clustering=True, class_means=True
    )
    assert list(g)[:-1] == list(metrics.GEOMETRY_KEYS)
    assert g["w_inter_deg"] == pytest.approx(120.0, abs=1e-9)
    # class 0's samples are at 0 and 45 degrees from w_0, its centre (1, 0.5) at atan(0.5);
    # every other class lies on its weight.
    assert g["class_mean_angles_deg"] == pytest.approx([22.5, 0.0, 0.0, 0.0], abs=1e-6)
    assert g["wc_intra_deg"] == pytest.approx(math.degrees(math.atan(0.5)) / 4, abs=1e-6)
    # centres at c0 = atan(0.5), 180, 90 and -90 degrees; the six pairs' angles are
    # 180 - c0, 90 - c0, 90 + c0, 90, 90, 180
    c0 = math.degrees(math.atan(0.5))
    assert g["c_inter_deg"] == pytest.approx((720 - c0) / 6, abs=1e-6)


@pytest.mark.backends
def test_feature_geometry_is_angle_statistics_in_degrees():
    rng = np.random.default_rng(3)
    x, y = _clusters(rng, noise=0.5)
    w = rng.normal(size=(x.shape[1], 4))
    g = metrics.feature_geometry(x, y, w, clustering=False, class_means=True)
    s = metrics.angle_statistics(x, y, w)
    assert set(g) == {f"{k}_deg" for k in s} | {"kl", "emd_deg", "class_mean_angles_deg"}
    for key, radians in s.items():
        assert g[f"{key}_deg"] == pytest.approx(math.degrees(radians), rel=1e-12)
    assert g["emd_deg"] == pytest.approx(metrics.pair_angle_divergence(x, y)["emd"], rel=1e-12)
    np.testing.assert_allclose(
        g["class_mean_angles_deg"], np.degrees(metrics.class_mean_angles(x, y, w)), rtol=1e-12
    )
    assert all(type(v) is float for k, v in g.items() if k != "class_mean_angles_deg")


# --------------------------------------------------------------------------- #
# target_angles / class_mean_angles (W-Softmax Eq. 14)
# --------------------------------------------------------------------------- #
@pytest.mark.backends
def test_class_mean_angles_matches_loops():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(90, 4))
    y = rng.integers(0, 3, size=90)
    w = rng.normal(size=(4, 4))  # class 3 has no sample
    got = metrics.class_mean_angles(x, y, w)
    assert got.shape == (4,)
    for c in range(3):
        expected = np.mean([_angle(w[:, c], row) for row in x[y == c]])
        assert got[c] == pytest.approx(expected, abs=1e-10)
    assert math.isnan(got[3])
    theta = metrics.target_angles(x, y, w)
    assert theta.shape == (90,)
    assert theta[0] == pytest.approx(_angle(w[:, y[0]], x[0]))


@pytest.mark.backends
def test_class_mean_angles_hand_made():
    x = [[1.0, 0.0], [1.0, 1.0], [0.0, -1.0]]
    got = metrics.class_mean_angles(x, [0, 0, 1], np.eye(2))
    np.testing.assert_allclose(got, [math.pi / 8, math.pi], atol=1e-7)


# --------------------------------------------------------------------------- #
# pair angles, KL and EMD (HASeparator Sec. IV-C)
# --------------------------------------------------------------------------- #
def _reference_pairs(x, y):
    angles = np.degrees(np.arccos(np.clip(1.0 - pdist(x, metric="cosine"), -1, 1)))
    i, j = np.triu_indices(len(x), k=1)  # pdist's order
    same = y[i] == y[j]
    return angles[same], angles[~same]


@pytest.mark.backends
def test_pair_angles_exact_matches_pdist(monkeypatch):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(150, 7))
    y = rng.integers(0, 4, size=150)
    ref_pos, ref_neg = _reference_pairs(x, y)
    pos, neg = metrics.pair_angles(x, y)
    np.testing.assert_allclose(pos, ref_pos, atol=1e-8)
    np.testing.assert_allclose(neg, ref_neg, atol=1e-8)
    # Tiny row blocks give the same pairs in the same order.
    monkeypatch.setattr(features, "BLOCK_ELEMENTS", 500)
    pos2, neg2 = metrics.pair_angles(x, y)
    np.testing.assert_allclose(pos2, ref_pos, atol=1e-8)
    np.testing.assert_allclose(neg2, ref_neg, atol=1e-8)


@pytest.mark.backends
def test_pair_angles_hand_made():
    x = [[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [1.0, 1.0]]
    pos, neg = metrics.pair_angles(x, [0, 1, 0, 1])
    np.testing.assert_allclose(pos, [180.0, 45.0], atol=1e-5)  # (0,2), (1,3)
    np.testing.assert_allclose(neg, [90.0, 45.0, 90.0, 135.0], atol=1e-5)  # (0,1),(0,3),(1,2),(2,3)


@pytest.mark.backends
def test_pair_sampling_deterministic_and_unbiased():
    rng = np.random.default_rng(3)
    x, y = _clusters(rng, num_classes=5, per_class=80, dim=6, noise=0.5)
    a = metrics.pair_angles(x, y, max_pairs=20_000, seed=7)
    b = metrics.pair_angles(x, y, max_pairs=20_000, seed=7)
    c = metrics.pair_angles(x, y, max_pairs=20_000, seed=8)
    assert len(a[0]) + len(a[1]) == 20_000
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])
    ref_pos, ref_neg = _reference_pairs(x, y)
    # The positive share and the means agree with the exhaustive computation.
    share = len(a[0]) / 20_000
    assert share == pytest.approx(len(ref_pos) / (len(ref_pos) + len(ref_neg)), abs=0.01)
    assert a[0].mean() == pytest.approx(ref_pos.mean(), abs=1.0)
    assert a[1].mean() == pytest.approx(ref_neg.mean(), abs=1.0)


@pytest.mark.backends
def test_pair_sampler_is_uniform_over_pairs():
    rng = np.random.default_rng(0)
    i, j = features._sample_pairs(5, 100_000, rng)
    assert np.all(i < j)
    counts = np.array([np.sum((i == a) & (j == b)) for a, b in itertools.combinations(range(5), 2)])
    assert counts.sum() == 100_000
    expected = 10_000
    chi2 = np.sum((counts - expected) ** 2 / expected)
    assert chi2 < 27.9  # chi-square, 9 dof, p = 0.001


@pytest.mark.backends
def test_pair_sampling_memory_is_bounded():
    rng = np.random.default_rng(4)
    n = 20_000  # 2e8 pairs: an N x N float64 matrix would be 3.2 GB
    x = rng.normal(size=(n, 16))
    y = rng.integers(0, 10, size=n)
    tracemalloc.start()
    pos, neg = metrics.pair_angles(x, y, max_pairs=50_000, seed=0)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(pos) + len(neg) == 50_000
    assert peak < 48 * 2**20, f"peak {peak / 2**20:.1f} MiB"


@pytest.mark.backends
def test_pair_angle_divergence_matches_scipy():
    rng = np.random.default_rng(5)
    x, y = _clusters(rng, num_classes=4, per_class=40, dim=5, noise=0.8)
    got = metrics.pair_angle_divergence(x, y)
    pos, neg = _reference_pairs(x, y)
    edges = np.arange(181.0)
    p = np.histogram(pos, bins=edges)[0] / len(pos)
    q = np.histogram(neg, bins=edges)[0] / len(neg)
    eps = metrics.KL_EPSILON
    assert got["kl"] == pytest.approx(entropy(p + eps, q + eps), rel=1e-9)
    assert got["emd"] == pytest.approx(wasserstein_distance(pos, neg), rel=1e-9)
    assert got["kl"] > 0 and got["emd"] > 0


@pytest.mark.backends
def test_divergence_identical_disjoint_and_empty():
    same = np.linspace(10, 50, 500)
    d = metrics.angle_histogram_divergence(same, same)
    assert d["kl"] == pytest.approx(0.0, abs=1e-12)
    assert d["emd"] == pytest.approx(0.0, abs=1e-12)
    d = metrics.angle_histogram_divergence([5.0, 6.0], [120.0, 121.0])
    assert np.isfinite(d["kl"]) and d["kl"] > 20  # saturates near log(1 / 1e-10)
    assert d["emd"] == pytest.approx(115.0)
    d = metrics.angle_histogram_divergence([], [1.0])
    assert math.isnan(d["kl"]) and math.isnan(d["emd"])
    edges, p, q = metrics.pair_angle_histograms([0.0, 180.0], [90.0], bins=4)
    np.testing.assert_allclose(edges, [0, 45, 90, 135, 180])
    np.testing.assert_allclose(p, [0.5, 0, 0, 0.5])
    np.testing.assert_allclose(q, [0, 0, 1, 0])


@pytest.mark.backends
def test_separated_features_diverge_more_than_mixed():
    rng = np.random.default_rng(6)
    x, y = _clusters(rng, num_classes=4, per_class=40, dim=8, noise=0.05)
    separated = metrics.pair_angle_divergence(x, y)
    mixed = metrics.pair_angle_divergence(x, rng.permutation(y))
    assert separated["kl"] > mixed["kl"] + 1
    assert separated["emd"] > mixed["emd"] + 20


# --------------------------------------------------------------------------- #
# clustering_scores (AMC Sec. 4.1)
# --------------------------------------------------------------------------- #
@pytest.mark.backends
def test_clustering_perfect_separation():
    rng = np.random.default_rng(7)
    x, y = _clusters(rng, num_classes=4, per_class=25, dim=6, noise=0.01)
    x = x * rng.uniform(0.1, 10.0, size=(len(x), 1))  # norms do not matter: unit features
    s = metrics.clustering_scores(x, y, predictions=y)
    assert s["homogeneity"] == pytest.approx(1.0)
    assert s["completeness"] == pytest.approx(1.0)
    assert s["prediction_homogeneity"] == pytest.approx(1.0)
    assert s["prediction_completeness"] == pytest.approx(1.0)
    assert all(type(v) is float for v in s.values())


@pytest.mark.backends
def test_clustering_predictions_from_logits_and_sklearn():
    from sklearn.metrics import completeness_score, homogeneity_score

    rng = np.random.default_rng(8)
    x, y = _clusters(rng, num_classes=3, per_class=20, dim=4, noise=0.3)
    logits = rng.normal(size=(60, 3))
    s = metrics.clustering_scores(x, y, predictions=logits)
    pred = logits.argmax(1)
    assert s["prediction_homogeneity"] == pytest.approx(homogeneity_score(y, pred))
    assert s["prediction_completeness"] == pytest.approx(completeness_score(y, pred))
    assert set(metrics.clustering_scores(x, y)) == {"homogeneity", "completeness"}
    # Random labels on one blob give low scores.
    blob = rng.normal(size=(60, 4))
    low = metrics.clustering_scores(blob, rng.integers(0, 3, size=60))
    assert low["homogeneity"] < 0.3


# --------------------------------------------------------------------------- #
# cosine_similarity_matrix (Angular Eq. 15)
# --------------------------------------------------------------------------- #
@pytest.mark.backends
def test_cosine_similarity_matrix():
    rng = np.random.default_rng(9)
    x = rng.normal(size=(50, 5))
    y = rng.integers(0, 3, size=50)
    cm, labels = metrics.cosine_similarity_matrix(x, y, samples_per_class=4, seed=1)
    assert cm.shape == (12, 12)
    assert labels.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    np.testing.assert_allclose(np.diag(cm), 1.0)
    np.testing.assert_allclose(cm, cm.T)
    full, full_labels = metrics.cosine_similarity_matrix(x, y)
    order = np.argsort(y, kind="stable")
    np.testing.assert_allclose(
        full,
        1.0 - np.array([[0.0 if a == b else _cos_dist(x[a], x[b]) for b in order] for a in order]),
        atol=1e-12,
    )
    np.testing.assert_array_equal(full_labels, y[order])


def _cos_dist(a, b):
    return 1.0 - np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b))


# --------------------------------------------------------------------------- #
# simplex_weights (W-Softmax Eq. 3-4)
# --------------------------------------------------------------------------- #
@pytest.mark.backends
def test_simplex_weights_gram_for_c_2_to_200():
    for c in range(2, 201):
        w = metrics.simplex_weights(c)
        assert w.shape == (c - 1, c)
        assert metrics.minimum_units(c) == c - 1
        gram = w.T @ w
        np.testing.assert_allclose(np.diag(gram), 1.0, rtol=0, atol=1e-12)
        off = gram[~np.eye(c, dtype=bool)]
        np.testing.assert_allclose(off, -1.0 / (c - 1), rtol=0, atol=1e-12)


@pytest.mark.backends
def test_simplex_weights_small_cases_match_paper():
    np.testing.assert_array_equal(metrics.simplex_weights(2), [[1.0, -1.0]])
    w3 = metrics.simplex_weights(3)
    a = math.sqrt(3) / 2
    np.testing.assert_allclose(w3, [[a, -a, 0.0], [-0.5, -0.5, 1.0]])
    for bad in (0, 1, 2.5, True, -3):
        with pytest.raises(ValueError):
            metrics.simplex_weights(bad)
        with pytest.raises(ValueError):
            metrics.minimum_units(bad)


# --------------------------------------------------------------------------- #
# validation
# --------------------------------------------------------------------------- #
@pytest.mark.backends
@pytest.mark.parametrize(
    "features, labels, kernel, match",
    [
        (np.ones(5), [0] * 5, np.eye(1), "shape \\(N, D\\)"),
        ([[np.nan, 1.0], [1.0, 1.0]], [0, 1], np.eye(2), "NaN"),
        ([[1.0, 0.0], [0.0, 1.0]], [0, 2], np.eye(2), "out of range"),
        ([[1.0, 0.0], [0.0, 1.0]], [0, -1], np.eye(2), ">= 0"),
        ([[1.0, 0.0], [0.0, 1.0]], [0, 0.5], np.eye(2), "integer"),
        ([[1.0, 0.0], [0.0, 1.0]], [0, 1, 1], np.eye(2), "3 entries"),
        ([[1.0, 0.0], [0.0, 1.0]], [[1, 0], [0, 1]], np.eye(2), "one-hot"),
        ([[1.0, 0.0], [0.0, 1.0]], [0, 1], np.eye(3), "3 rows"),
        ([[1.0, 0.0], [0.0, 1.0]], [0, 1], [[1.0, np.inf], [0, 1]], "kernel contains"),
        ([["a", "b"]], [0], np.eye(2), "numeric"),
    ],
)
def test_validation_errors(features, labels, kernel, match):
    with pytest.raises(ValueError, match=match):
        metrics.angle_statistics(features, labels, kernel)


@pytest.mark.backends
def test_validation_other_functions():
    with pytest.raises(ValueError, match="at least 2 samples"):
        metrics.pair_angles([[1.0, 0.0]], [0])
    with pytest.raises(ValueError, match="max_pairs"):
        metrics.pair_angles(np.eye(3), [0, 1, 2], max_pairs=0)
    with pytest.raises(ValueError, match="bins"):
        metrics.pair_angle_divergence(np.eye(3), [0, 1, 2], bins=0)
    with pytest.raises(ValueError, match="epsilon"):
        metrics.angle_histogram_divergence([1.0], [2.0], epsilon=0)
    with pytest.raises(ValueError, match="NaN"):
        metrics.clustering_scores(np.eye(3), [0, 1, 2], predictions=[[np.nan, 1.0]] * 3)
    # float labels holding integers and (N, 1) labels are accepted
    s = metrics.angle_statistics(np.eye(2), np.array([[0.0], [1.0]]), np.eye(2))
    assert s["wc_intra"] == pytest.approx(0.0, abs=1e-7)


@pytest.mark.backends
def test_metrics_module_does_not_import_tensorflow():
    import os
    import subprocess
    import sys

    # keras_angular.metrics and everything it imports from the package (conventions,
    # features, retrieval), without the package __init__ (which imports Keras)
    package_dir = os.path.dirname(os.path.dirname(metrics.__file__))
    code = (
        "import sys, types; "
        "package = types.ModuleType('keras_angular'); "
        f"package.__path__ = [{package_dir!r}]; "
        "sys.modules['keras_angular'] = package; "
        "import keras_angular.metrics as m; "
        "m.angle_statistics([[1.0, 0.0]], [0], [[1.0], [0.0]]); "
        "m.retrieval_scores([[1.0, 0.0], [1.0, 0.1]], [0, 0]); "
        "m.verification_scores([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0]], [0, 0, 1]); "
        "m.feature_geometry([[1.0, 0.0], [0.0, 1.0]], [0, 1], [[1.0, 0.0], [0.0, 1.0]]); "
        "print(sorted(n for n in sys.modules if n.startswith('keras_angular')), "
        "'tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded, tensorflow, keras = out.stdout.strip().rsplit(" ", 2)
    assert "'keras_angular.metrics.angles'" in loaded and "'keras_angular.features'" in loaded
    assert (tensorflow, keras) == ("False", "False")
