"""Feature-geometry metrics of the four papers, in NumPy: arrays in, plain floats out.

Every function takes the penultimate features ("embeddings") of a held-out set,
shape ``(N, D)``, integer class labels, shape ``(N,)`` (or ``(N, 1)``), and -
where the class weights matter - the classification head's kernel, shape
``(D, C)`` with one column per class (``keras.layers.Dense``,
:class:`keras_angular.layers.CosineDense`, ...). Nothing here (nor in
:mod:`keras_angular.conventions`, the one place labels and unit vectors are defined) imports
TensorFlow or Keras, so the metrics run on saved arrays anywhere.

* :func:`angle_statistics` - W-Inter, C-Inter, WC-Intra of the Angular paper
  (Wu & Wang, Sec. 4.2.2, Eq. 12-14) plus ``cw_inter``, the official code's
  reading of C-Inter (class centre vs the *other* classes' weights);
* :func:`target_angles` / :func:`class_mean_angles` - the angle between each
  sample and its own class weight, and its per-class mean (W-Softmax Eq. 14,
  Fig. 5; Angular paper Fig. 7);
* :func:`pair_angles`, :func:`pair_angle_histograms`,
  :func:`angle_histogram_divergence`, :func:`pair_angle_divergence` - the
  positive / negative pair angle histograms with their KL divergence and
  Wasserstein (Earth Mover's) distance (HASeparator Sec. IV-C, Fig. 4, Fig. 6);
* :func:`clustering_scores` - homogeneity and completeness (AMC-Loss Sec. 4.1);
* :func:`cosine_similarity_matrix` - the class-sorted ``x_i^T x_j`` matrix of
  unit features (Angular paper Eq. 15, Fig. 8);
* :func:`simplex_weights` / :func:`minimum_units` - W-Softmax Eq. 3-4: C unit
  vectors with pairwise dot ``-1/(C-1)`` exist in C-1 dimensions;
* :func:`retrieval_scores` / :func:`verification_scores` - open-set scores
  (precision@1, R-precision, MAP@R; ROC AUC, TAR at FAR, best accuracy), defined in
  :mod:`keras_angular.retrieval` and exposed here.

Conventions:

* The functions below return angles in radians, except the pair angles of
  HASeparator, which the paper gives in degrees (and its D_EM values are degrees);
  each says its unit. :func:`feature_geometry` - what the package writes to the
  Keras logs, ``metrics.json``, ``history.json`` and the compare report - gives
  every angle in degrees, under a key ending ``_deg`` (:data:`GEOMETRY_KEYS`); it
  is the one place that converts.
* Labels follow the package's one policy (:func:`class_indices`, the rule of
  :mod:`keras_angular.conventions`): integer class indices of shape (N,) or
  (N, 1); one-hot labels are refused.
* Unit vectors come from :func:`keras_angular.conventions.l2_normalize`, the
  function the heads and losses use (through :func:`keras_angular.ops.l2_normalize`):
  a zero vector is normalised to zero, so its cosine with anything is 0 and its
  angle 90 degrees; no NaN is produced.
* A class with no sample in ``labels`` has no centre: it is skipped in the
  centre-based terms (its weight still counts in ``w_inter`` and as an "other"
  weight in ``cw_inter``), and its per-class mean angle is NaN. A statistic with
  nothing to average (e.g. ``c_inter`` with fewer than two classes present) is
  NaN.
"""

import numpy as np

from keras_angular.conventions import l2_normalize, label_shape_error
from keras_angular.retrieval import (
    RETRIEVAL_KEYS,
    embedding_scores,
    retrieval_scores,
    verification_scores,
)

__all__ = [
    "DEFAULT_MAX_PAIRS",
    "GEOMETRY_KEYS",
    "KL_EPSILON",
    "RETRIEVAL_KEYS",
    "angle_between",
    "angle_histogram_divergence",
    "angle_statistics",
    "class_centers",
    "class_indices",
    "class_mean_angles",
    "clustering_scores",
    "cosine_similarity_matrix",
    "embedding_scores",
    "feature_geometry",
    "minimum_units",
    "pair_angle_divergence",
    "pair_angle_histograms",
    "pair_angles",
    "pair_cosines",
    "retrieval_scores",
    "simplex_weights",
    "target_angles",
    "verification_scores",
]

