"""Center loss (Wen et al., ECCV 2016), the Angular paper's baseline (its Eq. 5-6)."""

import keras
import tensorflow as tf
from keras import ops

from keras_angular.checks import check_int, check_range
from keras_angular.losses.base import PerSampleLoss


@keras.saving.register_keras_serializable(package="keras_angular")
class CenterLoss(PerSampleLoss):
    """Center loss: the squared distance of each feature to its class centre.

    Formula (Angular paper Eq. 5-6; Wen et al. 2016, Eq. 2 and 4)::

        loss = weight * 1/2 ||x_i - c_{y_i}||^2

    Use it on the embedding output next to cross-entropy on the logits (Eq. 6:
    ``weight`` is ``lambda``). The class centres ``centers`` (C x D, zeros at
    start, created on the first call) are state, updated as Wen et al.
    Eq. 4 prescribe, once per training step:

        delta c_j = sum_i [y_i = j] (c_j - x_i) / (1 + sum_i [y_i = j]),
        c_j <- c_j - alpha * delta c_j.

    The update runs when the gradient of the loss is taken - in ``model.fit``,
    never in ``evaluate`` or ``predict``, so validation data do not move the
    centres. It therefore needs the TensorFlow backend. The centres are saved
    with a model compiled with this loss (``model.save`` writes them beside the
    weights, ``keras.saving.load_model`` restores them), so training resumes
    from the saved centres; ``get_config`` keeps the hyper-parameters only.

    Under a ``tf.distribute`` strategy (``MirroredStrategy``) the per-class counts
    and feature sums are summed over the replicas before the update, so the
    centres move exactly as on one device with the global batch; every replica
    then holds the same centres (a variable with ``only_first_replica``
    aggregation).

    Args:
        num_classes: the number of classes C (required): the loss reads no
            layer, its centres are its own state.
        alpha: the centre learning rate in [0, 1]. Default 0.5, Wen et al.'s.
        weight: ``lambda`` (>= 0), a rampable ``keras.Variable``. Default 0.003,
            Wen et al.'s face-recognition setting (the Angular paper states none).
        reduction, name, dtype: as for ``keras.losses.Loss``; default name
            ``"center_loss"``.

    Examples:
        >>> import numpy as np
        >>> loss = CenterLoss(num_classes=4, weight=1.0)
        >>> features = np.array([[1.0, 2.0], [3.0, 0.0]], "float32")
        >>> print(round(float(loss(np.array([0, 3]), features)), 6))  # centres start at 0
        3.5

    Reference: Wen, Zhang, Li & Qiao, "A discriminative feature learning approach
    for deep face recognition", ECCV 2016.
    """

    y_pred_layout = "(batch, features)"

    def __init__(
        self,
        num_classes,
        alpha=0.5,
        weight=0.003,
        reduction="sum_over_batch_size",
        name="center_loss",
        dtype=None,
    ):
        owner = type(self).__name__
        super().__init__(
            None,
            reduction,
            name,
            dtype,
            weight=weight,
            num_classes=check_int(owner, "num_classes", num_classes, 1),
            alpha=check_range(owner, "alpha", alpha, 0.0, 1.0),
        )
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
                f"{type(self).__name__}: the centres have {self.centers.shape[-1]} dimensions "
                f"but the embedding has {feature_dim}; use one CenterLoss per embedding."
            )

    def compute(self, labels, y_pred, valid):
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

        return half_squared_distance(features, assigned, ops.convert_to_tensor(centers))

    # Keras' .keras format calls these on every loss a compiled model holds.
    def save_own_variables(self, store):
        """Write the centres (once created) into a model's saved weights."""
        if self.centers is not None:
            store["centers"] = ops.convert_to_numpy(self.centers)

    def load_own_variables(self, store):
        """Restore the centres a saved model holds (none: they start at zero again)."""
        if "centers" in store:
            saved = store["centers"][...]
            self._ensure_centers(saved.shape[-1])
            self.centers.assign(saved)


__all__ = ["CenterLoss"]
