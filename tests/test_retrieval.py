"""Retrieval and verification scores against plain NumPy / scikit-learn references."""

import itertools
import math
import tracemalloc

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from keras_angular import metrics, retrieval


# --------------------------------------------------------------------------- #
# references, written from Musgrave et al. (ECCV 2020) Sec. 3.2
# --------------------------------------------------------------------------- #
def _reference_retrieval(x, y, k=None):
    """Leave-one-out, one query at a time: full cosine ranking, ties by lower index."""
    x = np.asarray(x, dtype=np.float64)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    u = np.where(norms > 0, x / np.where(norms > 0, norms, 1.0), 0.0)
    p1, rp, mapr = [], [], []
    for q in range(len(x)):
        others = [i for i in range(len(x)) if i != q]
        r = sum(1 for i in others if y[i] == y[q])
        if r == 0:
            continue  # a singleton class: no query
        sims = {i: float(u[q] @ u[i]) for i in others}
        ranking = sorted(others, key=lambda i: (-sims[i], i))
        if k is not None:
            ranking = ranking[:k]
        rel = [1 if y[i] == y[q] else 0 for i in ranking[:r]]
        p1.append(rel[0])
        rp.append(sum(rel) / r)
        ap = 0.0
        for i, hit in enumerate(rel, start=1):
            if hit:
                ap += sum(rel[:i]) / i
        mapr.append(ap / r)
    return {"precision_at_1": np.mean(p1), "r_precision": np.mean(rp), "map_at_r": np.mean(mapr)}


def _unit(degrees):
    a = np.radians(np.asarray(degrees, dtype=np.float64))
    return np.stack([np.cos(a), np.sin(a)], axis=1)


def _assert_scores(got, want):
    assert set(got) == {"precision_at_1", "r_precision", "map_at_r"}
    for key, value in want.items():
        assert got[key] == pytest.approx(value, abs=1e-12), key


# --------------------------------------------------------------------------- #
# retrieval_scores
# --------------------------------------------------------------------------- #
def test_retrieval_hand_computed():
    # class 0 at 0, 10, 30 degrees; class 1 (one sample) at 22; class 2 (one) at 180.
    # query 0deg: [10 (hit), 22 (miss)] -> P@1 1, RP 1/2, AP 1/2
    # query 10deg: [0 (hit), 22 (miss)] -> 1, 1/2, 1/2
    # query 30deg: [22 (miss), 10 (hit)] -> 0, 1/2, (1/2)(1/2) = 1/4
    # the two singletons are no queries.
    x = _unit([0, 10, 30, 22, 180])
    got = metrics.retrieval_scores(x, [0, 0, 0, 1, 2])
    _assert_scores(got, {"precision_at_1": 2 / 3, "r_precision": 0.5, "map_at_r": 1.25 / 3})


def test_retrieval_exact_ties_break_by_lower_index():
    # rows 0, 1, 2 are the same vector: query 0 sees rows 1 and 2 tied and ranks row 1
    # (class 1, a miss) first; query 2 ranks row 0 (class 0, a hit) first; query 1's
    # class-mate (row 3) is orthogonal, behind rows 0 and 2; query 3 finds row 4 (class 2).
    x = np.array([[1.0, 0], [1.0, 0], [1.0, 0], [0, 1.0], [0, 1.0]])
    y = np.array([0, 1, 0, 1, 2])
    want = {"precision_at_1": 0.25, "r_precision": 0.25, "map_at_r": 0.25}
    _assert_scores(metrics.retrieval_scores(x, y), want)
    _assert_scores(metrics.retrieval_scores(x, y), _reference_retrieval(x, y))
    # ranking the tied higher index first would make query 0 a hit and query 2 a miss:
    # the same means here, so also check one query on its own neighbours
    assert retrieval.ranked_neighbours(x / np.linalg.norm(x, axis=1)[:, None], [0], 2).tolist() == [
        [1, 2]
    ]


@pytest.mark.parametrize("block", [None, 7 * 61])
def test_retrieval_random_with_ties_and_singletons_matches_reference(monkeypatch, block):
    rng = np.random.default_rng(3)
    y = np.concatenate([rng.integers(0, 5, size=55), [7, 8, 9]])  # three singleton classes
    x = rng.normal(size=(58, 4)) + 1.5 * rng.normal(size=(10, 4))[y]
    x[10] = x[3]  # exact ties: duplicates, and a zero vector (cosine 0 with all)
    x[20] = 2.0 * x[3]
    x[30] = 0.0
    x = np.vstack([x, x[5:8]])  # duplicated rows with their labels
    y = np.concatenate([y, y[5:8]])
    if block:
        monkeypatch.setattr(retrieval, "BLOCK_ELEMENTS", block)  # several query blocks
    _assert_scores(metrics.retrieval_scores(x, y), _reference_retrieval(x, y))
    _assert_scores(metrics.retrieval_scores(x, y, k=3), _reference_retrieval(x, y, k=3))
    _assert_scores(metrics.retrieval_scores(x, y[:, None]), _reference_retrieval(x, y))


