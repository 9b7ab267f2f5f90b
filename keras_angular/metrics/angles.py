"""Angles between features and class weights: the Angular paper's W-Inter, C-Inter and
WC-Intra (Wu & Wang, Sec. 4.2.2, Eq. 12-14), the target angles of W-Softmax Eq. 14, and the
class-sorted cosine-similarity matrix of the Angular paper (Eq. 15, Fig. 8). Radians."""

import numpy as np

from keras_angular.conventions import l2_normalize
from keras_angular.features import checked_inputs

__all__ = [
    "angle_between",
    "angle_statistics",
    "class_centers",
    "class_mean_angles",
    "cosine_similarity_matrix",
    "target_angles",
]


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
    x, y, _ = checked_inputs(features, labels)
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


def angle_statistics(features, labels, kernel):
    """W-Inter, C-Inter, WC-Intra (Angular paper Eq. 12-14) and ``cw_inter``, in radians.

    With ``w_j`` the j-th column of ``kernel`` (D, C) and ``c_j`` the mean raw
    feature of class j, and ``<a, b>`` the angle between a and b:

    * ``w_inter``  = mean over i != j of ``<w_i, w_j>`` (Eq. 13), all C classes;
    * ``c_inter``  = mean over i != j of ``<c_i, c_j>``, the paper's prose for
      Eq. 14 ("the mean of angles between different classes' feature center"; the printed
      formula is garbled);
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
    x, y, w = checked_inputs(features, labels, kernel)
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
    x, y, w = checked_inputs(features, labels, kernel)
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
    x, y, w = checked_inputs(features, labels, kernel)
    theta = target_angles(x, y, w)
    num_classes = w.shape[1]
    counts = np.bincount(y, minlength=num_classes)
    sums = np.bincount(y, weights=theta, minlength=num_classes)
    means = np.full(num_classes, np.nan)
    means[counts > 0] = sums[counts > 0] / counts[counts > 0]
    return means


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
    x, y, _ = checked_inputs(features, labels)
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