#: Above this many i<j pairs, :func:`pair_angles` samples this many pairs
#: instead of enumerating them all (exact below it: N <= 1414 samples).
DEFAULT_MAX_PAIRS = 1_000_000

#: Added to every bin of both normalised histograms before the KL divergence
#: (then renormalised), so an empty negative bin under a non-empty positive
#: one costs ``log(p / 1e-10)`` (at most ~23 nats) instead of infinity.
KL_EPSILON = 1e-10

#: The scalar keys of :func:`feature_geometry`, in order: angles in degrees (``_deg``),
#: ``kl`` in nats, the clustering scores in [0, 1] (the last four, only with
#: ``clustering=True``; the ``prediction_*`` two only with predictions).
GEOMETRY_KEYS = (
    "w_inter_deg",
    "c_inter_deg",
    "cw_inter_deg",
    "wc_intra_deg",
    "kl",
    "emd_deg",
    "homogeneity",
    "completeness",
    "prediction_homogeneity",
    "prediction_completeness",
)

#: Roughly how many float64 numbers one working block may hold (32 MiB).
_BLOCK_ELEMENTS = 1 << 22


# --------------------------------------------------------------------------- #
# validation and primitives
# --------------------------------------------------------------------------- #
def _as_features(features, name="features"):
    x = np.asarray(features)
    if x.dtype == object or not (
        np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)
    ):
        raise ValueError(f"{name} must be a numeric array, got dtype {x.dtype}.")
    if x.ndim != 2:
        raise ValueError(f"{name} must have shape (N, D), got shape {x.shape}.")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{name} must be non-empty, got shape {x.shape}.")
    x = x.astype(np.float64, copy=False)
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains NaN or infinite values.")
    return x


def class_indices(labels, n=None, num_classes=None, owner="keras_angular.metrics"):
    """The package's label policy on NumPy arrays: (N,) int64 class indices, or ``ValueError``.

    The rule of :mod:`keras_angular.conventions` (shape (N,) or (N, 1); integer or
    integer-valued float values ``>= 0`` and below ``num_classes``; one-hot labels
    refused, never converted), as :func:`keras_angular.ops.checked_labels` applies
    it to tensors. ``n``: the number of rows the labels must match.

    Examples:
        >>> class_indices(np.array([[2.0], [0.0]])).tolist()
        [2, 0]
    """
    y = np.asarray(labels)
    error = label_shape_error(owner, y.shape, name="labels")
    if error:
        raise ValueError(error)
    y = y.reshape(-1)
    if n is not None and y.shape[0] != n:
        raise ValueError(f"labels has {y.shape[0]} entries but features has {n} rows.")
    if np.issubdtype(y.dtype, np.floating):
        if not np.all(np.isfinite(y)):
            raise ValueError("labels contains NaN or infinite values.")
        if not np.all(y == np.round(y)):
            raise ValueError("labels must be integer class indices, got non-integer values.")
    elif not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels must be integer class indices, got dtype {y.dtype}.")
    y = y.astype(np.int64)
    if y.size and y.min() < 0:
        raise ValueError(f"labels must be >= 0, got {y.min()}.")
    if num_classes is not None and y.size and y.max() >= num_classes:
        raise ValueError(
            f"label {y.max()} is out of range for a kernel with {num_classes} classes (columns)."
        )
    return y


def _as_kernel(kernel, dim):
    w = np.asarray(kernel)
    if w.ndim != 2:
        raise ValueError(f"kernel must have shape (D, C), got shape {w.shape}.")
    if w.shape[0] != dim:
        raise ValueError(
            f"kernel has {w.shape[0]} rows but features have {dim} dimensions; the kernel "
            f"is (D, C) with one column per class."
        )
    if w.shape[1] < 1:
        raise ValueError("kernel must have at least one class column.")
    w = w.astype(np.float64, copy=False)
    if not np.all(np.isfinite(w)):
        raise ValueError("kernel contains NaN or infinite values.")
    return w


