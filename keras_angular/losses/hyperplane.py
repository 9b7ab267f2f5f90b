"""HASeparator (Kansizoglou et al.): cosine logits plus a hinge on hyperplane projections."""

import keras
from keras import ops

from keras_angular.checks import check_positive, check_range
from keras_angular.layers import CosineDense
from keras_angular.losses.base import (
    HeadReference,
    checked_values,
    softmax_cross_entropy,
)
from keras_angular.ops import hyperplane_projections, sparse_labels


def haseparator_loss(y_true, cosines, kernel, scale=3.0, margin=0.9):
    """Per-sample HASeparator loss ``C_c + sum_{j != y} (m - min(p_j, m))``.

    ``C_c`` is the cross-entropy over ``sigma * cos`` (Eq. 4) and ``p_j`` the
    projection of the unit embedding on the normal ``w_y - w_j`` of its class's
    separating hyperplanes (Eq. 5-7, direction as in DESIGN.md), computed in the
    closed form of :func:`keras_angular.ops.hyperplane_projections`. The batch
    mean of the hinge is Eq. 8's ``C_t``. The zero normal ``j = y`` is left out
    (the authors' code keeps it as a constant ``m`` with no gradient).
    """
    labels = sparse_labels(y_true)
    cosines = ops.cast(cosines, "float32")
    cross_entropy = softmax_cross_entropy(labels, scale * cosines)
    return cross_entropy + projection_hinge(
        hyperplane_projections(cosines, kernel, labels), labels, margin
    )


def projection_hinge(projections, labels, margin):
    """Per-sample ``sum_{j != y} (m - min(p_j, m))`` (Eq. 7, summed over classes as in Eq. 8)."""
    off_target = 1.0 - ops.one_hot(labels, ops.shape(projections)[-1], dtype="float32")
    return ops.sum((margin - ops.minimum(projections, margin)) * off_target, axis=-1)


@keras.saving.register_keras_serializable(package="keras_angular")
class HASeparatorLoss(HeadReference, keras.losses.Loss):
    """HASeparator: ``CE(sigma cos) + sum_{j != y} (m - min(p_j, m))`` (Eq. 4-8).

    ``y_pred`` are the cosines of ``head``, a :class:`~keras_angular.layers.CosineDense`;
    the loss reads ``head.kernel`` for the hyperplane normals, so its gradient
    reaches the class weights through both terms.

    Args:
        head: the ``CosineDense`` layer whose output this loss receives.
        scale: the feature scaler ``sigma`` (> 0). The paper's best CIFAR-10
            ResNet-18 settings are sigma = 3, m = 0.9-1.0; the authors' code
            defaults to sigma = 1, m = 0.1.
        margin: the relaxation margin ``m`` in (0, 1] (Eq. 7).

    Example:
        >>> import keras, keras_angular, numpy as np
        >>> inputs = keras.Input((16,))
        >>> head = keras_angular.layers.CosineDense(10, name="head")
        >>> model = keras.Model(inputs, head(keras.layers.Dense(8)(inputs)))
        >>> model.compile("adam", loss=HASeparatorLoss(head, scale=3.0, margin=0.9))
    """

    _head_types = (CosineDense,)

    def __init__(
        self,
        head,
        scale=3.0,
        margin=0.9,
        name="haseparator_loss",
        reduction="sum_over_batch_size",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self._set_head(head)
        self.scale = check_positive(type(self).__name__, "scale", scale)
        self.margin = check_range(type(self).__name__, "margin", margin, 0.0, 1.0, low_open=True)

    def call(self, y_true, y_pred):
        head = self._resolved_head()
        return checked_values(
            "HASeparatorLoss",
            haseparator_loss,
            y_true,
            y_pred,
            head.kernel,
            self.scale,
            self.margin,
            units=head.units,
        )

    def get_config(self):
        return {
            **super().get_config(),
            "head": self._head_config(),
            "scale": self.scale,
            "margin": self.margin,
        }


__all__ = ["HASeparatorLoss", "haseparator_loss", "projection_hinge"]
