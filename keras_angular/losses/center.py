"""Center loss (Wen et al., ECCV 2016), the Angular paper's baseline (its Eq. 5-6)."""

import keras
import tensorflow as tf
from keras import ops

from keras_angular.checks import check_int, check_range
from keras_angular.losses.base import WeightedLoss, check_inputs
from keras_angular.ops import nan_where_invalid


@keras.saving.register_keras_serializable(package="keras_angular")
class CenterLoss(WeightedLoss):
    """Center loss ``weight * 1/2 ||x_i - c_{y_i}||^2`` per sample (Angular paper Eq. 5).

    Use it on the embedding output next to cross-entropy on the logits (Eq. 6:
    ``weight`` is ``lambda``). The class centres ``centers`` (C x D, zeros at
    start, created on the first call) are model state, updated as Wen et al.
    Eq. 4 prescribe, once per training step:

        delta c_j = sum_i [y_i = j] (c_j - x_i) / (1 + sum_i [y_i = j]),
        c_j <- c_j - alpha * delta c_j.

    The update runs when the gradient of the loss is taken - in ``model.fit``,
    never in ``evaluate`` or ``predict``, so validation data do not move the
    centres. It therefore needs the TensorFlow backend. The centres are not
    weights of the model: they are not saved with it (``get_config`` keeps the
    hyper-parameters; training resumes with fresh centres).

    Under a ``tf.distribute`` strategy (``MirroredStrategy``) the per-class counts
    and feature sums are summed over the replicas before the update, so the
    centres move exactly as on one device with the global batch; every replica
    then holds the same centres (a variable with ``only_first_replica``
    aggregation).

    Args:
        num_classes: number of classes C.
        alpha: the centre learning rate in [0, 1]; Wen et al. use 0.5.
        weight: ``lambda`` (>= 0), a rampable ``keras.Variable``.

    Example:
        >>> import keras, keras_angular, numpy as np
        >>> loss = CenterLoss(num_classes=10, alpha=0.5, weight=0.003)
        >>> value = loss(np.array([0, 3]), np.random.rand(2, 8).astype("float32"))
    """

    def __init__(
        self,
        num_classes,
        alpha=0.5,
        weight=0.003,
        name="center_loss",
        reduction="sum_over_batch_size",
        dtype=None,
    ):
        super().__init__(weight, name=name, reduction=reduction, dtype=dtype)
        self.num_classes = check_int("CenterLoss", "num_classes", num_classes, 1)
        self.alpha = check_range("CenterLoss", "alpha", alpha, 0.0, 1.0)
        self.centers = None

    def _ensure_centers(self, feature_dim):
        if self.centers is None:
            with tf.init_scope():
                # A callable initializer lets Keras defer the creation when the first
                # call is a shape inference in a stateless scope (``model.fit`` under
                # a distribution strategy builds the compiled loss that way).
                self.centers = keras.Variable(
                    initializer="zeros",
                    shape=(self.num_classes, feature_dim),
                    dtype="float32",
                    trainable=False,
                    name=f"{self.name}_centers",
                    aggregation="only_first_replica",
                )
        elif self.centers.shape[-1] != feature_dim:
            raise ValueError(
                f"CenterLoss: the centres have {self.centers.shape[-1]} dimensions but the "
                f"embedding has {feature_dim}; use one CenterLoss per embedding."
            )

    def call(self, y_true, y_pred):
        labels, valid, y_pred = check_inputs(
            "CenterLoss", y_true, y_pred, self.num_classes, "(batch, features)"
        )
        features = ops.cast(y_pred, "float32")
        self._ensure_centers(features.shape[-1])
        # a flagged label (XLA only, see checked_labels) is assigned to no centre
        assigned = ops.cast(valid, "float32")
        centers = self.centers
        alpha = self.alpha
        num_classes = self.num_classes

        # A gather and segment sums, O(B*D + C*D); a one-hot matmul would be O(B*C*D).
        @tf.custom_gradient
        def half_squared_distance(x, assignment, current_centers):
            offset = x - ops.take(current_centers, labels, axis=0) * assignment[:, None]

            def gradient(upstream):
                counts = tf.math.unsorted_segment_sum(assignment, labels, num_classes)
                sums = tf.math.unsorted_segment_sum(x * assignment[:, None], labels, num_classes)
                replica = tf.distribute.get_replica_context()
                if replica is not None and replica.num_replicas_in_sync > 1:
                    # Wen et al.'s update over the global batch, not each replica's.
                    counts, sums = replica.all_reduce("sum", [counts, sums])
                pulled = counts[:, None] * current_centers - sums
                update = centers.assign_sub(alpha * pulled / (1.0 + counts[:, None]))
                with tf.control_dependencies([update]):
                    return tf.identity(upstream[:, None] * offset), None, None

            return 0.5 * ops.sum(ops.square(offset), axis=-1), gradient

        current = ops.convert_to_tensor(centers)
        values = self.weight * half_squared_distance(features, assigned, current)
        return nan_where_invalid(values, valid)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "alpha": self.alpha}


__all__ = ["CenterLoss"]
