"""Pairwise contrastive losses on in-batch pairs: AMC-Loss and its Euclidean baseline.

Both follow Choi, Som & Turaga: the batch is split into halves B1, B2 and
row ``i`` of B1 is paired with row ``i`` of B2 (n/2 pairs, O(np/2), Sec. 3.1);
``S_ij = 1`` when the pair shares a label - the classifier's *predicted* label
(Eq. 3, the paper and its code) when a ``head`` is given, the true
label otherwise. Each pair's value goes to both its members, so Keras'
``sample_weight`` and reductions apply per sample and the default reduction
is the mean over pairs ([`keras_angular.ops.pair_values_to_samples`][]).

With ``tf.distribute`` each replica pairs the halves of its own per-replica batch:
under ``MirroredStrategy`` with R replicas and a global batch of B rows, replica r
holds rows ``[r B/R, (r + 1) B/R)`` and pairs row ``i`` of that slice with row
``i + B/(2R)``; the loss is the mean of the replicas' pair means, not the global
halves' pairing ``(i, i + B/2)`` of one device (tests/test_distributed.py). Under
``keras.distribution.DataParallel`` on JAX the loss sees the global batch, and pairs
within each device's contiguous block of ``B/D`` rows in the same way
([`keras_angular.ops.half_pairs`][]; tests/test_jax_distribution.py).

``y_true`` is checked (integer labels >= 0, shape (B,) or (B, 1)) only when it
defines ``S_ij``; with a ``head`` it is not read and any placeholder will do.
"""

import keras
from keras import ops