def test_retrieval_perfect_and_only_singletons():
    x = _unit([0, 1, 2, 90, 91, 180])
    assert metrics.retrieval_scores(x, [0, 0, 0, 1, 1, 2]) == {
        "precision_at_1": 1.0,
        "r_precision": 1.0,
        "map_at_r": 1.0,
    }
    scores = metrics.retrieval_scores(x[:3], [0, 1, 2])
    assert all(math.isnan(v) for v in scores.values())


def test_retrieval_blocks_bound_memory(monkeypatch):
    n = 1500
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 8)).astype(np.float32)
    y = rng.integers(0, 150, size=n)
    monkeypatch.setattr(retrieval, "BLOCK_ELEMENTS", 40 * n)
    tracemalloc.start()
    metrics.retrieval_scores(x, y)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < n * n * 8 / 4  # far below one N x N float64 matrix (18 MB)


def test_retrieval_bad_input():
    x = np.ones((4, 2))
    with pytest.raises(ValueError, match="one-hot"):
        metrics.retrieval_scores(x, np.eye(4))
    with pytest.raises(ValueError, match="NaN"):
        metrics.retrieval_scores(np.full((4, 2), np.nan), [0, 0, 1, 1])
    with pytest.raises(ValueError, match="entries"):
        metrics.retrieval_scores(x, [0, 1])
    with pytest.raises(ValueError, match="k must be"):
        metrics.retrieval_scores(x, [0, 0, 1, 1], k=0)
    with pytest.raises(ValueError, match="at least 2"):
        metrics.retrieval_scores(x[:1], [0])


# --------------------------------------------------------------------------- #
# verification_scores
# --------------------------------------------------------------------------- #
def _all_pairs(x, y):
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    pairs = list(itertools.combinations(range(len(x)), 2))
    scores = np.array([u[i] @ u[j] for i, j in pairs])
    same = np.array([y[i] == y[j] for i, j in pairs])
    return pairs, scores, same


def _reference_tar(scores, same, far):
    """Max TAR over every threshold (accept > t) whose FAR is at most ``far``."""
    best = 0.0
    for t in np.concatenate([np.unique(scores), [-np.inf]]):
        if np.mean(scores[~same] > t) <= far:
            best = max(best, np.mean(scores[same] > t))
    return best


def _embeddings(kind):
    rng = np.random.default_rng(1)
    if kind == "continuous":  # 90 samples around 4 class centres: no tied cosines
        y = rng.integers(0, 4, size=90)
        return rng.normal(size=(90, 3)) + 0.8 * rng.normal(size=(4, 3))[y], y
    # on the axes, lengths powers of 2 (exact unit vectors): every cosine is exactly
    # -1, 0 or 1 (massive ties)
    axis = rng.integers(0, 4, size=90)
    length = rng.choice([0.5, 1.0, 2.0, 4.0], 90)
    x = np.zeros((90, 2))
    x[np.arange(90), axis % 2] = np.where(axis < 2, 1.0, -1.0) * length
    y = np.where(rng.random(90) < 0.7, axis, rng.integers(0, 4, size=90))
    return x, y


@pytest.mark.parametrize("kind", ["continuous", "tied"])
def test_verification_matches_sklearn_and_brute_force(kind):
    x, y = _embeddings(kind)
    _, scores, same = _all_pairs(x, y)
    got = metrics.verification_scores(x, y)
    assert got["pairs"] == len(scores) and got["positive_pairs"] == same.sum()
    assert got["roc_auc"] == pytest.approx(roc_auc_score(same, scores), abs=1e-12)
    assert got["tar_at_far_1e-3"] == pytest.approx(_reference_tar(scores, same, 1e-3))
    assert math.isnan(got["tar_at_far_1e-4"])  # ~3000 negatives cannot resolve 1e-4
    accuracies = [np.mean((scores > t) == same) for t in np.append(np.unique(scores), -np.inf)]
    assert got["best_accuracy"] == pytest.approx(max(accuracies))
    assert np.mean((scores > got["threshold"]) == same) == pytest.approx(got["best_accuracy"])


