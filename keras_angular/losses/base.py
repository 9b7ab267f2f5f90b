"""The one base of every loss of the package, in the spirit of Keras' ``LossFunctionWrapper``.

A loss class hands [`PerSampleLoss`][keras_angular.losses.base.PerSampleLoss] its per-sample
function and its (already checked) settings; the base supplies ``call`` (one entry check, then the
function), ``get_config`` / ``from_config``, the optional rampable ``weight``
and the optional ``head`` layer the loss reads.
"""

import warnings

import keras
from keras import ops

from keras_angular.backend import keep_variable_reads_before_updates
from keras_angular.checks import check_prediction_shape, check_range
from keras_angular.ops import as_tensor, checked_labels, nan_where_invalid


def softmax_cross_entropy(labels, logits):
    """Per-sample ``-log softmax(logits)[label]`` in float32 (labels: (B,) ints)."""
    return ops.sparse_categorical_crossentropy(
        labels, ops.cast(logits, "float32"), from_logits=True
    )


class PerSampleLoss(keras.losses.Loss):
    """A per-sample loss function and its settings as a ``keras.losses.Loss``.

    Subclasses pass ``fn`` - ``fn(labels, y_pred, **settings)`` returning (B,)
    values, plus ``kernel=head.kernel`` for a loss that reads its head's class
    weights - and declare how they read their inputs in class attributes:

    * ``y_pred_layout``: what ``y_pred``'s two axes are, in messages only;
    * ``y_pred_holds_class_scores``: True (the default) when ``y_pred``'s last axis
      holds one score per class (it then bounds the labels, and
      [`PartialFCLoss`][keras_angular.losses.PartialFCLoss] can wrap the loss); False for a loss
      on the embedding;
    * ``head_types``: the layer types ``head`` may be (empty: the loss reads no layer);
    * ``reads_head_kernel``: the head's kernel goes to ``fn`` as ``kernel=``; its
      ``units`` bound the labels and must equal ``y_pred``'s last axis;
    * ``labels_from_head``: the head is optional, and when given its argmax on
      ``y_pred`` gives the labels (``y_true`` unread).

    A loss with a head that does neither ([`CenterLoss`][keras_angular.losses.CenterLoss],
    whose head holds the class centres) uses the head itself in ``compute``.

    A subclass written for 0.1.0 that declares ``head_role = "kernel"`` or ``"labels"``
    still works: the string sets ``reads_head_kernel`` or ``labels_from_head``, with a
    ``DeprecationWarning``.

    Labels are checked by [`keras_angular.ops.checked_labels`][] (the package's
    label policy), bounded by the head's ``units``, a ``num_classes`` setting, or
    ``y_pred``'s last axis when it holds class scores; every message starts with
    the loss's class name.

    A loss given ``weight`` holds it as a scalar float32 ``keras.Variable`` that
    scales every value: what [`keras_angular.callbacks.LossWeightRamp`][]
    assigns, without recompiling the train step on TensorFlow and PyTorch. On JAX a
    compiled step bakes in the value it read when it was traced (the variable is the
    loss's, not the model's): the ramp traces the steps again when the weight changes;
    after assigning it yourself, call
    [`keras_angular.backend.refresh_compiled_steps`][] ``(model)``.

    The head is saved by name (``get_config``). Keras rebuilds a compiled
    model's losses from their configs before it can hand them the model, so a
    loss rebuilt by ``keras.saving.load_model`` knows its head only by name;
    [`keras_angular.saving.load_model`][] loads and binds it
    ([`bind`][keras_angular.losses.base.PerSampleLoss.bind]) before any train step exists, so
    ``fit`` just works.
    """

    y_pred_layout = "(batch, num_classes)"
    y_pred_holds_class_scores = True
    head_types = ()
    reads_head_kernel = False
    labels_from_head = False
    _head = None

    _HEAD_ROLES = {"kernel": "reads_head_kernel", "labels": "labels_from_head"}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        role = cls.__dict__.get("head_role")
        if role is None:
            return
        if role not in cls._HEAD_ROLES:
            raise TypeError(
                f"{cls.__name__}: `head_role` must be one of {sorted(cls._HEAD_ROLES)}, got "
                f"{role!r}; set the class attribute `reads_head_kernel` or `labels_from_head`."
            )
        flag = cls._HEAD_ROLES[role]
        warnings.warn(
            f"{cls.__name__}: `head_role = {role!r}` is deprecated since keras-angular 0.2.0; "
            f"set `{flag} = True` instead.",
            DeprecationWarning,
            stacklevel=2,
        )
        setattr(cls, flag, True)

    def __init__(
        self,
        fn,
        reduction="sum_over_batch_size",
        name=None,
        dtype=None,
        *,
        head=None,
        weight=None,
        **settings,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.fn = fn
        self._settings = settings
        for key, value in settings.items():
            setattr(self, key, value)
        self.weight = None
        if weight is not None:
            check_range(type(self).__name__, "weight", weight, 0.0, float("inf"))
            self.weight = keras.Variable(
                float(weight), dtype="float32", trainable=False, name=f"{self.name}_weight"
            )
        if self.head_types:
            self._set_head(head)

    # ------------------------------------------------------------------ the head
    def _set_head(self, head):
        owner = type(self).__name__
        if head is None and self.labels_from_head:
            self._head = None
        elif isinstance(head, str):  # a layer name (from get_config), resolved by `bind`
            self._head = head
        elif not isinstance(head, self.head_types):
            wanted = " or ".join(t.__name__ for t in self.head_types)
            raise TypeError(
                f"{owner}: `head` must be a {wanted} layer (the layer whose output this loss "
                f"receives), got {type(head).__name__}."
            )
        elif self.reads_head_kernel and getattr(head, "subcenters", 1) > 1:
            raise ValueError(
                f"{owner} reads one weight per class from its head's kernel; {head.name!r} "
                f"has {head.subcenters} sub-centres per class. Use a head with "
                "subcenters=1, or a loss that reads only the cosines (NormFace, CosFace, "
                "ArcFace, SphereFace, Angular)."
            )
        else:
            self._head = head
            keep_variable_reads_before_updates()

    @property
    def head(self):
        """The head layer, or None; a head known only by name raises ``RuntimeError``."""
        if isinstance(self._head, str):
            raise RuntimeError(
                f"{type(self).__name__} was rebuilt from a config and knows its head layer "
                f"only by name ({self._head!r}). Load the model with "
                f"`keras_angular.saving.load_model(path)`, or call `loss.bind(model)` "
                f"before the first `fit`."
            )
        return self._head

    def bind(self, model):
        """Resolve a head known by name to ``model.get_layer(name)``; returns ``self``.

        What [`keras_angular.saving.load_model`][] calls on every loss it loads;
        call it yourself on a loss rebuilt from a config outside that loader,
        before the first ``fit``.
        """
        if isinstance(self._head, str):
            self._set_head(model.get_layer(self._head))
        return self

    # ------------------------------------------------------------------ the step
    def _label_bound(self, y_pred):
        if "num_classes" in self._settings:
            return self._settings["num_classes"]
        if self.reads_head_kernel:
            return self.head.units
        if self.y_pred_holds_class_scores:
            static = y_pred.shape[-1]
            return static if static is not None else ops.shape(y_pred)[-1]
        return None

    def check_inputs(self, y_true, y_pred):
        """The one entry check: ``(labels, valid, y_pred)`` as tensors, or a clear error.

        ``y_pred`` must have rank 2 (and, for a loss reading its head's kernel,
        the head's ``units`` classes); ``y_true`` follows the label policy
        ([`keras_angular.ops.checked_labels`][]; ``valid`` flags a bad label
        under XLA). The head of a ``labels_from_head`` loss replaces ``y_true`` by its
        argmax on ``y_pred`` (no gradient); ``valid`` is then None.
        """
        owner = type(self).__name__
        units = self.head.units if self.reads_head_kernel else None
        check_prediction_shape(owner, y_true, y_pred, self.y_pred_layout, units)
        y_pred = as_tensor(y_pred)
        if self.labels_from_head and self.head is not None:
            scores = ops.stop_gradient(self.head(y_pred))
            return ops.cast(ops.argmax(scores, axis=-1), "int32"), None, y_pred
        labels, valid = checked_labels(y_true, self._label_bound(y_pred), owner)
        return labels, valid, y_pred

    def compute(self, labels, y_pred, valid):
        """The per-sample values of checked inputs: ``fn(labels, y_pred, **settings)``."""
        kwargs = dict(self._settings)
        if self.reads_head_kernel:
            kwargs["kernel"] = self.head.kernel
        return self.fn(labels, y_pred, **kwargs)

    def call(self, y_true, y_pred):
        labels, valid, y_pred = self.check_inputs(y_true, y_pred)
        values = self.compute(labels, y_pred, valid)
        if self.weight is not None:
            values = self.weight * values
        return values if valid is None else nan_where_invalid(values, valid)

    # ------------------------------------------------------------------ config
    def get_config(self):
        config = {**super().get_config(), **self._settings}
        if self.weight is not None:
            config["weight"] = float(ops.convert_to_numpy(self.weight))
        if self.head_types:
            head = self._head
            config["head"] = head if head is None or isinstance(head, str) else head.name
        return config


__all__ = ["PerSampleLoss", "softmax_cross_entropy"]