from keras_angular.checks import check_positive
from keras_angular.losses.base import PerSampleLoss
from keras_angular.ops import (
    NORM_EPSILON,
    half_pairs,
    l2_normalize,
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

    Examples:
        >>> import numpy as np
        >>> x = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 2.0]], "float32")
        >>> loss = amc_loss(np.array([0, 1, 0, 2]), x)  # pairs (0, 2), (1, 3): 90 degrees
        >>> np.asarray(loss, "float64").round(4).tolist()  # (pi / 2)**2 and 0
        [2.4674, 0.0, 2.4674, 0.0]
    """
    units = l2_normalize(ops.cast(embeddings, "float32"), axis=-1)
    first, second = half_pairs(units)
    geodesic = safe_acos(ops.sum(first * second, axis=-1))
    values = contrastive_term(geodesic, _pair_similarity(labels), margin)
    return pair_values_to_samples(values, ops.shape(units)[0])


def euclidean_contrastive_loss(labels, embeddings, margin=1.0):
    """Per-sample Euclidean contrastive loss (Eq. 1) on ``||x_i - x_j||`` of raw features.

    Examples:
        >>> import numpy as np
        >>> x = np.array([[0.0, 0.0], [0.0, 0.0], [3.0, 4.0], [0.0, 0.5]], "float32")
        >>> loss = euclidean_contrastive_loss(np.array([0, 1, 0, 2]), x)
        >>> np.asarray(loss).tolist()  # 5**2 (same class), (1 - 0.5)**2 (different)
        [25.0, 0.25, 25.0, 0.25]
    """
    features = ops.cast(embeddings, "float32")
    first, second = half_pairs(features)
    squared = ops.sum(ops.square(first - second), axis=-1)
    distance = ops.sqrt(ops.maximum(squared, NORM_EPSILON))
    values = contrastive_term(distance, _pair_similarity(labels), margin)
    return pair_values_to_samples(values, ops.shape(features)[0])


class _PairContrastiveLoss(PerSampleLoss):
    """What [`AMCLoss`][keras_angular.losses.AMCLoss] and
    [`EuclideanContrastiveLoss`][keras_angular.losses.EuclideanContrastiveLoss] share: pairs and
    labels."""

    y_pred_layout = "(batch, features)"
    y_pred_holds_class_scores = False
    head_types = (keras.layers.Layer,)
    labels_from_head = True

    def __init__(self, fn, margin, weight, head, reduction, name, dtype):
        super().__init__(
            fn,
            reduction,
            name,
            dtype,
            head=head,
            weight=weight,
            margin=check_positive(type(self).__name__, "margin", margin),
        )


@keras.saving.register_keras_serializable(package="keras_angular")
class AMCLoss(_PairContrastiveLoss):
    """AMC-Loss: a contrastive loss on the geodesic distance between unit features.

    Formula (Choi, Som & Turaga, Eq. 2-3; pairs ``(i, i + B/2)`` of Sec. 3.1):

    ```text
    theta = arccos(z_i . z_j),   z = x / ||x||,
    loss = weight * mean_pairs[S theta^2 + (1 - S) max(0, m_g - theta)^2]
    ```

    Add it to cross-entropy on the logits (Algorithm 1); ramp ``weight`` with
    [`keras_angular.callbacks.LossWeightRamp`][].

    Args:
        margin: the angular margin ``m_g`` in radians (> 0). Default 0.5, the
            paper's (Sec. 4).
        weight: ``lambda`` (>= 0), a ``keras.Variable`` a callback can ramp.
            Default 0.1, the paper's (Sec. 4).
        head: the layer mapping the embedding to class scores; when given,
            ``S_ij`` comes from its argmax (no gradient) as in the paper (Eq. 3)
            and ``y_true`` is not read; when None (the default), from ``y_true``.
        reduction, name, dtype: as for ``keras.losses.Loss``; default name
            ``"amc_loss"``.

    Examples:
        >>> import numpy as np
        >>> features = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.1], [1.0, 0.0]], "float32")
        >>> print(round(float(AMCLoss()(np.array([0, 1, 0, 0]), features)), 6))
        0.000497
        >>> import keras
        >>> inputs = keras.Input((64,))
        >>> embedding = keras.layers.Dense(16, name="embedding")(inputs)
        >>> head = keras.layers.Dense(10, name="head")
        >>> model = keras.Model(inputs, {"logits": head(embedding), "embedding": embedding})
        >>> model.compile("adam", loss={
        ...     "logits": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        ...     "embedding": AMCLoss(head=head)})

    Reference: Choi, Som & Turaga, "AMC-Loss: Angular margin contrastive loss for
    improved explainability in image classification", CVPR Workshops 2020.
    """

    def __init__(
        self,
        margin=0.5,
        weight=0.1,
        head=None,
        reduction="sum_over_batch_size",
        name="amc_loss",
        dtype=None,
    ):
        super().__init__(amc_loss, margin, weight, head, reduction, name, dtype)


@keras.saving.register_keras_serializable(package="keras_angular")
class EuclideanContrastiveLoss(_PairContrastiveLoss):
    """Euclidean contrastive loss on in-batch pairs: the AMC paper's "+Eucd" baseline.

    Formula (Choi, Som & Turaga, Eq. 1; pairs ``(i, i + B/2)``):

    ```text
    d = ||x_i - x_j||,   loss = weight * mean_pairs[S d^2 + (1 - S) max(0, m_e - d)^2]
    ```

    Args:
        margin: the Euclidean margin ``m_e`` (> 0). Default 1.0, the paper's (Sec. 4).
        weight: ``lambda`` (>= 0), a rampable ``keras.Variable``. Default 0.1,
            the paper's (Sec. 4).
        head: as for [`AMCLoss`][keras_angular.losses.AMCLoss]. Default None (``S_ij`` from
            ``y_true``).
        reduction, name, dtype: as for ``keras.losses.Loss``; default name
            ``"euclidean_contrastive_loss"``.

    Examples:
        >>> import numpy as np
        >>> features = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.5], [1.0, 0.0]], "float32")
        >>> loss = EuclideanContrastiveLoss()
        >>> print(round(float(loss(np.array([0, 1, 0, 0]), features)), 6))
        0.0125

    Reference: Hadsell, Chopra & LeCun, "Dimensionality reduction by learning an
    invariant mapping", CVPR 2006 (the contrastive loss), as used by Choi et al.
    """

    def __init__(
        self,
        margin=1.0,
        weight=0.1,
        head=None,
        reduction="sum_over_batch_size",
        name="euclidean_contrastive_loss",
        dtype=None,
    ):
        super().__init__(euclidean_contrastive_loss, margin, weight, head, reduction, name, dtype)


__all__ = [
    "AMCLoss",
    "EuclideanContrastiveLoss",
    "amc_loss",
    "contrastive_term",
    "euclidean_contrastive_loss",
]
