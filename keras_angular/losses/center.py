"""Center loss (Wen et al., ECCV 2016), the Angular paper's baseline (its Eq. 5-6)."""

import keras
from keras import ops

from keras_angular.checks import check_int, check_range
from keras_angular.layers import ClassCenters
from keras_angular.losses._center_update import (
    class_counts_and_sums,
    creation_scope,
    distance_updating_on_gradient,
    updated_centers,
)
from keras_angular.losses.base import PerSampleLoss


@keras.saving.register_keras_serializable(package="keras_angular")
class CenterLoss(PerSampleLoss):
    """Center loss: the squared distance of each feature to its class centre.

    Formula (Angular paper Eq. 5-6; Wen et al. 2016, Eq. 2 and 4):

    ```text
    loss = weight * 1/2 ||x_i - c_{y_i}||^2
    ```

    Use it on the embedding output next to cross-entropy on the logits (Eq. 6:
    ``weight`` is ``lambda``). The gradient w.r.t. ``x_i`` is ``weight * (x_i - c_{y_i})``
    (the centres are no trainable weights). The class centres ``centers`` (C x D, zeros
    at start) are state, updated as Wen et al. Eq. 4 prescribe, once per training step,
    from the centres the step's loss read:

        delta c_j = sum_i [y_i = j] (c_j - x_i) / (1 + sum_i [y_i = j]),
        c_j <- c_j - alpha * delta c_j.

    Where the centres live decides how the step is recognised:

    * ``head=ClassCenters(...)`` (every backend; what the registry's ``center`` method
      builds): the centres are a non-trainable weight of that layer, an identity placed
      on the embedding (``embedding = centers(embedding)``, the output this loss reads).
      The loss updates them when the layer's last call ran with ``training=True`` - the
      train step of ``model.fit``, never ``evaluate`` or ``predict`` (nor a direct call
      of the loss on embeddings that did not pass the layer in training mode). Being
      model weights, they are saved and loaded with the model, and on JAX the train
      step returns them as new state. A loss rebuilt from its config knows the layer by
      name: load with [`keras_angular.saving.load_model`][] (or call ``bind(model)``).
    * ``CenterLoss(num_classes)`` (TensorFlow and PyTorch): the loss creates its own
      centres on the first call and the update runs when the gradient of the loss is
      taken (a ``tf.custom_gradient``; a ``torch.autograd.Function`` whose backward
      assigns) - in ``model.fit``, never in ``evaluate`` or ``predict``, so validation
      data do not move the centres. On JAX a gradient cannot assign and a step keeps
      only the model's variables, so a compiled JAX step raises a ``RuntimeError``
      that says to use ``head=ClassCenters(...)``. The centres are saved with a model
      compiled with this loss (``model.save`` writes them beside the weights,
      ``keras.saving.load_model`` restores them), so training resumes from them.

    Under a ``tf.distribute`` strategy (``MirroredStrategy``) the per-class counts and
    feature sums are summed over the replicas before the update, so the centres move
    exactly as on one device with the global batch; every replica then holds the same
    centres (a variable with ``only_first_replica`` aggregation). Under ``jax.jit``
    with ``keras.distribution.DataParallel`` the batch the loss sees is the global one.

    Args:
        num_classes: the number of classes C: required without ``head``; with a head,
            optional (it must equal ``head.num_classes``).
        alpha: the centre learning rate in [0, 1]. Default 0.5, Wen et al.'s.
        weight: ``lambda`` (>= 0), a rampable ``keras.Variable``. Default 0.003,
            Wen et al.'s face-recognition setting (the Angular paper states none).
        head: a [`ClassCenters`][keras_angular.layers.ClassCenters] layer on the embedding
            that holds the centres, or None (the loss holds them; not on JAX).
        reduction, name, dtype: as for ``keras.losses.Loss``; default name
            ``"center_loss"``.

    Examples:
        >>> import numpy as np
        >>> loss = CenterLoss(num_classes=4, weight=1.0)
        >>> features = np.array([[1.0, 2.0], [3.0, 0.0]], "float32")
        >>> print(round(float(loss(np.array([0, 3]), features)), 6))  # centres start at 0
        3.5

        In a model, on any backend (the registry's ``center`` method):

        ```python
        centers = keras_angular.layers.ClassCenters(num_classes, name="centers")
        model = keras.Model(inputs, {"logits": head(embedding),
                                     "embedding": centers(embedding)})
        model.compile("adam", loss={"logits": cross_entropy,
                                    "embedding": CenterLoss(head=centers)})
        ```

    Reference: Wen, Zhang, Li & Qiao, "A discriminative feature learning approach
    for deep face recognition", ECCV 2016.
    """

    y_pred_layout = "(batch, features)"
    y_pred_holds_class_scores = False
    head_types = (ClassCenters,)

    def __init__(
        self,
        num_classes=None,
        alpha=0.5,
        weight=0.003,
        head=None,
        reduction="sum_over_batch_size",
        name="center_loss",
        dtype=None,
    ):
        owner = type(self).__name__
        if head is not None and not isinstance(head, (ClassCenters, str)):
            raise TypeError(
                f"{owner}: `head` must be a ClassCenters layer (the identity on the "
                f"embedding that holds the class centres), got {type(head).__name__}."
            )
        if isinstance(head, ClassCenters):
            if num_classes is None:
                num_classes = head.num_classes
            elif check_int(owner, "num_classes", num_classes, 1) != head.num_classes:
                raise ValueError(
                    f"{owner}: num_classes={num_classes} but the head {head.name!r} holds "
                    f"{head.num_classes} class centres; leave num_classes out with a head."
                )
        elif num_classes is None:
            raise ValueError(
                f"{owner} needs `num_classes` (the loss then holds the centres) or "
                "`head=ClassCenters(num_classes)`, the layer on the embedding that holds "
                "them (on every backend)."
            )
        self._own_centers = None
        super().__init__(
            None,
            reduction,
            name,
            dtype,
            head=head,
            weight=weight,
            num_classes=check_int(owner, "num_classes", num_classes, 1),
            alpha=check_range(owner, "alpha", alpha, 0.0, 1.0),
        )

    def _set_head(self, head):
        if head is None:  # the loss holds its own centres
            self._head = None
        else:
            super()._set_head(head)

    @property
    def centers(self):
        """The centres variable (C x D): the head's, else the loss's own (None before
        the first call)."""
        if self._head is not None:
            return self.head.centers if self.head.built else None
        return self._own_centers

    def bind(self, model):
        """Resolve a head known by name; its ``num_classes`` must be the loss's."""
        super().bind(model)
        if self._head is not None and self.head.num_classes != self.num_classes:
            raise ValueError(
                f"{type(self).__name__}: num_classes={self.num_classes} but the head "
                f"{self.head.name!r} holds {self.head.num_classes} class centres."
            )
        return self

    def _centers_for(self, feature_dim):
        """The centres variable for an embedding of ``feature_dim`` (created if needed)."""
        owner = type(self).__name__
        if self._head is not None:
            head = self.head
            if not head.built:  # called on embeddings that did not pass the layer
                with creation_scope():
                    head.build((None, feature_dim))
            centers = head.centers
        else:
            if self._own_centers is None:
                with creation_scope():
                    # A callable initializer lets Keras defer the creation when the
                    # first call is a shape inference in a stateless scope (``model.fit``
                    # under a distribution strategy builds the compiled loss that way).
                    self._own_centers = keras.Variable(
                        initializer="zeros",
                        shape=(self.num_classes, feature_dim),
                        dtype="float32",
                        trainable=False,
                        name=f"{self.name}_centers",
                        aggregation="only_first_replica",
                    )
            centers = self._own_centers
        if centers.shape[-1] != feature_dim:
            raise ValueError(
                f"{owner}: the centres have {centers.shape[-1]} dimensions but the "
                f"embedding has {feature_dim}; use one CenterLoss per embedding."
            )
        return centers

    def compute(self, labels, y_pred, valid):
        features = ops.cast(y_pred, "float32")
        centers = self._centers_for(features.shape[-1])
        # a flagged label (XLA only, see checked_labels) is assigned to no centre
        assigned = ops.cast(valid, "float32")
        if self._head is None:
            return distance_updating_on_gradient(
                features, labels, assigned, centers, self.alpha, self.num_classes
            )
        current = ops.convert_to_tensor(centers)  # read before any update of this step
        offset = features - ops.take(current, labels, axis=0) * assigned[:, None]
        if self.head.last_call_training:
            counts, sums = class_counts_and_sums(
                ops.stop_gradient(features), labels, assigned, self.num_classes
            )
            centers.assign(updated_centers(current, counts, sums, self.alpha))
        return 0.5 * ops.sum(ops.square(offset), axis=-1)

    # Keras' .keras format calls these on every loss a compiled model holds.
    def save_own_variables(self, store):
        """Write the loss's own centres (once created) into a model's saved weights; a
        loss with a head writes nothing (the centres are the layer's weight)."""
        if self._head is None and self._own_centers is not None:
            store["centers"] = ops.convert_to_numpy(self._own_centers)

    def load_own_variables(self, store):
        """Restore the loss's own centres a saved model holds (none: they start at zero)."""
        if self._head is None and "centers" in store:
            saved = store["centers"][...]
            self._centers_for(saved.shape[-1]).assign(saved)


__all__ = ["CenterLoss"]
