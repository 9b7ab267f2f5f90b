"""Wen et al.'s centre update (ECCV 2016, Eq. 4) and where each Keras backend runs it.

[`CenterLoss`][keras_angular.losses.CenterLoss] keeps its class centres in one of two places:

* in a [`ClassCenters`][keras_angular.layers.ClassCenters] layer of the model (``head=``): the
  centres are model state on every backend, and the loss assigns the update when the
  layer's last call ran with ``training=True`` (the train step; never ``evaluate`` or
  ``predict``). Plain ``keras.ops``: ``class_counts_and_sums`` and
  ``updated_centers``;
* in the loss itself (``CenterLoss(num_classes)``): the update runs as a side effect of
  taking the gradient, ``distance_updating_on_gradient`` - a ``tf.custom_gradient``
  on TensorFlow, a ``torch.autograd.Function`` on PyTorch. JAX cannot: its gradient has
  no side effects and a step keeps only the model's variables, so a compiled JAX step
  raises ``JAX_NEEDS_LAYER``, which says what to do.

Under a ``tf.distribute`` strategy the per-class counts and sums are summed over the
replicas (``sum_over_replicas``), so the centres move as on one device with the
global batch; under ``jax.jit`` with Keras' ``DataParallel`` the batch is global already.
"""

import contextlib

from keras import ops

from keras_angular import backend

JAX_NEEDS_LAYER = (
    "CenterLoss(num_classes) keeps its class centres inside the loss, and on the JAX "
    "backend a training step keeps only the model's variables and a gradient cannot "
    "assign them: its centres would never move. Put the centres in the model: "
    "`centers = keras_angular.layers.ClassCenters(num_classes)`, use "
    "`centers(embedding)` as the output the loss reads, and compile with "
    "`CenterLoss(head=centers)` (the registry's `center` method does this). "
    "Or run on TensorFlow or PyTorch (KERAS_BACKEND=tensorflow|torch)."
)
"""What a compiled JAX step says about a loss that owns its centres."""


def sum_over_replicas(*tensors):
    """``tensors`` summed over the replicas of a ``tf.distribute`` strategy's replica
    context with more than one replica; unchanged anywhere else (one device, JAX, PyTorch).

    Examples:
        >>> import numpy as np
        >>> (counts,) = sum_over_replicas(np.array([1.0, 2.0]))
        >>> counts.tolist()
        [1.0, 2.0]
    """
    if backend.name() == "tensorflow":
        import tensorflow as tf

        replica = tf.distribute.get_replica_context()
        if replica is not None and replica.num_replicas_in_sync > 1:
            return tuple(replica.all_reduce("sum", list(tensors)))
    return tensors


def class_counts_and_sums(features, labels, assigned, num_classes):
    """Per class j: ``n_j = sum_i [y_i = j] a_i`` and ``s_j = sum_i [y_i = j] a_i x_i``,
    summed over the replicas (``sum_over_replicas``).

    ``assigned`` (B,) is 1 for a sample that counts and 0 for one that does not (a
    flagged label). Segment sums, O(B*D + C*D); a one-hot matmul would be O(B*C*D).

    Examples:
        >>> import numpy as np
        >>> x = np.array([[1.0, 0.0], [3.0, 2.0], [5.0, 5.0]], "float32")
        >>> counts, sums = class_counts_and_sums(x, np.array([1, 1, 0]), np.ones(3, "float32"), 3)
        >>> np.asarray(counts).tolist(), np.asarray(sums).tolist()
        ([1.0, 2.0, 0.0], [[5.0, 5.0], [4.0, 2.0], [0.0, 0.0]])
    """
    features = ops.convert_to_tensor(features, "float32")
    assigned = ops.convert_to_tensor(assigned, "float32")
    counts = ops.segment_sum(assigned, labels, num_segments=num_classes)
    sums = ops.segment_sum(features * assigned[:, None], labels, num_segments=num_classes)
    return sum_over_replicas(counts, sums)


def updated_centers(centers, counts, sums, alpha):
    """Wen et al. Eq. 4: ``c_j - alpha * (n_j c_j - s_j) / (1 + n_j)``, i.e.
    ``delta c_j = sum_i [y_i = j] (c_j - x_i) / (1 + sum_i [y_i = j])``.

    Examples:
        >>> import numpy as np
        >>> new = updated_centers(np.zeros((2, 2), "float32"), np.array([2.0, 0.0]),
        ...                       np.array([[4.0, 2.0], [0.0, 0.0]]), alpha=0.5)
        >>> np.round(np.asarray(new, "float64"), 6).tolist()   # class 0: 0.5 * (4, 2) / 3
        [[0.666667, 0.333333], [0.0, 0.0]]
    """
    centers = ops.convert_to_tensor(centers, "float32")
    counts = ops.convert_to_tensor(counts, "float32")[:, None]
    sums = ops.convert_to_tensor(sums, "float32")
    return centers - alpha * (counts * centers - sums) / (1.0 + counts)