def test_verification_given_pairs_and_sampled_pairs():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 3, size=40)
    x = rng.normal(size=(40, 5)) + rng.normal(size=(3, 5))[y]
    pairs = rng.integers(0, 40, size=(500, 2))
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    scores = np.einsum("pd,pd->p", u[pairs[:, 0]], u[pairs[:, 1]])
    same = y[pairs[:, 0]] == y[pairs[:, 1]]
    got = metrics.verification_scores(x, y, pairs=pairs)
    assert got["roc_auc"] == pytest.approx(roc_auc_score(same, scores), abs=1e-12)
    sampled = metrics.verification_scores(x, y, max_pairs=300, seed=5)
    assert sampled["pairs"] == 300
    np.testing.assert_equal(sampled, metrics.verification_scores(x, y, max_pairs=300, seed=5))
    with pytest.raises(ValueError, match="both positive and negative"):
        metrics.verification_scores(x, np.zeros(40, int))
    with pytest.raises(ValueError, match=r"\(P, 2\)"):
        metrics.verification_scores(x, y, pairs=[1, 2, 3])
    with pytest.raises(ValueError, match="outside"):
        metrics.verification_scores(x, y, pairs=[[0, 40]])


def test_verification_ties_against_a_hand_count():
    """Three score levels, each shared by positive and negative pairs (exact ties).

    Pairs (repeated rows): positives 3 at H = cos 1, 2 at M = cos(a, b), 1 at L = cos 0;
    negatives 2 at H, 3 at M, 1995 at L. Counted by hand:

    * ROC AUC = (wins + ties / 2) / (6 * 2000): H positives beat 1998 negatives and tie 2,
      M positives beat 1995 and tie 3, the L positive ties 1995:
      (3 * 1998 + 3 + 2 * 1995 + 3 + 1995 / 2) / 12000 = 10987.5 / 12000;
    * TAR at FAR 1e-3: at most floor(2) false accepts; accepting H lets in both tied H
      negatives (2, allowed) and 3 of 6 positives; accepting M as well would let in 5:
      TAR = 0.5. FAR 1e-4 allows no false accept: NaN;
    * best accuracy: accept H only, 3 + 1998 correct of 2006, threshold between H and M.
    """
    a, b, c = [1.0, 0.0], [0.6, 0.8], [0.0, 1.0]
    x = [a, a, a, b, b, c]
    y = [0, 0, 1, 0, 1, 1]
    rows = {(0, 1): 3, (0, 2): 2, (0, 3): 2, (2, 3): 3, (2, 5): 1, (0, 5): 1995}
    pairs = np.array([pair for pair, count in rows.items() for _ in range(count)])
    got = metrics.verification_scores(x, y, pairs=pairs)
    assert (got["pairs"], got["positive_pairs"]) == (2006.0, 6.0)
    assert got["roc_auc"] == pytest.approx(10987.5 / 12000, abs=1e-15)
    assert got["tar_at_far_1e-3"] == 0.5
    assert math.isnan(got["tar_at_far_1e-4"])
    assert got["best_accuracy"] == pytest.approx(2001 / 2006, abs=1e-15)
    assert 0.6 < got["threshold"] < 1.0


def test_tar_at_far_on_a_straight_stretch_of_the_roc_curve():
    """Levels 1-3 each hold one positive and one negative pair (tied), level L one
    positive and 1997 negatives: the ROC points (false, true accepts) (1, 1), (2, 2),
    (3, 3) lie on a line, which a curve with its collinear points dropped would skip.

    By hand: FAR 1e-3 allows floor(2) false accepts: accept levels 1 and 2, TAR 2 / 4.
    ROC AUC: level-k positives beat 2000 - k negatives and tie one, the L positive ties
    1997: (1999.5 + 1998.5 + 1997.5 + 998.5) / 8000.
    """
    a, c = [1.0, 0.0], [0.0, 1.0]
    x = [a, a, [0.8, 0.6], [0.6, 0.8], [0.3, 0.9], c]
    y = [0, 1, 0, 0, 0, 0]
    rows = {(0, 2): 1, (1, 2): 1, (0, 3): 1, (1, 3): 1, (0, 4): 1, (1, 4): 1}
    rows.update({(0, 5): 1, (1, 5): 1997})
    pairs = np.array([pair for pair, count in rows.items() for _ in range(count)])
    got = metrics.verification_scores(x, y, pairs=pairs)
    assert got["tar_at_far_1e-3"] == 0.5
    assert got["roc_auc"] == pytest.approx(6994 / 8000, abs=1e-15)