def _acos(cos):
    return np.arccos(np.clip(cos, -1.0, 1.0))


def angle_between(a, b):
    """Angles (radians) between every row of ``a`` (n, D) and every row of ``b`` (m, D).

    Returns an (n, m) array. Zero rows are treated as having cosine 0 with
    everything (angle pi/2).

    Examples:
        >>> float(angle_between([[1.0, 0.0]], [[0.0, 2.0]])[0, 0]) == np.pi / 2
        True
    """
    a = l2_normalize(np.atleast_2d(np.asarray(a, dtype=np.float64)))
    b = l2_normalize(np.atleast_2d(np.asarray(b, dtype=np.float64)))
    return _acos(a @ b.T)


def _check(features, labels, kernel=None):
    x = _as_features(features)
    w = None if kernel is None else _as_kernel(kernel, x.shape[1])
    y = class_indices(labels, x.shape[0], None if w is None else w.shape[1])
    return x, y, w


def class_centers(features, labels, num_classes=None):
    """Mean raw feature of each class (Angular paper: ``Center_j = mean of x``).

    Returns ``(centers, present)``: ``centers`` has shape (num_classes, D)
    (rows of absent classes are NaN) and ``present`` is a boolean mask.
    ``num_classes`` defaults to ``max(labels) + 1``.

    Examples:
        >>> x = np.array([[1.0, 0.0], [3.0, 0.0], [0.0, 2.0]])
        >>> centers, present = class_centers(x, np.array([0, 0, 2]))
        >>> centers[0].tolist(), present.tolist()
        ([2.0, 0.0], [True, False, True])
    """
    x, y, _ = _check(features, labels)
    if num_classes is None:
        num_classes = int(y.max()) + 1
    if y.max() >= num_classes:
        raise ValueError(f"label {y.max()} is out of range for {num_classes} classes.")
    counts = np.bincount(y, minlength=num_classes).astype(np.float64)
    sums = np.zeros((num_classes, x.shape[1]))
    np.add.at(sums, y, x)
    present = counts > 0
    centers = np.full_like(sums, np.nan)
    centers[present] = sums[present] / counts[present, None]
    return centers, present


def _mean_or_nan(values):
    values = np.asarray(values, dtype=np.float64)
    return float(values.mean()) if values.size else float("nan")


