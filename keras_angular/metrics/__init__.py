"""Feature-geometry metrics of the four papers, in NumPy: arrays in, plain floats out.

Every function takes the penultimate features ("embeddings") of a held-out set,
shape ``(N, D)``, integer class labels, shape ``(N,)`` (or ``(N, 1)``), and -
where the class weights matter - the classification head's kernel, shape
``(D, C)`` with one column per class (``keras.layers.Dense``,
[`keras_angular.layers.CosineDense`][], ...). Nothing here (nor in
[`keras_angular.conventions`][], the one place labels and unit vectors are defined) imports
TensorFlow or Keras, so the metrics run on saved arrays anywhere.

* [`angle_statistics`][keras_angular.metrics.angle_statistics] - W-Inter, C-Inter, WC-Intra of the
  Angular paper (Wu & Wang, Sec. 4.2.2, Eq. 12-14) plus ``cw_inter``, the official code's
  reading of C-Inter (class centre vs the *other* classes' weights);
* [`target_angles`][keras_angular.metrics.target_angles] /
  [`class_mean_angles`][keras_angular.metrics.class_mean_angles] - the angle between each sample and
  its own class weight, and its per-class mean (W-Softmax Eq. 14, Fig. 5; Angular paper Fig. 7);
* [`pair_angles`][keras_angular.metrics.pair_angles],
  [`pair_angle_histograms`][keras_angular.metrics.pair_angle_histograms],
  [`angle_histogram_divergence`][keras_angular.metrics.angle_histogram_divergence],
  [`pair_angle_divergence`][keras_angular.metrics.pair_angle_divergence] - the positive / negative
  pair angle histograms with their KL divergence and Wasserstein (Earth Mover's) distance
  (HASeparator Sec. IV-C, Fig. 4, Fig. 6);
* [`clustering_scores`][keras_angular.metrics.clustering_scores] - homogeneity and completeness
  (AMC-Loss Sec. 4.1);
* [`cosine_similarity_matrix`][keras_angular.metrics.cosine_similarity_matrix] - the class-sorted
  ``x_i^T x_j`` matrix of unit features (Angular paper Eq. 15, Fig. 8);
* [`simplex_weights`][keras_angular.metrics.simplex_weights] /
  [`minimum_units`][keras_angular.metrics.minimum_units] - W-Softmax Eq. 3-4: C unit vectors with
  pairwise dot ``-1/(C-1)`` exist in C-1 dimensions;
* [`retrieval_scores`][keras_angular.metrics.retrieval_scores] /
  [`verification_scores`][keras_angular.metrics.verification_scores] /
  [`embedding_scores`][keras_angular.metrics.embedding_scores] - open-set scores (precision@1,
  R-precision, MAP@R; ROC AUC, TAR at FAR, best accuracy), defined in [`keras_angular.retrieval`][]
  and exposed here;
* [`feature_geometry`][keras_angular.metrics.feature_geometry] - all of the above for one model, as
  one flat dict.

Where they live: ``keras_angular.metrics`` is the one place to import them from; the
package's modules hold one idea each - ``angles`` (angle statistics, target angles, the
similarity matrix), ``pairs`` (pair angles and their divergence), ``clustering``,
``simplex``, ``geometry`` ([`feature_geometry`][keras_angular.metrics.feature_geometry]). The label
policy ([`class_indices`][keras_angular.metrics.class_indices]) and the pair enumeration
([`pair_cosines`][keras_angular.metrics.pair_cosines],
[`DEFAULT_MAX_PAIRS`][keras_angular.metrics.DEFAULT_MAX_PAIRS]) are defined in
[`keras_angular.features`][], which [`keras_angular.retrieval`][] shares.

Conventions:

* The functions below return angles in radians, except the pair angles of
  HASeparator, which the paper gives in degrees (and its D_EM values are degrees);
  each says its unit. [`feature_geometry`][keras_angular.metrics.feature_geometry] - what the
  package writes to the Keras logs, ``metrics.json``, ``history.json`` and the compare report -
  gives every angle in degrees, under a key ending ``_deg``
  ([`GEOMETRY_KEYS`][keras_angular.metrics.GEOMETRY_KEYS]); it is the one place that converts.
* Labels follow the package's one policy ([`class_indices`][keras_angular.metrics.class_indices],
  the rule of [`keras_angular.conventions`][]): integer class indices of shape (N,) or
  (N, 1); one-hot labels are refused.
* Unit vectors come from [`keras_angular.conventions.l2_normalize`][], the
  function the heads and losses use (through [`keras_angular.ops.l2_normalize`][]):
  a zero vector is normalised to zero, so its cosine with anything is 0 and its
  angle 90 degrees; no NaN is produced.
* A class with no sample in ``labels`` has no centre: it is skipped in the
  centre-based terms (its weight still counts in ``w_inter`` and as an "other"
  weight in ``cw_inter``), and its per-class mean angle is NaN. A statistic with
  nothing to average (e.g. ``c_inter`` with fewer than two classes present) is
  NaN.
"""

from keras_angular.features import DEFAULT_MAX_PAIRS, class_indices, pair_cosines
from keras_angular.metrics.angles import (
    angle_between,
    angle_statistics,
    class_centers,
    class_mean_angles,
    cosine_similarity_matrix,
    target_angles,
)
from keras_angular.metrics.clustering import clustering_scores
from keras_angular.metrics.geometry import GEOMETRY_KEYS, feature_geometry
from keras_angular.metrics.pairs import (
    KL_EPSILON,
    angle_histogram_divergence,
    pair_angle_divergence,
    pair_angle_histograms,
    pair_angles,
)
from keras_angular.metrics.simplex import minimum_units, simplex_weights
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
