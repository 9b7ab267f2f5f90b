"""All the geometry figures of one set of features as one flat dict, angles in degrees:
what the callbacks log and ``keras-angular train`` writes."""

import numpy as np

from keras_angular.features import DEFAULT_MAX_PAIRS
from keras_angular.metrics.angles import angle_statistics, class_mean_angles
from keras_angular.metrics.clustering import clustering_scores
from keras_angular.metrics.pairs import pair_angle_divergence
from keras_angular.retrieval import embedding_scores

__all__ = ["GEOMETRY_KEYS", "feature_geometry"]

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
"""The scalar keys of [`feature_geometry`][keras_angular.metrics.feature_geometry], in order: angles
in degrees (``_deg``), ``kl`` in nats, the clustering scores in [0, 1] (the last four, only with
``clustering=True``; the ``prediction_*`` two only with predictions)."""


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
    ``_deg`` ([`GEOMETRY_KEYS`][keras_angular.metrics.GEOMETRY_KEYS], in this order).

    * ``w_inter_deg``, ``c_inter_deg``, ``cw_inter_deg``, ``wc_intra_deg`` -
      [`angle_statistics`][keras_angular.metrics.angle_statistics] (which gives radians), in
      degrees;
    * ``kl`` (nats) and ``emd_deg`` (degrees) -
      [`pair_angle_divergence`][keras_angular.metrics.pair_angle_divergence];
    * with ``clustering``: ``homogeneity``, ``completeness`` and, when
      ``predictions`` are given, ``prediction_homogeneity``,
      ``prediction_completeness`` - [`clustering_scores`][keras_angular.metrics.clustering_scores];
    * with ``retrieval``: the [`keras_angular.retrieval.RETRIEVAL_KEYS`][]
      (precision@1, R-precision, MAP@R, ROC AUC, TAR at FAR, best verification
      accuracy) of [`keras_angular.retrieval.embedding_scores`][] on at most
      ``retrieval_samples`` of the features (a seeded subset above it; all when None);
    * with ``class_means``: ``class_mean_angles_deg``, the list of the C per-class
      mean target angles of [`class_mean_angles`][keras_angular.metrics.class_mean_angles] in
      degrees (NaN for a class with no sample).

    What [`keras_angular.callbacks.GeometryMetrics`][] logs per epoch and
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