# --------------------------------------------------------------------------- #
# Angular paper (Wu & Wang) Sec. 4.2.2, W-Softmax Eq. 14
# --------------------------------------------------------------------------- #
def angle_statistics(features, labels, kernel):
    """W-Inter, C-Inter, WC-Intra (Angular paper Eq. 12-14) and ``cw_inter``, in radians.

    With ``w_j`` the j-th column of ``kernel`` (D, C) and ``c_j`` the mean raw
    feature of class j, and ``<a, b>`` the angle between a and b:

    * ``w_inter``  = mean over i != j of ``<w_i, w_j>`` (Eq. 13), all C classes;
    * ``c_inter``  = mean over i != j of ``<c_i, c_j>``, the paper's prose for
      Eq. 14 (its printed formula is garbled, see DESIGN.md);
    * ``cw_inter`` = mean over classes j and i != j of ``<c_j, w_i>``: a centre
      against the *other* classes' weights, what the authors' code computes;
    * ``wc_intra`` = mean over j of ``<c_j, w_j>`` (Eq. 12).

    Classes absent from ``labels`` have no centre and are skipped in the three
    centre-based terms (every pair is weighted equally); a term with nothing to
    average is NaN (``w_inter`` needs C >= 2, ``c_inter`` two present classes).

    Args:
        features: (N, D) penultimate features.
        labels: (N,) integer labels in ``[0, C)``.
        kernel: (D, C) class weights, one column per class.

    Returns:
        dict of four Python floats (radians).

    Examples:
        >>> s = angle_statistics(np.eye(2), [0, 1], np.eye(2))
        >>> round(s["w_inter"], 4), round(s["wc_intra"], 4)
        (1.5708, 0.0)
    """
    x, y, w = _check(features, labels, kernel)
    num_classes = w.shape[1]
    weights = w.T  # (C, D)
    off_diagonal = ~np.eye(num_classes, dtype=bool)

    w_angles = angle_between(weights, weights)
    w_inter = _mean_or_nan(w_angles[off_diagonal])

    centers, present = class_centers(x, y, num_classes)
    idx = np.flatnonzero(present)
    c = centers[idx]
    c_angles = angle_between(c, c)
    c_off = ~np.eye(len(idx), dtype=bool)
    c_inter = _mean_or_nan(c_angles[c_off])

    cw_angles = angle_between(c, weights)  # (P, C): centre of class idx[k] vs w_i
    own = np.zeros_like(cw_angles, dtype=bool)
    own[np.arange(len(idx)), idx] = True
    cw_inter = _mean_or_nan(cw_angles[~own])
    wc_intra = _mean_or_nan(cw_angles[own])
    return {
        "w_inter": w_inter,
        "c_inter": c_inter,
        "cw_inter": cw_inter,
        "wc_intra": wc_intra,
    }


def target_angles(features, labels, kernel):
    """Angle (radians) between each sample and its own class weight, shape (N,).

    ``theta_n = arccos(w_{y_n}^T x_n / (||w_{y_n}|| ||x_n||))`` - the "target
    angle" whose per-class histogram the Angular paper follows during training
    (Fig. 7).

    Examples:
        >>> x = np.array([[0.0, 1.0], [1.0, 1.0]])
        >>> theta = target_angles(x, np.array([0, 0]), np.eye(2))
        >>> np.degrees(theta).round(4).tolist()
        [90.0, 45.0]
    """
    x, y, w = _check(features, labels, kernel)
    u = l2_normalize(x)
    v = l2_normalize(w.T)[y]
    return _acos(np.sum(u * v, axis=1))


def class_mean_angles(features, labels, kernel):
    """Per-class mean angle (radians) between ``w_i`` and that class's samples.

    W-Softmax Eq. 14: ``theta_i = 1/N_i sum_j arccos(w_i^T x_i^(j) / (||w_i|| ||x_i^(j)||))``
    for i = 0 .. C-1 (Fig. 5 plots it per class). Returns a float64 NumPy array
    of shape (C,); a class with no sample gets NaN.

    Examples:
        >>> class_mean_angles([[1.0, 0.0], [1.0, 1.0]], [0, 0], np.eye(2)).round(4).tolist()
        [0.3927, nan]
    """
    x, y, w = _check(features, labels, kernel)
    theta = target_angles(x, y, w)
    num_classes = w.shape[1]
    counts = np.bincount(y, minlength=num_classes)
    sums = np.bincount(y, weights=theta, minlength=num_classes)
    means = np.full(num_classes, np.nan)
    means[counts > 0] = sums[counts > 0] / counts[counts > 0]
    return means


# --------------------------------------------------------------------------- #
# HASeparator Sec. IV-C: positive / negative pair angles
# --------------------------------------------------------------------------- #
def _sample_pairs(n, size, rng):
    """``size`` i<j index pairs drawn uniformly (with replacement) from all n(n-1)/2.

    ``i`` is uniform on [0, n) and ``j = (i + d) % n`` with ``d`` uniform on
    [1, n): every ordered pair with i != j has probability 1/(n(n-1)), so every
    unordered pair has 2/(n(n-1)).
    """
    i = rng.integers(0, n, size=size)
    j = (i + rng.integers(1, n, size=size)) % n
    return np.minimum(i, j), np.maximum(i, j)


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
    x, y, _ = _check(features, labels)
    cosines, same = pair_cosines(x, y, max_pairs=max_pairs, seed=seed)
    angles = np.degrees(_acos(cosines))
    return angles[same], angles[~same]


