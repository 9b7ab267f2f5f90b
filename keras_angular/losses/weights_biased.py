"""W-Softmax (Li & Wang): negatives biased towards the target class weight."""

import keras
from keras import ops

from keras_angular.checks import check_range
from keras_angular.layers import WeightsBiasedDense
from keras_angular.losses.base import PerSampleLoss, softmax_cross_entropy
from keras_angular.ops import (
    NORM_EPSILON,
    gram_rows,
    l2_normalize,
    sparse_labels,
    target_values,
)


def weights_biased_logits(labels, head_outputs, kernel, alpha, easy_margin=False):
    """W-Softmax logits in closed form (Eq. 1 and 11-13).

    For a sample of class ``c`` each negative weight becomes
    ``w'_j = (alpha w_c + w_j) / ||alpha w_c + w_j||``. With unit weights and
    ``y = W_hat^T x`` (the head's output), ``||alpha w_c + w_j||^2 =
    alpha^2 + 1 + 2 alpha G_cj``, so

        z_j = (alpha y_c + y_j) / sqrt(alpha^2 + 1 + 2 alpha G_cj),   z_c = y_c,

    a (B, C) computation instead of Algorithm 1's per-sample C x M matrix.

    With ``easy_margin`` the biased negatives are used only where ``y_c > 0``
    (plain ``y_j`` elsewhere), as ArcFace's easy margin does: where ``y_c < 0``
    the paper's negatives are *easier* than plain ones, since
    ``(alpha + 1) / ||alpha w_c + w_j|| > 1``, and the loss goes to 0 with every
    feature on one direction that has a negative dot with all class weights
    (see :class:`WSoftmaxLoss`).
    """
    labels = sparse_labels(labels)
    outputs = ops.cast(head_outputs, "float32")
    onehot = ops.one_hot(labels, ops.shape(outputs)[-1], dtype="float32")
    target = target_values(onehot, outputs)
    norm_sq = alpha * alpha + 1.0 + 2.0 * alpha * gram_rows(labels, ops.cast(kernel, "float32"))
    negatives = (alpha * target[:, None] + outputs) * ops.rsqrt(ops.maximum(norm_sq, NORM_EPSILON))
    biased = onehot < 1
    if easy_margin:
        biased = ops.logical_and(biased, (target > 0.0)[:, None])
    return ops.where(biased, negatives, outputs)


def weights_biased_logits_per_sample(labels, features, kernel, alpha):
    """The paper-literal W-Softmax logits: a biased weight matrix per sample.

    Algorithm 1: for every sample, build the (M, C) matrix whose target column
    is ``w_c`` and whose other columns are ``normalize(alpha w_c + w_j)`` (Eq. 1),
    then multiply the raw feature by it. O(B*M*C) memory: the reference the
    closed form :func:`weights_biased_logits` is tested and benchmarked against.
    """
    labels = sparse_labels(labels)
    unit_kernel = l2_normalize(ops.cast(kernel, "float32"), axis=0)
    onehot = ops.one_hot(labels, ops.shape(unit_kernel)[-1], dtype="float32")
    targets = ops.take(ops.transpose(unit_kernel), labels, axis=0)  # (B, M)
    biased = l2_normalize(alpha * targets[:, :, None] + unit_kernel[None], axis=1)
    weights = ops.where(onehot[:, None, :] > 0, unit_kernel[None], biased)  # (B, M, C)
    return ops.einsum("bm,bmc->bc", ops.cast(features, "float32"), weights)


def wsoftmax_loss(
    y_true, head_outputs, kernel, alpha=1.5, easy_margin=False, logits=weights_biased_logits
):
    """Per-sample W-Softmax loss (Eq. 13): cross-entropy over the biased logits.

    ``logits(labels, head_outputs, kernel, alpha, easy_margin)`` computes them: by
    default the closed form :func:`weights_biased_logits`. Algorithm 1's
    :func:`weights_biased_logits_per_sample` multiplies the raw features
    itself (and has no easy margin); pass it bound to them to compute the same
    loss the literal way.
    """
    labels = sparse_labels(y_true)
    biased = logits(labels, head_outputs, kernel, alpha, easy_margin)
    return softmax_cross_entropy(labels, biased)


@keras.saving.register_keras_serializable(package="keras_angular")
class WSoftmaxLoss(PerSampleLoss):
    """W-Softmax: softmax where each negative weight is biased towards the target's.

    Formula (Li & Wang, Eq. 1 and 11-13, in closed form)::

        w'_j = normalize(alpha w_y + w_j)  (j != y),   z_y = y_y = w_y . x,
        z_j = w'_j . x = (alpha y_y + y_j) / sqrt(alpha^2 + 1 + 2 alpha w_y . w_j),
        loss = -log softmax(z)_y

    ``y_pred`` is the output of ``head``, a
    :class:`~keras_angular.layers.WeightsBiasedDense` (unit weights, raw
    features, no scale, no bias); the loss reads ``head.kernel``. ``alpha = 0``
    is plain softmax over the head. At inference the head's plain outputs are
    the class scores.

    The paper's loss has a degenerate minimum: for a sample whose target score
    ``y_y`` is negative, every biased negative is *lower* than ``y_j`` would be,
    so mapping all features to one direction with a negative dot on every class
    weight drives the loss to 0 without separating anything (measured on the
    digits data with an MLP: loss 0.001, test accuracy 63%, C-Inter 4 degrees, at
    alpha = 1.5; also at alpha = 0.5 and 1). ``easy_margin=True`` applies the
    bias only where ``y_y > 0`` - the paper's loss wherever the target score is
    positive - and trains normally (97.5% on the same run).

    Args:
        alpha: the bias strength (>= 0). Default 1.5, the paper's.
        easy_margin: bias the negatives only where the target score is positive.
            Default False: the paper's Eq. 13 everywhere. The registry's
            ``wsoftmax`` method trains with True
            (:data:`keras_angular.methods.REGISTRY_OVERRIDES`).
        head: the ``WeightsBiasedDense`` layer whose output this loss receives
            (required).
        reduction, name, dtype: as for ``keras.losses.Loss``; default name
            ``"wsoftmax_loss"``.

    Example:
        >>> import keras, keras_angular, numpy as np
        >>> head = keras_angular.layers.WeightsBiasedDense(
        ...     3, kernel_initializer="identity", name="head")
        >>> outputs = head(np.array([[2.0, 0.5, -1.0]], "float32"))
        >>> print(round(float(WSoftmaxLoss(head=head)(np.array([0]), outputs)), 6))
        0.855921
        >>> inputs = keras.Input((16,))
        >>> head = keras_angular.layers.WeightsBiasedDense(10, name="head")
        >>> model = keras.Model(inputs, head(keras.layers.Dense(8)(inputs)))
        >>> model.compile("adam", loss=WSoftmaxLoss(head=head))

    Reference: Li & Wang, "W-Softmax: Weights-biased softmax loss for deep
    feature learning".
    """

    head_types = (WeightsBiasedDense,)
    head_role = "kernel"

    def __init__(
        self,
        alpha=1.5,
        easy_margin=False,
        head=None,
        reduction="sum_over_batch_size",
        name="wsoftmax_loss",
        dtype=None,
    ):
        super().__init__(
            wsoftmax_loss,
            reduction,
            name,
            dtype,
            head=head,
            alpha=check_range(type(self).__name__, "alpha", alpha, 0.0, float("inf")),
            easy_margin=bool(easy_margin),
        )


__all__ = [
    "WSoftmaxLoss",
    "weights_biased_logits",
    "weights_biased_logits_per_sample",
    "wsoftmax_loss",
]
