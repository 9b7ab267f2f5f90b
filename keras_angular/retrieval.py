"""Open-set scores of an embedding: leave-one-out retrieval and pair verification, in NumPy.

What users of margin losses judge an embedding by when the test classes are not
the training classes (faces, products, landmarks):

* [`retrieval_scores`][keras_angular.retrieval.retrieval_scores] - precision@1, R-precision and
  MAP@R of leave-one-out retrieval on cosine similarity, as Musgrave, Belongie & Lim define them ("A
  Metric Learning Reality Check", ECCV 2020, Sec. 3.2), the figures of
  pytorch-metric-learning's ``AccuracyCalculator``;
* [`verification_scores`][keras_angular.retrieval.verification_scores] - ROC AUC, TAR at FAR 1e-3 /
  1e-4 and the best threshold's accuracy over positive / negative pairs, as LFW-style face
  verification benchmarks report them.

Both are exposed as ``keras_angular.metrics.retrieval_scores`` /
``keras_angular.metrics.verification_scores`` and take what every metric of the
package takes: (N, D) embeddings and integer labels of shape (N,) or (N, 1) (the
package's label policy, [`keras_angular.conventions`][]). Similarity is the
cosine of the embeddings, unit vectors by
[`keras_angular.conventions.l2_normalize`][] (a zero embedding has cosine 0
with everything). Nothing here imports TensorFlow or Keras.
"""

import numpy as np

from keras_angular.conventions import l2_normalize
from keras_angular.features import (
    BLOCK_ELEMENTS,
    DEFAULT_MAX_PAIRS,
    checked_features,
    class_indices,
    index_pair_cosines,
    pair_cosines,
)

FAR_TARGETS = (1e-3, 1e-4)
"""The false-accept rates [`verification_scores`][keras_angular.retrieval.verification_scores]
reports the true-accept rate at."""

RETRIEVAL_KEYS = (
    "precision_at_1",
    "r_precision",
    "map_at_r",
    "roc_auc",
    "tar_at_far_1e-3",
    "tar_at_far_1e-4",
    "best_accuracy",
)
"""The keys of [`embedding_scores`][keras_angular.retrieval.embedding_scores], in order: the
retrieval scores, then the verification scores (without the threshold and the pair counts)."""


def _checked(embeddings, labels):
    x = checked_features(embeddings, "embeddings")
    return x, class_indices(labels, x.shape[0])


def ranked_neighbours(unit, rows, depth):
    """The ``depth`` nearest other samples of each query in ``rows``, best first.

    Similarity is ``unit @ unit.T`` (cosines of unit rows); a query never retrieves
    itself. **Ties** are broken by the reference's index, lower first - a fixed,
    documented order (a stable sort on descending similarity), so equal cosines
    give the same ranking on every run and platform. Exact: the ``depth`` largest
    are found by a partition, every reference tied with the last one kept is
    gathered, and the candidates are sorted by (similarity descending, index).

    Args:
        unit: (N, D) unit embeddings.
        rows: the query indices (an int array).
        depth: how many neighbours, ``1 <= depth <= N - 1``.

    Returns:
        (len(rows), depth) int64 indices into ``unit``.

    Examples:
        >>> unit = np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0], [-1.0, 0.0]])
        >>> ranked_neighbours(unit, [0, 2], 2).tolist()  # query 2: 0 and 3 tie at cos 0
        [[1, 2], [1, 0]]
    """
    query = np.asarray(rows, dtype=np.int64)
    sims = unit[query] @ unit.T  # (b, N)
    sims[np.arange(len(query)), query] = -np.inf  # leave one out
    # the depth-th largest similarity of each row
    cut = -np.partition(-sims, depth - 1, axis=1)[:, depth - 1]
    r, c = np.nonzero(sims >= cut[:, None])  # >= depth candidates per row, c ascending
    order = np.lexsort((c, -sims[r, c], r))  # row, then similarity down, then index up
    r, c = r[order], c[order]
    starts = np.searchsorted(r, np.arange(len(query)))
    position = np.arange(len(r)) - starts[r]
    keep = position < depth
    out = np.empty((len(query), depth), dtype=np.int64)
    out[r[keep], position[keep]] = c[keep]
    return out