def pair_cosines(features, labels, max_pairs=DEFAULT_MAX_PAIRS, seed=0):
    """Cosines of all i<j pairs of samples (or a seeded sample of them), and which are positive.

    The pair enumeration of :func:`pair_angles` (and of
    :func:`keras_angular.metrics.verification_scores`): every pair when
    ``N(N-1)/2 <= max_pairs``, enumerated in row blocks (row-major order: (0, 1),
    (0, 2), ..., (1, 2), ...); otherwise exactly ``max_pairs`` pairs drawn
    uniformly with replacement by ``numpy.random.default_rng(seed)``.

    Returns:
        ``(cosines, same)``: float64 cosines of the unit features and a bool array,
        True where the pair's two labels are equal.

    Examples:
        >>> cos, same = pair_cosines([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0]], [0, 0, 1])
        >>> cos.tolist(), same.tolist()
        ([1.0, 0.0, 0.0], [True, False, False])
    """
    x, y, _ = _check(features, labels)
    max_pairs = int(max_pairs)
    if max_pairs < 1:
        raise ValueError(f"max_pairs must be a positive integer, got {max_pairs}.")
    n, dim = x.shape
    if n < 2:
        raise ValueError(f"pairs need at least 2 samples, got {n}.")
    u = l2_normalize(x)
    total = n * (n - 1) // 2
    cosines, same = [], []
    if total <= max_pairs:
        rows = max(1, _BLOCK_ELEMENTS // n)
        for start in range(0, n - 1, rows):
            stop = min(start + rows, n - 1)
            cos = u[start:stop] @ u.T  # (rows, n)
            ii, jj = np.triu_indices(stop - start, k=1, m=n - start)
            # ii indexes the block rows, jj + start the columns j > i.
            jj = jj + start
            cosines.append(np.clip(cos[ii, jj], -1.0, 1.0))
            same.append(y[start:stop][ii] == y[jj])
    else:
        rng = np.random.default_rng(seed)
        i, j = _sample_pairs(n, max_pairs, rng)
        chunk = max(1, _BLOCK_ELEMENTS // dim)
        for start in range(0, max_pairs, chunk):
            a, b = i[start : start + chunk], j[start : start + chunk]
            cosines.append(np.clip(np.einsum("nd,nd->n", u[a], u[b]), -1.0, 1.0))
            same.append(y[a] == y[b])
    return np.concatenate(cosines), np.concatenate(same)


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

    :func:`pair_angles` (exact up to ``max_pairs`` pairs, seeded uniform sample
    above) followed by :func:`angle_histogram_divergence` (``bins`` bins over
    [0, 180] degrees, ``epsilon`` smoothing, Wasserstein-1 in degrees).
    Higher is more separable for both. Returns ``{"kl": float, "emd": float}``.

    Examples:
        >>> x = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0], [0.0, 3.0]])
        >>> d = pair_angle_divergence(x, np.array([0, 0, 1, 1]), bins=2)
        >>> round(d["emd"], 4)  # positives at 0 degrees, negatives at 90
        90.0
    """
    pos, neg = pair_angles(features, labels, max_pairs=max_pairs, seed=seed)
    return angle_histogram_divergence(pos, neg, bins=bins, epsilon=epsilon)


# --------------------------------------------------------------------------- #
# AMC-Loss Sec. 4.1: clustering quality
# --------------------------------------------------------------------------- #
def clustering_scores(features, labels, predictions=None, seed=0, n_clusters=None, n_init=10):
    """Homogeneity and completeness of the features (AMC-Loss Sec. 4.1).

    * ``homogeneity`` / ``completeness``: k-means (scikit-learn, ``n_init``
      restarts, ``random_state=seed``) with k = the number of distinct labels
      (or ``n_clusters``) on the *unit-normalised* features, scored against the
      true labels - what the paper's text describes.
    * ``prediction_homogeneity`` / ``prediction_completeness`` (only when
      ``predictions`` is given): the true labels against the classifier's
      predictions - what the AMC authors' code computes. ``predictions`` is
      either (N,) integer classes or (N, C) logits / probabilities (argmax).

    Returns a dict of Python floats in [0, 1].

    Examples:
        >>> x = np.array([[1.0, 0.0], [2.0, 0.1], [0.0, 1.0], [0.1, 3.0]])
        >>> scores = clustering_scores(x, np.array([0, 0, 1, 1]))
        >>> round(scores["homogeneity"], 4), round(scores["completeness"], 4)
        (1.0, 1.0)
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import completeness_score, homogeneity_score

    x, y, _ = _check(features, labels)
    k = len(np.unique(y)) if n_clusters is None else int(n_clusters)
    if k < 1 or k > x.shape[0]:
        raise ValueError(f"n_clusters must be in [1, N={x.shape[0]}], got {k}.")
    u = l2_normalize(x)
    clusters = KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit_predict(u)
    scores = {
        "homogeneity": float(homogeneity_score(y, clusters)),
        "completeness": float(completeness_score(y, clusters)),
    }
    if predictions is not None:
        p = np.asarray(predictions)
        if p.ndim == 2 and p.shape[1] > 1:
            if not np.all(np.isfinite(p)):
                raise ValueError("predictions contains NaN or infinite values.")
            p = p.argmax(axis=1)
        p = class_indices(p, x.shape[0])
        scores["prediction_homogeneity"] = float(homogeneity_score(y, p))
        scores["prediction_completeness"] = float(completeness_score(y, p))
    return scores


