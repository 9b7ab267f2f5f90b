"""HASeparator (Kansizoglou et al.): cosine logits plus a hinge on hyperplane projections."""

import keras
from keras import ops

from keras_angular.checks import check_positive, check_range
from keras_angular.layers import CosineDense
from keras_angular.losses.base import PerSampleLoss, softmax_cross_entropy
from keras_angular.ops import hyperplane_projections, sparse_labels


def haseparator_loss(
    y_true, cosines, kernel, scale=3.0, margin=0.9, projections=hyperplane_projections
):
    """Per-sample HASeparator loss ``C_c + sum_{j != y} (m - min(p_j, m))``.

    ``C_c`` is the cross-entropy over ``sigma * cos`` (Eq. 4) and ``p_j`` the
    projection of the unit embedding on the normal ``w_y - w_j`` of its class's
    separating hyperplanes (Eq. 5-7; Eq. 5 writes the normal as ``w_j - w_y``, but
    Sec. III-A and Fig. 2 need it to point from class j to the target), computed by
    ``projections(labels, cosines, kernel)``: by default the closed form
    [`keras_angular.ops.hyperplane_projections`][]. The paper's einsum,
    [`keras_angular.ops.hyperplane_projections_einsum`][], projects the
    embeddings themselves; pass it bound to them
    (``lambda labels, cosines, kernel: hyperplane_projections_einsum(labels,
    embeddings, kernel)``) to compute the same loss the literal way. The batch
    mean of the hinge is Eq. 8's ``C_t``. The zero normal ``j = y`` is left out
    (the authors' code keeps it as a constant ``m`` with no gradient).

    Examples:
        >>> import numpy as np
        >>> cos, kernel = np.array([[1.0, 0.0]], "float32"), np.eye(2, dtype="float32")
        >>> loss = haseparator_loss(np.array([0]), cos, kernel)
        >>> print(round(float(loss[0]), 4))  # log(1 + exp(-3)) + 0.9 - 1 / sqrt(2)
        0.2415
    """
    labels = sparse_labels(y_true)
    cosines = ops.cast(cosines, "float32")
    cross_entropy = softmax_cross_entropy(labels, scale * cosines)
    return cross_entropy + projection_hinge(labels, projections(labels, cosines, kernel), margin)


def projection_hinge(labels, projections, margin):
    """Per-sample ``sum_{j != y} (m - min(p_j, m))`` (Eq. 7, summed over classes as in Eq. 8).

    ``m - min(p, m) = max(m - p, 0)``, summed over every class and less the target's term
    (gathered): no (B, C) mask, in the forward pass or the backward.

    Examples:
        >>> import numpy as np
        >>> p = np.array([[0.0, 0.5, 1.0]], "float32")  # target 0: (0.9 - 0.5) + 0
        >>> print(round(float(projection_hinge(np.array([0]), p, 0.9)[0]), 4))
        0.4
    """
    hinge = ops.relu(margin - ops.cast(projections, "float32"))
    target = ops.take_along_axis(hinge, sparse_labels(labels)[:, None], axis=1)[:, 0]
    return ops.sum(hinge, axis=-1) - target


@keras.saving.register_keras_serializable(package="keras_angular")
class HASeparatorLoss(PerSampleLoss):
    """HASeparator: cosine cross-entropy plus a hinge on hyperplane projections.

    Formula (Kansizoglou et al., Eq. 4-8; the normal ``w_y - w_j`` points to the
    target class, as Sec. III-A and Fig. 2 need, where Eq. 5 writes ``w_j - w_y``):

    ```text
    loss = -log softmax(sigma cos)_y + sum_{j != y} (m - min(p_j, m)),
    p_j = e . (w_y - w_j) / ||w_y - w_j|| = (cos_y - cos_j) / sqrt(2 - 2 w_y . w_j)
    ```

    ``y_pred`` are the cosines of ``head``, a [`CosineDense`][keras_angular.layers.CosineDense];
    the loss reads ``head.kernel`` for the hyperplane normals, so its gradient
    reaches the class weights through both terms.

    Args:
        scale: the feature scaler ``sigma`` (> 0). Default 3.0, the paper's best
            CIFAR-10 ResNet-18 setting (the authors' code defaults to 1).
        margin: the relaxation margin ``m`` in (0, 1] (Eq. 7). Default 0.9, the
            paper's best CIFAR-10 ResNet-18 setting (the authors' code: 0.1).
        head: the ``CosineDense`` layer whose output this loss receives (required).
        reduction, name, dtype: as for ``keras.losses.Loss``; default name
            ``"haseparator_loss"``.

    Examples:
        >>> import keras, keras_angular, numpy as np
        >>> head = keras_angular.layers.CosineDense(
        ...     3, kernel_initializer="identity", name="head")
        >>> cos = head(np.array([[1.0, 0.2, 0.0]], "float32"))
        >>> print(round(float(HASeparatorLoss(head=head)(np.array([0]), cos)), 6))
        0.689789
        >>> inputs = keras.Input((16,))
        >>> head = keras_angular.layers.CosineDense(10, name="head")
        >>> model = keras.Model(inputs, head(keras.layers.Dense(8)(inputs)))
        >>> model.compile("adam", loss=HASeparatorLoss(head=head))

    Reference: Kansizoglou et al., "HASeparator: Hyperplane-assisted softmax",
    ICMLA 2020.
    """

    head_types = (CosineDense,)
    reads_head_kernel = True

    def __init__(
        self,
        scale=3.0,
        margin=0.9,
        head=None,
        reduction="sum_over_batch_size",
        name="haseparator_loss",
        dtype=None,
    ):
        owner = type(self).__name__
        super().__init__(
            haseparator_loss,
            reduction,
            name,
            dtype,
            head=head,
            scale=check_positive(owner, "scale", scale),
            margin=check_range(owner, "margin", margin, 0.0, 1.0, low_open=True),
        )


__all__ = ["HASeparatorLoss", "haseparator_loss", "projection_hinge"]
