"""Pairwise contrastive losses on in-batch pairs: AMC-Loss and its Euclidean baseline.

Both follow Choi, Som & Turaga: the batch is split into halves B1, B2 and
row ``i`` of B1 is paired with row ``i`` of B2 (n/2 pairs, O(np/2), Sec. 3.1);
``S_ij = 1`` when the pair shares a label - the classifier's *predicted* label
(Eq. 3, the paper and its code) when a ``classifier`` head is given, the true
label otherwise. Each pair's value goes to both its members, so Keras'
``sample_weight`` and reductions apply per sample and the default reduction
is the mean over pairs (:func:`keras_angular.ops.pair_values_to_samples`).

With ``tf.distribute`` each replica pairs the halves of its own per-replica batch:
under ``MirroredStrategy`` with R replicas and a global batch of B rows, replica r
holds rows ``[r B/R, (r + 1) B/R)`` and pairs row ``i`` of that slice with row
``i + B/(2R)``; the loss is the mean of the replicas' pair means, not the global
halves' pairing ``(i, i + B/2)`` of one device (tests/test_distributed.py).

``y_true`` is checked (integer labels >= 0, shape (B,) or (B, 1)) only when it
defines ``S_ij``; with a ``classifier`` it is not read and any placeholder will do.
"""

import keras
from keras import ops

from keras_angular.checks import check_positive
from keras_angular.losses.base import (
    HeadReference,
    WeightedLoss,
    check_inputs,
    checked_predictions,
)
from keras_angular.ops import (
    NORM_EPSILON,
    half_pairs,
    l2_normalize,
    nan_where_invalid,
    pair_values_to_samples,
    safe_acos,
)


def contrastive_term(distance, same, margin):
    """``S d^2 + (1 - S) max(0, m - d)^2`` - AMC Eq. 1 and Eq. 2 share this form."""
    return same * ops.square(distance) + (1.0 - same) * ops.square(ops.relu(margin - distance))


def _pair_similarity(labels):
    first, second = half_pairs(labels)
    return ops.cast(ops.equal(first, second), "float32")


def amc_loss(labels, embeddings, margin=0.5):
    """Per-sample AMC-Loss (Eq. 2) on the geodesic distance ``arccos(z_i . z_j)``.

    Args:
        labels: (B,) labels that define ``S_ij`` (predicted or true).
        embeddings: (B, D) raw penultimate features; normalised here.
        margin: the angular margin ``m_g`` in radians.
    """
    units = l2_normalize(ops.cast(embeddings, "float32"), axis=-1)
    first, second = half_pairs(units)
    geodesic = safe_acos(ops.sum(first * second, axis=-1))
    values = contrastive_term(geodesic, _pair_similarity(labels), margin)
    return pair_values_to_samples(values, ops.shape(units)[0])


def euclidean_contrastive_loss(labels, embeddings, margin=1.0):
    """Per-sample Euclidean contrastive loss (Eq. 1) on ``||x_i - x_j||`` of raw features."""
    features = ops.cast(embeddings, "float32")
    first, second = half_pairs(features)
    squared = ops.sum(ops.square(first - second), axis=-1)
    distance = ops.sqrt(ops.maximum(squared, NORM_EPSILON))
    values = contrastive_term(distance, _pair_similarity(labels), margin)
    return pair_values_to_samples(values, ops.shape(features)[0])