# --------------------------------------------------------------------------- #
# Angular paper Eq. 15, Fig. 8
# --------------------------------------------------------------------------- #
def cosine_similarity_matrix(features, labels, samples_per_class=None, seed=0):
    """Class-sorted cosine-similarity matrix ``CM_ij = x_i^T x_j`` of unit features.

    Angular paper Eq. 15 / Fig. 8: pick ``samples_per_class`` samples of each
    present class at random (``numpy.random.default_rng(seed)``; all samples
    when None or when a class has fewer), L2-normalise them, order them by
    class, and take all inner products.

    Returns ``(matrix, sorted_labels)``: an (M, M) float64 array in [-1, 1]
    and the (M,) labels of its rows.

    Examples:
        >>> x = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 0.0]])
        >>> matrix, sorted_labels = cosine_similarity_matrix(x, np.array([1, 0, 0]))
        >>> matrix.round(4).tolist(), sorted_labels.tolist()
        ([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]], [0, 0, 1])
    """
    x, y, _ = _check(features, labels)
    rng = np.random.default_rng(seed)
    picked = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        if samples_per_class is not None and len(idx) > int(samples_per_class):
            idx = np.sort(rng.choice(idx, size=int(samples_per_class), replace=False))
        picked.append(idx)
    order = np.concatenate(picked)
    u = l2_normalize(x[order])
    return np.clip(u @ u.T, -1.0, 1.0), y[order]


# --------------------------------------------------------------------------- #
# W-Softmax Eq. 3-4
# --------------------------------------------------------------------------- #
def _check_num_classes(num_classes):
    if isinstance(num_classes, bool) or int(num_classes) != num_classes or num_classes < 2:
        raise ValueError(f"the number of classes must be an integer >= 2, got {num_classes!r}.")
    return int(num_classes)


def minimum_units(num_classes):
    """W-Softmax ``M_min = C - 1``: the fewest dimensions holding C equiangular unit vectors.

    Examples:
        >>> minimum_units(10)
        9
    """
    return _check_num_classes(num_classes) - 1


