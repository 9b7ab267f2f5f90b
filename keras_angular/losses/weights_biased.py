"""W-Softmax (Li & Wang): negatives biased towards the target class weight."""

import keras
from keras import ops

from keras_angular.checks import check_range
from keras_angular.layers import WeightsBiasedDense
from keras_angular.losses.base import HeadReference, softmax_cross_entropy
from keras_angular.ops import (
    NORM_EPSILON,
    gram_rows,
    l2_normalize,
    sparse_labels,
    target_values,
)


def weights_biased_logits(head_outputs, kernel, labels, alpha):
    """W-Softmax logits in closed form (Eq. 1 and 11-13).

    For a sample of class ``c`` each negative weight becomes
    ``w'_j = (alpha w_c + w_j) / ||alpha w_c + w_j||``. With unit weights and
    ``y = W_hat^T x`` (the head's output), ``||alpha w_c + w_j||^2 =
    alpha^2 + 1 + 2 alpha G_cj``, so

        z_j = (alpha y_c + y_j) / sqrt(alpha^2 + 1 + 2 alpha G_cj),   z_c = y_c,

    a (B, C) computation instead of Algorithm 1's per-sample C x M matrix.
    """
    labels = sparse_labels(labels)
    outputs = ops.cast(head_outputs, "float32")
    unit_kernel = l2_normalize(ops.cast(kernel, "float32"), axis=0)
    onehot = ops.one_hot(labels, ops.shape(outputs)[-1], dtype="float32")
    target = target_values(outputs, onehot)
    norm_sq = alpha * alpha + 1.0 + 2.0 * alpha * gram_rows(unit_kernel, labels)
    negatives = (alpha * target[:, None] + outputs) * ops.rsqrt(ops.maximum(norm_sq, NORM_EPSILON))
    return ops.where(onehot > 0, outputs, negatives)


def weights_biased_logits_per_sample(features, kernel, labels, alpha):
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


def wsoftmax_loss(y_true, head_outputs, kernel, alpha=1.5):
    """Per-sample W-Softmax loss (Eq. 13): cross-entropy over :func:`weights_biased_logits`."""
    labels = sparse_labels(y_true)
    return softmax_cross_entropy(labels, weights_biased_logits(head_outputs, kernel, labels, alpha))


@keras.saving.register_keras_serializable(package="keras_angular")
class WSoftmaxLoss(HeadReference, keras.losses.Loss):
    """W-Softmax: softmax where each negative weight is ``normalize(alpha w_y + w_j)`` (Eq. 13).

    ``y_pred`` is the output of ``head``, a
    :class:`~keras_angular.layers.WeightsBiasedDense` (unit weights, raw
    features, no scale, no bias); the loss reads ``head.kernel``. ``alpha = 0``
    is plain softmax over the head. At inference the head's plain outputs are
    the class scores.

    Args:
        head: the ``WeightsBiasedDense`` layer whose output this loss receives.
        alpha: the bias strength (>= 0); the paper's default is 1.5.

    Example:
        >>> import keras, keras_angular, numpy as np
        >>> inputs = keras.Input((16,))
        >>> head = keras_angular.layers.WeightsBiasedDense(10, name="head")
        >>> model = keras.Model(inputs, head(keras.layers.Dense(8)(inputs)))
        >>> model.compile("adam", loss=WSoftmaxLoss(head, alpha=1.5))
    """

    _head_types = (WeightsBiasedDense,)

    def __init__(
        self, head, alpha=1.5, name="wsoftmax_loss", reduction="sum_over_batch_size", dtype=None
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self._set_head(head)
        self.alpha = check_range(type(self).__name__, "alpha", alpha, 0.0, float("inf"))

    def call(self, y_true, y_pred):
        return wsoftmax_loss(y_true, y_pred, self._resolved_head().kernel, self.alpha)

    def get_config(self):
        return {**super().get_config(), "head": self._head_config(), "alpha": self.alpha}


__all__ = [
    "WSoftmaxLoss",
    "weights_biased_logits",
    "weights_biased_logits_per_sample",
    "wsoftmax_loss",
]