def retrieval_scores(embeddings, labels, k=None):
    """Leave-one-out retrieval scores on cosine similarity (Musgrave et al., ECCV 2020).

    Every sample is a query against all the others (the references). With ``R``
    the number of *other* samples of the query's class and ``rel(i)`` = 1 when the
    i-th nearest reference has the query's label:

    * ``precision_at_1`` = mean of ``rel(1)``;
    * ``r_precision`` = mean of ``(1/R) sum_{i<=R} rel(i)`` (Sec. 3.2, "R-Precision");
    * ``map_at_r`` = mean of ``(1/R) sum_{i<=R} P(i) rel(i)``, with
      ``P(i) = (1/i) sum_{j<=i} rel(j)`` the precision at rank i (Sec. 3.2, Eq. "MAP@R").

    Conventions:

    * **Singleton classes**: a query whose class has no other sample (R = 0) has no
      answer to retrieve; it is left out of all three means, as
      pytorch-metric-learning's ``AccuracyCalculator`` leaves out "lone" query labels.
      It still stands as a reference (a wrong neighbour for the other queries).
      With no query left the scores are NaN.
    * **Ties** are broken by index
      ([`ranked_neighbours`][keras_angular.retrieval.ranked_neighbours]): among equal cosines the
      reference with the lower index ranks first.
    * ``k``: retrieve at most this many neighbours per query (``None``: as many as
      the largest class needs, ``max R``, which makes all three exact). A query with
      ``R > k`` counts its ranks beyond k as misses, so r_precision and map_at_r
      become lower bounds (PML's behaviour with a small k).
    * **Memory**: queries are processed in blocks of about 4M similarities
      (32 MiB), so 10^5 embeddings of any width fit; time is O(N^2 D).

    Args:
        embeddings: (N, D) embeddings, N >= 2.
        labels: (N,) or (N, 1) integer class labels.
        k: None, or the neighbour budget (an int >= 1).

    Returns:
        ``{"precision_at_1", "r_precision", "map_at_r"}`` as Python floats in [0, 1].

    Examples:
        >>> x = [[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9], [-1.0, 0.0]]
        >>> retrieval_scores(x, [0, 0, 1, 1, 2])
        {'precision_at_1': 1.0, 'r_precision': 1.0, 'map_at_r': 1.0}
    """
    x, y = _checked(embeddings, labels)
    n = x.shape[0]
    if n < 2:
        raise ValueError(f"retrieval_scores needs at least 2 embeddings, got {n}.")
    if k is not None and (isinstance(k, bool) or int(k) != k or k < 1):
        raise ValueError(f"k must be None or an int >= 1, got {k!r}.")
    unit = l2_normalize(x)
    counts = np.bincount(y)
    r_all = counts[y] - 1  # other samples of each query's class
    queries = np.flatnonzero(r_all > 0)
    if queries.size == 0:
        nan = float("nan")
        return {"precision_at_1": nan, "r_precision": nan, "map_at_r": nan}
    limit = n - 1 if k is None else min(int(k), n - 1)
    p1 = np.empty(queries.size)
    r_precision = np.empty(queries.size)
    map_at_r = np.empty(queries.size)
    block = max(1, BLOCK_ELEMENTS // n)
    for start in range(0, queries.size, block):
        rows = queries[start : start + block]
        r = r_all[rows]
        depth = max(1, min(int(r.max()), limit))
        neighbours = ranked_neighbours(unit, rows, depth)
        rank = np.arange(1, depth + 1)
        relevant = (y[neighbours] == y[rows, None]) & (rank[None, :] <= r[:, None])
        hits = np.cumsum(relevant, axis=1)
        out = slice(start, start + len(rows))
        p1[out] = relevant[:, 0]
        r_precision[out] = hits[:, -1] / r
        map_at_r[out] = np.sum(relevant * hits / rank, axis=1) / r
    return {
        "precision_at_1": float(p1.mean()),
        "r_precision": float(r_precision.mean()),
        "map_at_r": float(map_at_r.mean()),
    }


def _tar_at_fars(scores, positive, fars):
    """TAR at the threshold that accepts at most ``far`` of the negatives, for each far.

    The ROC curve of ``sklearn.metrics.roc_curve`` (every distinct score a threshold,
    "accept when score >= it") holds every operating point; the one kept for a FAR is
    the highest with at most ``floor(far * negatives)`` false accepts. NaN where that
    allows no false accept at all (fewer than ``1 / far`` negatives): the FAR is not
    resolved.
    """
    from sklearn.metrics import roc_curve

    negatives = positive.size - int(positive.sum())
    fpr, tpr, _ = roc_curve(positive, scores, drop_intermediate=False)
    false_accepts = np.rint(fpr * negatives)  # fpr is false accepts / negatives
    tars = []
    for far in fars:
        allowed = int(np.floor(far * negatives))
        # tpr rises along the curve: the last point within the budget accepts the most
        tars.append(float(tpr[false_accepts <= allowed][-1]) if allowed >= 1 else float("nan"))
    return tars


def _best_accuracy(scores, positive):
    """Best ``(TP + TN) / pairs`` over every threshold "accept when score > t", and t."""
    order = np.argsort(-scores, kind="stable")
    s, pos = scores[order], positive[order]
    accepted_pos = np.concatenate([[0], np.cumsum(pos)])  # accept the top a pairs, a=0..P
    accepted = np.arange(s.size + 1)
    correct = accepted_pos + (np.sum(~pos) - (accepted - accepted_pos))
    # a cut is a threshold only between two different scores (or at either end)
    valid = np.ones(s.size + 1, dtype=bool)
    valid[1:-1] = s[:-1] > s[1:]
    best = int(np.argmax(np.where(valid, correct, -1)))
    if best == 0:
        threshold = float(s[0])
    elif best == s.size:
        threshold = float(np.nextafter(s[-1], -np.inf))
    else:
        threshold = float((s[best - 1] + s[best]) / 2)
    return float(correct[best] / s.size), threshold


def verification_scores(embeddings, labels, pairs=None, max_pairs=DEFAULT_MAX_PAIRS, seed=0):
    """Pair verification on cosine similarity: ROC AUC, TAR at FAR, best accuracy.

    A pair is positive when its two labels are equal; its score is the cosine of
    the two embeddings; "accept" means score > threshold. The pairs are ``pairs``
    when given, else every i<j pair when there are at most ``max_pairs`` of them,
    else ``max_pairs`` pairs drawn uniformly with replacement by
    ``numpy.random.default_rng(seed)`` ([`keras_angular.features.pair_cosines`][]).

    * ``roc_auc``: the area under the ROC curve, ``sklearn.metrics.roc_auc_score`` (the
      trapezoid rule: a tie between a positive and a negative score counts one half);
    * ``tar_at_far_1e-3`` / ``tar_at_far_1e-4``: the share of positives accepted at
      the threshold that accepts at most that share of the negatives (the
      ``floor(FAR * negatives) + 1``-th highest negative score). NaN when there are
      fewer than ``1 / FAR`` negatives: that operating point is not resolved;
    * ``best_accuracy`` and ``threshold``: the highest ``(TP + TN) / pairs`` over all
      thresholds and the cosine threshold that gives it (the midpoint between the two
      scores it separates). Chosen on the scored pairs themselves, so it is
      optimistic: LFW's protocol picks it on nine folds and scores the tenth.

    Args:
        embeddings: (N, D) embeddings.
        labels: (N,) or (N, 1) integer class labels.
        pairs: None, or a (P, 2) integer array of index pairs into ``embeddings``.
        max_pairs: the pair budget when ``pairs`` is None.
        seed: seed of the pair sampler (used only above ``max_pairs``).

    Returns:
        dict of Python floats: ``roc_auc``, ``tar_at_far_1e-3``, ``tar_at_far_1e-4``,
        ``best_accuracy``, ``threshold``, and ``pairs`` / ``positive_pairs`` (counts).

    Examples:
        >>> x = [[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]]
        >>> s = verification_scores(x, [0, 0, 1, 1])
        >>> s["roc_auc"], s["best_accuracy"]
        (1.0, 1.0)
    """
    x, y = _checked(embeddings, labels)
    if pairs is None:
        scores, positive = pair_cosines(x, y, max_pairs=max_pairs, seed=seed)
    else:
        p = np.asarray(pairs)
        if p.ndim != 2 or p.shape[1] != 2 or p.shape[0] < 1:
            raise ValueError(f"pairs must have shape (P, 2) with P >= 1, got {p.shape}.")
        if not np.issubdtype(p.dtype, np.integer):
            raise ValueError(f"pairs must hold integer indices, got dtype {p.dtype}.")
        if p.min() < 0 or p.max() >= x.shape[0]:
            raise ValueError(f"pairs index outside [0, {x.shape[0]}): {p.min()}..{p.max()}.")
        scores = index_pair_cosines(l2_normalize(x), p[:, 0], p[:, 1])
        positive = y[p[:, 0]] == y[p[:, 1]]
    n_pos = int(positive.sum())
    if n_pos == 0 or n_pos == positive.size:
        raise ValueError(
            f"verification_scores needs both positive and negative pairs, got {n_pos} "
            f"positive of {positive.size}."
        )
    from sklearn.metrics import roc_auc_score

    accuracy, threshold = _best_accuracy(scores, positive)
    result = {"roc_auc": float(roc_auc_score(positive, scores))}
    for far, tar in zip(FAR_TARGETS, _tar_at_fars(scores, positive, FAR_TARGETS), strict=True):
        result[f"tar_at_far_{far:.0e}".replace("e-0", "e-")] = tar
    result.update(
        best_accuracy=accuracy,
        threshold=threshold,
        pairs=float(positive.size),
        positive_pairs=float(n_pos),
    )
    return result


def embedding_scores(embeddings, labels, *, max_samples=None, max_pairs=DEFAULT_MAX_PAIRS, seed=0):
    """[`retrieval_scores`][keras_angular.retrieval.retrieval_scores] and
    [`verification_scores`][keras_angular.retrieval.verification_scores] as one flat dict.

    The [`RETRIEVAL_KEYS`][keras_angular.retrieval.RETRIEVAL_KEYS], what the compare report and
    [`keras_angular.callbacks.GeometryMetrics`][] record. ``max_samples`` bounds
    the cost: above it, a subset of that many embeddings drawn without replacement by
    ``numpy.random.default_rng(seed)`` is scored (retrieval is O(N^2 D)); the
    verification pairs are those of the (sub)set, at most ``max_pairs`` of them.
    Where the (sub)set has no positive pair (every class a singleton) the scores are NaN.

    Examples:
        >>> x = [[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]]
        >>> embedding_scores(x, [0, 0, 1, 1])["map_at_r"]
        1.0
    """
    x, y = _checked(embeddings, labels)
    if max_samples is not None:
        if isinstance(max_samples, bool) or int(max_samples) != max_samples or max_samples < 2:
            raise ValueError(f"max_samples must be None or an int >= 2, got {max_samples!r}.")
        if x.shape[0] > max_samples:
            keep = np.sort(np.random.default_rng(seed).choice(x.shape[0], max_samples, False))
            x, y = x[keep], y[keep]
    result = dict(retrieval_scores(x, y))
    counts = np.bincount(y)
    if np.any(counts > 1) and np.count_nonzero(counts) > 1:
        verification = verification_scores(x, y, max_pairs=max_pairs, seed=seed)
    else:
        verification = {}
    for key in RETRIEVAL_KEYS[3:]:
        result[key] = verification.get(key, float("nan"))
    return result


__all__ = [
    "DEFAULT_MAX_PAIRS",
    "FAR_TARGETS",
    "RETRIEVAL_KEYS",
    "embedding_scores",
    "ranked_neighbours",
    "retrieval_scores",
    "verification_scores",
]