def simplex_weights(num_classes):
    """W-Softmax Eq. 3: C unit vectors in C-1 dimensions with pairwise dot -1/(C-1).

    The recursion ``W_2 = [1, -1]`` and, for C > 2,
    ``W_C = [[a W_{C-1}, 0], [-1/(C-1) ... -1/(C-1), 1]]`` with
    ``a = sqrt(((C-1)^2 - 1) / (C-1)^2)``, shape (C-1, C): columns are the
    class weights (the vertices of a regular simplex) and ``W^T W`` is 1 on the
    diagonal and ``-1/(C-1)`` off it (Eq. 4).

    Examples:
        >>> w = simplex_weights(3)
        >>> w.shape, np.round(w.T @ w, 6).tolist()
        ((2, 3), [[1.0, -0.5, -0.5], [-0.5, 1.0, -0.5], [-0.5, -0.5, 1.0]])
    """
    c_max = _check_num_classes(num_classes)
    w = np.array([[1.0, -1.0]])
    for c in range(3, c_max + 1):
        k = c - 1
        a = np.sqrt((k * k - 1.0) / (k * k))
        top = np.hstack([a * w, np.zeros((k - 1, 1))])
        bottom = np.hstack([np.full((1, k), -1.0 / k), np.ones((1, 1))])
        w = np.vstack([top, bottom])
    return w


# --------------------------------------------------------------------------- #
# All of the above for one model
# --------------------------------------------------------------------------- #
def feature_geometry(
    features,
    labels,
    kernel,
    predictions=None,
    *,
    max_pairs=DEFAULT_MAX_PAIRS,
    seed=0,
    clustering=True,
    class_means=False,
    retrieval=False,
    retrieval_samples=None,
):
    """The papers' geometry figures of one set of features, as a flat dict; angles in degrees.

    The package's one conversion of angles to degrees: every angle key ends in
    ``_deg`` (:data:`GEOMETRY_KEYS`, in this order).

    * ``w_inter_deg``, ``c_inter_deg``, ``cw_inter_deg``, ``wc_intra_deg`` -
      :func:`angle_statistics` (which gives radians), in degrees;
    * ``kl`` (nats) and ``emd_deg`` (degrees) - :func:`pair_angle_divergence`;
    * with ``clustering``: ``homogeneity``, ``completeness`` and, when
      ``predictions`` are given, ``prediction_homogeneity``,
      ``prediction_completeness`` - :func:`clustering_scores`;
    * with ``retrieval``: the :data:`RETRIEVAL_KEYS` (precision@1, R-precision,
      MAP@R, ROC AUC, TAR at FAR, best verification accuracy) of
      :func:`embedding_scores` on at most ``retrieval_samples`` of the features
      (a seeded subset above it; all when None);
    * with ``class_means``: ``class_mean_angles_deg``, the list of the C per-class
      mean target angles of :func:`class_mean_angles` in degrees (NaN for a class
      with no sample).

    What :class:`keras_angular.callbacks.GeometryMetrics` logs per epoch and
    ``keras-angular train`` writes to ``metrics.json`` (with ``class_means``).

    Examples:
        >>> kernel = np.array([[1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 1.0, -1.0]])
        >>> g = feature_geometry(kernel.T, [0, 1, 2, 3], kernel, clustering=False)
        >>> round(g["w_inter_deg"], 6), round(g["wc_intra_deg"], 6)
        (120.0, 0.0)
    """
    statistics = angle_statistics(features, labels, kernel)
    divergence = pair_angle_divergence(features, labels, max_pairs=max_pairs, seed=seed)
    result = {f"{key}_deg": np.degrees(value) for key, value in statistics.items()}
    result["kl"] = divergence["kl"]
    result["emd_deg"] = divergence["emd"]  # already in degrees
    if clustering:
        result.update(clustering_scores(features, labels, predictions, seed=seed))
    if retrieval:
        result.update(
            embedding_scores(
                features, labels, max_samples=retrieval_samples, max_pairs=max_pairs, seed=seed
            )
        )
    result = {key: float(value) for key, value in result.items()}
    if class_means:
        angles = np.degrees(class_mean_angles(features, labels, kernel))
        result["class_mean_angles_deg"] = [float(a) for a in angles]
    return result
