"""The NumPy inputs of the metrics: checked feature and label arrays, and the pairs among them.

What [`keras_angular.metrics`][] and [`keras_angular.retrieval`][] both read, kept below
both so each imports it one way:

* [`checked_features`][keras_angular.features.checked_features],
  [`class_indices`][keras_angular.features.class_indices],
  [`checked_kernel`][keras_angular.features.checked_kernel],
  [`checked_inputs`][keras_angular.features.checked_inputs] - (N, D) features, (N,) integer labels
  (the package's label policy, [`keras_angular.conventions`][]) and a (D, C) class kernel as float64
  / int64 arrays, or a ``ValueError`` that names what is wrong;
* [`pair_cosines`][keras_angular.features.pair_cosines] - the cosines of every i<j pair of samples
  (or of a seeded sample of them, above
  [`DEFAULT_MAX_PAIRS`][keras_angular.features.DEFAULT_MAX_PAIRS]) and which pairs are positive;
  [`index_pair_cosines`][keras_angular.features.index_pair_cosines] - the cosines of given index
  pairs.

Nothing here imports TensorFlow or Keras.
"""

import numpy as np

from keras_angular.conventions import l2_normalize, label_shape_error

__all__ = [
    "BLOCK_ELEMENTS",
    "DEFAULT_MAX_PAIRS",
    "checked_features",
    "checked_inputs",
    "checked_kernel",
    "class_indices",
    "index_pair_cosines",
    "pair_cosines",
]

DEFAULT_MAX_PAIRS = 1_000_000
"""The pair budget of [`pair_cosines`][keras_angular.features.pair_cosines]: up to this many i<j
pairs (N <= 1414 samples) every pair is enumerated; above it, this many pairs are sampled
(seeded)."""

BLOCK_ELEMENTS = 1 << 22
"""Roughly how many float64 numbers one working block may hold (32 MiB): the pair and
retrieval loops process their rows in blocks of this size, never an N x N matrix."""


def checked_features(features, name="features"):
    """``features`` as a finite, non-empty (N, D) float64 array, or ``ValueError``.

    ``name`` is what the messages call the array.

    Examples:
        >>> checked_features([[1, 2], [3, 4]]).dtype
        dtype('float64')
        >>> import ml_dtypes   # a mixed_bfloat16 model's embeddings
        >>> checked_features(np.ones((2, 3), ml_dtypes.bfloat16)).dtype
        dtype('float64')
    """
    x = np.asarray(features)
    if x.dtype.name == "bfloat16":  # a mixed_bfloat16 model's (ml_dtypes, no NumPy float)
        x = x.astype(np.float32)
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

    The rule of [`keras_angular.conventions`][] (shape (N,) or (N, 1); integer or
    integer-valued float values ``>= 0`` and below ``num_classes``; one-hot labels
    refused, never converted), as [`keras_angular.ops.checked_labels`][] applies
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


def checked_kernel(kernel, dim):
    """A class kernel as a finite (D, C) float64 array with ``D == dim``, or ``ValueError``.

    Examples:
        >>> checked_kernel(np.eye(2, 3), 2).shape
        (2, 3)
    """
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


def checked_inputs(features, labels, kernel=None):
    """``(x, y, w)``: [`checked_features`][keras_angular.features.checked_features],
    [`class_indices`][keras_angular.features.class_indices] (as many as the rows of ``x``, below the
    kernel's column count) and [`checked_kernel`][keras_angular.features.checked_kernel] (None
    without a kernel).

    Examples:
        >>> x, y, w = checked_inputs([[1.0, 0.0]], [[1]], np.eye(2))
        >>> x.shape, y.tolist(), w.shape
        ((1, 2), [1], (2, 2))
    """
    x = checked_features(features)
    w = None if kernel is None else checked_kernel(kernel, x.shape[1])
    y = class_indices(labels, x.shape[0], None if w is None else w.shape[1])
    return x, y, w


def _sample_pairs(n, size, rng):
    """``size`` i<j index pairs drawn uniformly (with replacement) from all n(n-1)/2.

    ``i`` is uniform on [0, n) and ``j = (i + d) % n`` with ``d`` uniform on
    [1, n): every ordered pair with i != j has probability 1/(n(n-1)), so every
    unordered pair has 2/(n(n-1)).
    """
    i = rng.integers(0, n, size=size)
    j = (i + rng.integers(1, n, size=size)) % n
    return np.minimum(i, j), np.maximum(i, j)


def index_pair_cosines(unit, first, second):
    """Cosines ``unit[first[p]] . unit[second[p]]`` of unit rows, clipped to [-1, 1].

    Computed in chunks of about [`BLOCK_ELEMENTS`][keras_angular.features.BLOCK_ELEMENTS] numbers,
    so memory stays O(P + N*D) for P pairs.

    Examples:
        >>> index_pair_cosines(np.eye(2), np.array([0, 0]), np.array([0, 1])).tolist()
        [1.0, 0.0]
    """
    chunk = max(1, BLOCK_ELEMENTS // unit.shape[1])
    cosines = []
    for start in range(0, len(first), chunk):
        a, b = first[start : start + chunk], second[start : start + chunk]
        cosines.append(np.clip(np.einsum("nd,nd->n", unit[a], unit[b]), -1.0, 1.0))
    return np.concatenate(cosines)


def pair_cosines(features, labels, max_pairs=DEFAULT_MAX_PAIRS, seed=0):
    """Cosines of all i<j pairs of samples (or a seeded sample of them), and which are positive.

    The pair enumeration of [`keras_angular.metrics.pair_angles`][] and of
    [`keras_angular.retrieval.verification_scores`][]: every pair when
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
    x, y, _ = checked_inputs(features, labels)
    max_pairs = int(max_pairs)
    if max_pairs < 1:
        raise ValueError(f"max_pairs must be a positive integer, got {max_pairs}.")
    n = x.shape[0]
    if n < 2:
        raise ValueError(f"pairs need at least 2 samples, got {n}.")
    u = l2_normalize(x)
    if n * (n - 1) // 2 > max_pairs:
        i, j = _sample_pairs(n, max_pairs, np.random.default_rng(seed))
        return index_pair_cosines(u, i, j), y[i] == y[j]
    cosines, same = [], []
    rows = max(1, BLOCK_ELEMENTS // n)
    for start in range(0, n - 1, rows):
        stop = min(start + rows, n - 1)
        cos = u[start:stop] @ u.T  # (rows, n)
        ii, jj = np.triu_indices(stop - start, k=1, m=n - start)
        # ii indexes the block rows, jj + start the columns j > i.
        jj = jj + start
        cosines.append(np.clip(cos[ii, jj], -1.0, 1.0))
        same.append(y[start:stop][ii] == y[jj])
    return np.concatenate(cosines), np.concatenate(same)
