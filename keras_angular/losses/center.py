"""Center loss (Wen et al., ECCV 2016), the Angular paper's baseline (its Eq. 5-6)."""

import keras
import tensorflow as tf
from keras import ops

from keras_angular.checks import check_int, check_range
from keras_angular.losses.base import WeightedLoss
from keras_angular.ops import sparse_labels


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
                self.centers = keras.Variable(
                    ops.zeros((self.num_classes, feature_dim)),
                    dtype="float32",
                    trainable=False,
                    name=f"{self.name}_centers",
                )
        elif self.centers.shape[-1] != feature_dim:
            raise ValueError(
                f"CenterLoss: the centres have {self.centers.shape[-1]} dimensions but the "
                f"embedding has {feature_dim}; use one CenterLoss per embedding."
            )

    def call(self, y_true, y_pred):
        features = ops.cast(y_pred, "float32")
        self._ensure_centers(features.shape[-1])
        onehot = ops.one_hot(sparse_labels(y_true), self.num_classes, dtype="float32")
        centers = self.centers
        alpha = self.alpha

        @tf.custom_gradient
        def half_squared_distance(x, assignment, current_centers):
            offset = x - ops.matmul(assignment, current_centers)

            def gradient(upstream):
                counts = ops.sum(assignment, axis=0)
                pulled = counts[:, None] * current_centers - ops.matmul(
                    ops.transpose(assignment), x
                )
                update = centers.assign_sub(alpha * pulled / (1.0 + counts[:, None]))
                with tf.control_dependencies([update]):
                    return tf.identity(upstream[:, None] * offset), None, None

            return 0.5 * ops.sum(ops.square(offset), axis=-1), gradient

        current = ops.convert_to_tensor(centers)
        return self.weight * half_squared_distance(features, onehot, current)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "alpha": self.alpha}


__all__ = ["CenterLoss"]