class _PairContrastiveLoss(HeadReference, WeightedLoss):
    """Shared pairing, labels and config of :class:`AMCLoss` and
    :class:`EuclideanContrastiveLoss`."""

    _head_argument = "classifier"
    _pair_loss = None

    def __init__(self, margin, weight, classifier, name, reduction, dtype):
        super().__init__(weight, name=name, reduction=reduction, dtype=dtype)
        self.margin = check_positive(type(self).__name__, "margin", margin)
        self._set_head(classifier, required=False)

    @property
    def classifier(self):
        """The head whose argmax defines ``S_ij``, or None for true labels."""
        return self._head

    def call(self, y_true, y_pred):
        owner = type(self).__name__
        if self._head is None:
            # S_ij from y_true: integer labels >= 0 (any number of classes).
            labels, valid, y_pred = check_inputs(owner, y_true, y_pred, None, "(batch, features)")
            values = type(self)._pair_loss(labels, y_pred, self.margin)
            return self.weight * nan_where_invalid(values, valid)
        # S_ij from the classifier's argmax: y_true is not read (any placeholder will do).
        y_pred = checked_predictions(owner, y_true, y_pred, "(batch, features)")
        scores = ops.stop_gradient(self._resolved_head()(y_pred))
        labels = ops.cast(ops.argmax(scores, axis=-1), "int32")
        return self.weight * type(self)._pair_loss(labels, y_pred, self.margin)

    def get_config(self):
        return {**super().get_config(), "margin": self.margin, "classifier": self._head_config()}


@keras.saving.register_keras_serializable(package="keras_angular")
class AMCLoss(_PairContrastiveLoss):
    """AMC-Loss (Choi et al., Eq. 2): angular margin contrastive loss on the unit hypersphere.

    ``weight * mean_pairs[S theta^2 + (1 - S) max(0, m_g - theta)^2]`` with
    ``theta = arccos(z_i . z_j)`` the geodesic distance between the unit
    features of the in-batch pairs ``(i, i + B/2)``. Add it to cross-entropy on
    the logits (Algorithm 1); ramp ``weight`` with
    :class:`keras_angular.callbacks.LossWeightRamp`.

    Args:
        margin: angular margin ``m_g`` in radians (> 0); the paper uses 0.5.
        weight: ``lambda`` (>= 0), a ``keras.Variable`` a callback can ramp;
            the paper uses 0.1.
        classifier: the head layer mapping the embedding to class scores; when
            given, ``S_ij`` comes from its argmax (no gradient), as in the paper;
            when None, from ``y_true``.

    Example:
        >>> import keras, keras_angular, numpy as np
        >>> inputs = keras.Input((64,))
        >>> embedding = keras.layers.Dense(16, name="embedding")(inputs)
        >>> head = keras.layers.Dense(10, name="head")
        >>> model = keras.Model(inputs, {"logits": head(embedding), "embedding": embedding})
        >>> model.compile("adam", loss={
        ...     "logits": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        ...     "embedding": AMCLoss(margin=0.5, weight=0.1, classifier=head)})
    """

    _pair_loss = staticmethod(amc_loss)

    def __init__(
        self,
        margin=0.5,
        weight=0.1,
        classifier=None,
        name="amc_loss",
        reduction="sum_over_batch_size",
        dtype=None,
    ):
        super().__init__(margin, weight, classifier, name, reduction, dtype)


@keras.saving.register_keras_serializable(package="keras_angular")
class EuclideanContrastiveLoss(_PairContrastiveLoss):
    """Euclidean contrastive loss (AMC paper Eq. 1, its "+Eucd" baseline).

    ``weight * mean_pairs[S d^2 + (1 - S) max(0, m_e - d)^2]`` with
    ``d = ||x_i - x_j||`` on the raw features of the pairs ``(i, i + B/2)``.

    Args:
        margin: Euclidean margin ``m_e`` (> 0); the paper uses 1.0.
        weight: ``lambda`` (>= 0), a rampable ``keras.Variable``; the paper uses 0.1.
        classifier: as for :class:`AMCLoss`.

    Example:
        >>> import keras, keras_angular, numpy as np
        >>> loss = EuclideanContrastiveLoss(margin=1.0, weight=0.1)
        >>> value = loss(np.array([0, 1, 0, 1]), np.random.rand(4, 8).astype("float32"))
    """

    _pair_loss = staticmethod(euclidean_contrastive_loss)

    def __init__(
        self,
        margin=1.0,
        weight=0.1,
        classifier=None,
        name="euclidean_contrastive_loss",
        reduction="sum_over_batch_size",
        dtype=None,
    ):
        super().__init__(margin, weight, classifier, name, reduction, dtype)


__all__ = [
    "AMCLoss",
    "EuclideanContrastiveLoss",
    "amc_loss",
    "contrastive_term",
    "euclidean_contrastive_loss",
]
