"""AMC-Loss Sec. 4.1: how well the features cluster by class (homogeneity, completeness)."""

import numpy as np

from keras_angular.conventions import l2_normalize
from keras_angular.features import checked_inputs, class_indices

__all__ = ["clustering_scores"]


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

    x, y, _ = checked_inputs(features, labels)
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
