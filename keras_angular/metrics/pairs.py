"""HASeparator Sec. IV-C: the angles of positive and negative pairs of samples, their
histograms (Fig. 4, Fig. 6), and the KL divergence and Wasserstein (Earth Mover's) distance
between them (D_KL, D_EM). Degrees, as the paper gives them."""

import numpy as np

from keras_angular.features import DEFAULT_MAX_PAIRS, checked_inputs, pair_cosines
from keras_angular.metrics.angles import _acos

__all__ = [
    "KL_EPSILON",
    "angle_histogram_divergence",
    "pair_angle_divergence",
    "pair_angle_histograms",
    "pair_angles",
]

KL_EPSILON = 1e-10
"""Added to every bin of both normalised histograms before the KL divergence
(then renormalised), so an empty negative bin under a non-empty positive
one costs ``log(p / 1e-10)`` (at most ~23 nats) instead of infinity."""


def pair_angles(features, labels, max_pairs=DEFAULT_MAX_PAIRS, seed=0):
    """Angles (degrees) of all positive and negative pairs of samples.

    A pair (i, j), i < j, is positive when ``labels[i] == labels[j]`` and
    negative otherwise; its angle is ``arccos`` of the cosine of the two
    features (HASeparator Sec. IV-C; Fig. 4 histograms these in degrees).

    Exact below the threshold: when ``N(N-1)/2 <= max_pairs`` every pair is
    enumerated, in row blocks so no N x N matrix is held at once. Above it,
    exactly ``max_pairs`` pairs are sampled uniformly with replacement from the
    N(N-1)/2 pairs by ``numpy.random.default_rng(seed)`` (same seed, same
    pairs) and processed in chunks, so memory is O(max_pairs + N*D), never
    O(N^2). Positives are then about a 1/C share of the sample.

    Args:
        features: (N, D) features.
        labels: (N,) integer labels.
        max_pairs: the largest number of pairs returned (default 1,000,000:
            exact up to N = 1414).
        seed: seed of the pair sampler (only used above the threshold).

    Returns:
        ``(positive_degrees, negative_degrees)``, two float64 arrays.

    Examples:
        >>> x = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
        >>> positive, negative = pair_angles(x, np.array([0, 0, 1]))
        >>> positive.round(4).tolist(), negative.round(4).tolist()  # (0, 1); (0, 2), (1, 2)
        ([45.0], [90.0, 45.0])
    """
    x, y, _ = checked_inputs(features, labels)
    cosines, same = pair_cosines(x, y, max_pairs=max_pairs, seed=seed)
    angles = np.degrees(_acos(cosines))
    return angles[same], angles[~same]


def _check_degrees(values, name):
    a = np.asarray(values, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or infinite values.")
    return a


def pair_angle_histograms(positive_degrees, negative_degrees, bins=180):
    """Normalised histograms of the two angle samples over [0, 180] degrees.

    ``bins`` equal bins (180: one per degree). Returns ``(edges, p, q)`` with
    ``edges`` of length bins + 1 and ``p``, ``q`` summing to 1 (all zeros for an
    empty sample).

    Examples:
        >>> edges, p, q = pair_angle_histograms([10.0, 20.0, 100.0], [100.0], bins=2)
        >>> edges.tolist(), p.round(4).tolist(), q.tolist()
        ([0.0, 90.0, 180.0], [0.6667, 0.3333], [0.0, 1.0])
    """
    bins = int(bins)
    if bins < 1:
        raise ValueError(f"bins must be a positive integer, got {bins}.")
    pos = _check_degrees(positive_degrees, "positive_degrees")
    neg = _check_degrees(negative_degrees, "negative_degrees")
    edges = np.linspace(0.0, 180.0, bins + 1)
    out = []
    for a in (pos, neg):
        h, _ = np.histogram(np.clip(a, 0.0, 180.0), bins=edges)
        h = h.astype(np.float64)
        out.append(h / h.sum() if h.sum() else h)
    return edges, out[0], out[1]


def angle_histogram_divergence(positive_degrees, negative_degrees, bins=180, epsilon=KL_EPSILON):
    """KL divergence and Wasserstein distance between two pair-angle samples.

    * ``kl`` = ``KL(P || Q) = sum_b P_b log(P_b / Q_b)`` in nats, with ``P``,
      ``Q`` the normalised ``bins``-bin histograms over [0, 180] degrees of the
      positive and negative angles (HASeparator D_KL). Smoothing: ``epsilon``
      (default 1e-10) is added to every bin of both histograms, which are then
      renormalised, so the value is finite even where Q is empty (an empty Q bin
      under P mass p costs about ``p log(p / epsilon)``; for disjoint
      histograms KL saturates near ``log(1 / epsilon)``, about 23 nats).
    * ``emd`` = the 1-Wasserstein (Earth Mover's) distance in degrees between
      the raw angle samples, ``scipy.stats.wasserstein_distance`` (HASeparator
      D_EM), not between the binned histograms.

    Either sample empty gives NaN for both.

    Examples:
        >>> d = angle_histogram_divergence([10.0, 20.0], [100.0, 110.0], bins=2)
        >>> round(d["emd"], 4), round(d["kl"], 2)  # a 90-degree shift; disjoint: log(1e10)
        (90.0, 23.03)
    """
    from scipy.stats import wasserstein_distance

    if int(bins) < 1:
        raise ValueError(f"bins must be a positive integer, got {bins}.")
    epsilon = float(epsilon)
    if not epsilon > 0:
        raise ValueError(f"epsilon must be > 0 so KL stays finite, got {epsilon}.")
    pos = _check_degrees(positive_degrees, "positive_degrees")
    neg = _check_degrees(negative_degrees, "negative_degrees")
    if pos.size == 0 or neg.size == 0:
        return {"kl": float("nan"), "emd": float("nan")}
    _, p, q = pair_angle_histograms(pos, neg, bins)
    p = (p + epsilon) / (1.0 + epsilon * p.size)
    q = (q + epsilon) / (1.0 + epsilon * q.size)
    kl = float(np.sum(p * np.log(p / q)))
    emd = float(wasserstein_distance(pos, neg))
    return {"kl": kl, "emd": emd}


def pair_angle_divergence(
    features, labels, bins=180, max_pairs=DEFAULT_MAX_PAIRS, seed=0, epsilon=KL_EPSILON
):
    """HASeparator's D_KL and D_EM between positive and negative pair angles.

    [`pair_angles`][keras_angular.metrics.pair_angles] (exact up to ``max_pairs`` pairs, seeded
    uniform sample above) followed by
    [`angle_histogram_divergence`][keras_angular.metrics.angle_histogram_divergence] (``bins`` bins
    over [0, 180] degrees, ``epsilon`` smoothing, Wasserstein-1 in degrees). Higher is more
    separable for both. Returns ``{"kl": float, "emd": float}``.

    Examples:
        >>> x = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0], [0.0, 3.0]])
        >>> d = pair_angle_divergence(x, np.array([0, 0, 1, 1]), bins=2)
        >>> round(d["emd"], 4)  # positives at 0 degrees, negatives at 90
        90.0
    """
    pos, neg = pair_angles(features, labels, max_pairs=max_pairs, seed=seed)
    return angle_histogram_divergence(pos, neg, bins=bins, epsilon=epsilon)
