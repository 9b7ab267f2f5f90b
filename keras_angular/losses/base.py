"""What every loss of the package shares: label handling, cross-entropy, hyper-parameter
checks, the ramped ``weight`` variable and the reference to a head layer."""

import keras
from keras import ops

from keras_angular.checks import check_prediction_shape, check_range
from keras_angular.ops import as_tensor, checked_labels, nan_where_invalid, sparse_labels


def softmax_cross_entropy(labels, logits):
    """Per-sample ``-log softmax(logits)[label]`` in float32 (labels: (B,) ints)."""
    return ops.sparse_categorical_crossentropy(
        labels, ops.cast(logits, "float32"), from_logits=True
    )


def num_classes_of(y_pred):
    """The class count C of (B, C) scores: static when known, else a scalar tensor."""
    static = y_pred.shape[-1]
    return static if static is not None else ops.shape(y_pred)[-1]


def checked_predictions(owner, y_true, y_pred, layout=None, units=None):
    """``y_pred`` as a tensor, after its shape checks; the one place a loss converts it.

    Whatever ``keras.losses.Loss`` accepts is accepted: NumPy arrays, tensors and
    ``tf.Variable`` (read by :func:`keras_angular.ops.as_tensor`, so that a
    ``tf.GradientTape`` differentiating the loss with respect to the variable gets
    its gradient). ``layout`` and ``units`` are as for :func:`check_inputs`.
    """
    check_prediction_shape(owner, y_true, y_pred, layout or "(batch, num_classes)", units)
    return as_tensor(y_pred)


def check_inputs(owner, y_true, y_pred, num_classes=None, layout=None, units=None):
    """What every loss that reads ``y_true`` runs first: checks and conversion of both inputs.

    Args:
        owner: the loss's class name, which every message starts with.
        num_classes: the exclusive upper bound of the labels; ``"scores"`` for C
            of ``y_pred``; None for no bound.
        layout: how ``y_pred``'s two axes read, for the message.
        units: the head's ``units``, which ``y_pred``'s last axis must equal.

    Returns:
        ``(labels, valid, y_pred)``: ``labels`` and ``valid`` from
        :func:`keras_angular.ops.checked_labels`, ``y_pred`` from
        :func:`checked_predictions` - use it, not the argument, from here on.
    """
    y_pred = checked_predictions(owner, y_true, y_pred, layout, units)
    if isinstance(num_classes, str):
        num_classes = num_classes_of(y_pred)
    labels, valid = checked_labels(y_true, num_classes, owner)
    return labels, valid, y_pred


def checked_values(owner, loss_fn, y_true, y_pred, *args, units=None):
    """``loss_fn(labels, y_pred, *args)`` after :func:`check_inputs`.

    Labels are bounded by ``units`` (a head's class count, which ``y_pred``'s
    last axis must equal) or, without it, by ``y_pred``'s last axis; a sample
    flagged invalid under XLA gets a NaN loss
    (:func:`keras_angular.ops.nan_where_invalid`).
    """
    bound = units if units is not None else "scores"
    labels, valid, y_pred = check_inputs(owner, y_true, y_pred, bound, units=units)
    return nan_where_invalid(loss_fn(labels, y_pred, *args), valid)


class WeightedLoss(keras.losses.Loss):
    """A loss term scaled by ``weight``, a scalar float32 ``keras.Variable``.

    ``weight`` is what a :class:`keras_angular.callbacks.LossWeightRamp` ramps:
    assigning it changes the compiled train step without recompiling.
    """

    def __init__(self, weight, name=None, reduction="sum_over_batch_size", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        check_range(type(self).__name__, "weight", weight, 0.0, float("inf"))
        self.weight = keras.Variable(
            float(weight), dtype="float32", trainable=False, name=f"{self.name}_weight"
        )

    def get_config(self):
        config = super().get_config()
        config["weight"] = float(ops.convert_to_numpy(self.weight))
        return config


class HeadReference:
    """Holds the head layer a loss reads (its kernel or its predictions).

    The head is given as the layer itself. ``get_config`` stores the layer's
    name; a loss rebuilt from a config holds only that name until
    :meth:`bind` is called with the model, and says so if it is used before.
    """

    _head_types = (keras.layers.Layer,)
    _head_argument = "head"

    def _set_head(self, head, required=True):
        if head is None and not required:
            self._head = None
            return
        if isinstance(head, str):
            self._head = head
            return
        if not isinstance(head, self._head_types):
            wanted = " or ".join(t.__name__ for t in self._head_types)
            raise TypeError(
                f"{type(self).__name__}: `{self._head_argument}` must be a {wanted} layer "
                f"(the layer whose output this loss receives), got {type(head).__name__}."
            )
        self._head = head

    def bind(self, model):
        """Resolve a head stored by name to ``model.get_layer(name)``; returns ``self``.

        Also drops the train / test steps ``model`` may have traced before (a
        ``fit`` that failed on the unbound loss leaves one Keras cannot reuse),
        so the next ``fit`` / ``evaluate`` traces again with the head.
        """
        if isinstance(self._head, str):
            self._set_head(model.get_layer(self._head))
            for step in ("train_function", "test_function"):
                if getattr(model, step, None) is not None:
                    setattr(model, step, None)
        return self

    def _resolved_head(self):
        if isinstance(self._head, str):
            raise RuntimeError(
                f"{type(self).__name__} was rebuilt from a config and only knows its "
                f"{self._head_argument} layer by name ({self._head!r}). Call "
                f"`loss.bind(model)` or recompile with "
                f"`{type(self).__name__}({self._head_argument}=model.get_layer({self._head!r}))`."
            )
        return self._head

    def _head_config(self):
        head = self._head
        return head if head is None or isinstance(head, str) else head.name


__all__ = [
    "HeadReference",
    "WeightedLoss",
    "check_inputs",
    "checked_predictions",
    "checked_values",
    "num_classes_of",
    "softmax_cross_entropy",
    "sparse_labels",
]