def creation_scope():
    """The scope in which a loss creates its centres on first use: outside any
    ``tf.function`` (``tf.init_scope``) on TensorFlow, so a traced step can create them.

    Examples:
        >>> with creation_scope():
        ...     pass
    """
    if backend.name() == "tensorflow":
        import tensorflow as tf

        return tf.init_scope()
    return contextlib.nullcontext()


def distance_updating_on_gradient(features, labels, assigned, centers, alpha, num_classes):
    """Per sample ``1/2 ||x_i - c_{y_i}||^2`` (0-weighted centre where ``assigned`` is 0),
    whose gradient ``x_i - c_{y_i}`` w.r.t. ``features``, when taken, also assigns Wen et
    al.'s update to the ``centers`` variable (C x D): the forward pass alone never moves it.

    TensorFlow: ``tf.custom_gradient`` (in a ``tf.function`` the gradient's assignment is
    in the train step, never in ``evaluate`` / ``predict``). PyTorch: a
    ``torch.autograd.Function`` whose ``backward`` assigns (``loss.backward()`` in the
    train step). JAX: eagerly, the value only; traced (a compiled step), a
    ``RuntimeError`` (``JAX_NEEDS_LAYER``).

    Examples:
        >>> import keras, numpy as np
        >>> centers = keras.Variable(np.zeros((2, 2), "float32"))
        >>> x = np.array([[1.0, 2.0], [3.0, 0.0]], "float32")
        >>> d = distance_updating_on_gradient(x, np.array([0, 0]), np.ones(2, "float32"),
        ...                                   centers, 0.5, 2)
        >>> np.asarray(d).tolist(), np.asarray(centers).tolist()   # no gradient: no update
        ([2.5, 4.5], [[0.0, 0.0], [0.0, 0.0]])
    """
    features = ops.convert_to_tensor(features, "float32")
    labels = ops.convert_to_tensor(labels, "int32")
    assigned = ops.convert_to_tensor(assigned, "float32")
    name = backend.name()
    if name == "tensorflow":
        return _tensorflow_distance(features, labels, assigned, centers, alpha, num_classes)
    if name == "torch":
        return _torch_distance(features, labels, assigned, centers, alpha, num_classes)
    if backend.is_traced(features):
        raise RuntimeError(JAX_NEEDS_LAYER)
    current = ops.convert_to_tensor(centers)
    offset = features - ops.take(current, labels, axis=0) * assigned[:, None]
    return 0.5 * ops.sum(ops.square(offset), axis=-1)


def _tensorflow_distance(features, labels, assigned, centers, alpha, num_classes):
    import tensorflow as tf

    @tf.custom_gradient
    def half_squared_distance(x, weights, current):
        offset = x - tf.gather(current, labels) * weights[:, None]

        def gradient(upstream):
            counts, sums = class_counts_and_sums(x, labels, weights, num_classes)
            update = centers.assign(updated_centers(current, counts, sums, alpha))
            with tf.control_dependencies([update]):
                return tf.identity(upstream[:, None] * offset), None, None

        return 0.5 * tf.reduce_sum(tf.square(offset), axis=-1), gradient

    # the centres read into a tensor first: the custom-gradient function reads no variable
    return half_squared_distance(features, assigned, tf.convert_to_tensor(centers))


def _torch_distance(features, labels, assigned, centers, alpha, num_classes):
    # The centres the loss sees, copied: the variable is assigned in place later. The
    # variable itself goes to the Function inside a closure (a keras.Variable among its
    # arguments would be replaced by its value through Variable.__torch_function__).
    current = ops.convert_to_tensor(centers).detach().clone()

    def update(x, used_labels, weights):
        counts, sums = class_counts_and_sums(x, used_labels, weights, num_classes)
        centers.assign(updated_centers(current, counts, sums, alpha))

    return _torch_function().apply(features, labels, assigned, current, update)


_TORCH_FUNCTION = None


def _torch_function():
    """The ``torch.autograd.Function`` (built on first use: torch is imported only here)."""
    global _TORCH_FUNCTION
    if _TORCH_FUNCTION is None:
        import torch

        class HalfSquaredDistanceUpdatingCenters(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x, labels, assigned, current, update):
                offset = x - current[labels] * assigned[:, None]
                ctx.save_for_backward(offset, x.detach(), labels, assigned)
                ctx.update = update
                return 0.5 * torch.sum(offset * offset, dim=-1)

            @staticmethod
            def backward(ctx, upstream):
                offset, x, labels, assigned = ctx.saved_tensors
                ctx.update(x, labels, assigned)
                return upstream[:, None] * offset, None, None, None, None

        _TORCH_FUNCTION = HalfSquaredDistanceUpdatingCenters
    return _TORCH_FUNCTION


__all__ = [
    "JAX_NEEDS_LAYER",
    "class_counts_and_sums",
    "creation_scope",
    "distance_updating_on_gradient",
    "sum_over_replicas",
    "updated_centers",
]
