"""Label-free classification heads.

A head maps an embedding to one score per class and needs no label, so the
training model is the inference model and ``model.export()`` serves it as is.
Label-dependent math (margins, biased negatives, hinges) lives in the losses.

Both heads compute in float32 by default (``dtype="float32"``), also under a
``mixed_float16`` / ``mixed_bfloat16`` policy: angle math in half precision
loses the margin (DESIGN.md), and Keras recommends a float32 output layer
under mixed precision anyway. Pass ``dtype=`` to override.
"""

import keras
from keras import ops

from keras_angular.checks import check_int
from keras_angular.ops import inverse_column_norms, l2_normalize


class _ClassWeightsHead(keras.layers.Layer):
    """Shared build / config of a head with an (in_dim, units) class-weight kernel."""

    def __init__(
        self, units, kernel_initializer="glorot_uniform", kernel_regularizer=None, **kwargs
    ):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.units = check_int(type(self).__name__, "units", units, 1)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.input_spec = keras.layers.InputSpec(min_ndim=2)

    def build(self, input_shape):
        in_dim = input_shape[-1]
        if in_dim is None:
            raise ValueError(
                f"{type(self).__name__} needs a known last input dimension, got {input_shape}."
            )
        self.kernel = self.add_weight(
            name="kernel",
            shape=(in_dim, self.units),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
        )
        self.input_spec = keras.layers.InputSpec(min_ndim=2, axes={-1: in_dim})

    @property
    def unit_kernel(self):
        """The class weights with unit columns, shape (in_dim, units)."""
        return l2_normalize(self.kernel, axis=0)

    def _scores(self, features):
        """``features @ unit_kernel``, computed as ``(features @ kernel) / ||w_j||``.

        Scaling the (B, C) product by the inverse column norms equals multiplying by
        the unit kernel but never materialises an (in_dim, C) normalised copy, which
        saves several passes over the kernel per step (forward and backward).
        """
        kernel = ops.cast(self.kernel, self.compute_dtype)
        return ops.matmul(features, kernel) * inverse_column_norms(kernel)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            kernel_regularizer=keras.regularizers.serialize(self.kernel_regularizer),
        )
        return config


@keras.saving.register_keras_serializable(package="keras_angular")
class CosineDense(_ClassWeightsHead):
    """The "normalized dense" head: ``cos(theta_j) = (x / ||x||) . (w_j / ||w_j||)``.

    Unit features dotted with unit class weights, no bias (NormFace; HASeparator
    Eq. 4 without the scale sigma, which the losses apply). Outputs lie in
    [-1, 1]; a zero feature vector gives all-zero cosines.

    Args:
        units: number of classes C.
        kernel_initializer, kernel_regularizer: for the (in_dim, C) ``kernel``.
        **kwargs: standard ``keras.layers.Layer`` arguments (``name``, ``dtype``).

    Examples:
        >>> import keras, keras_angular, numpy as np
        >>> head = CosineDense(10, name="head")
        >>> head(np.ones((2, 16))).shape
        (2, 10)

    Pair it with ``NormFaceLoss``, ``CosFaceLoss``, ``ArcFaceLoss``,
    ``SphereFaceLoss``, ``AngularLoss`` or ``HASeparatorLoss(head)``.
    """

    def call(self, inputs):
        return self._scores(l2_normalize(ops.cast(inputs, self.compute_dtype), axis=-1))


@keras.saving.register_keras_serializable(package="keras_angular")
class WeightsBiasedDense(_ClassWeightsHead):
    """Unit class weights on raw features: ``y_j = w_j^T x / ||w_j|| = ||x|| cos(theta_j)``.

    The head of W-Softmax (Li & Wang, Eq. 11-13: unit weights, raw features,
    no scale, no bias). Pair it with ``WSoftmaxLoss(head, alpha)``.

    Args:
        units: number of classes C.
        kernel_initializer, kernel_regularizer: for the (in_dim, C) ``kernel``.
        **kwargs: standard ``keras.layers.Layer`` arguments.

    Examples:
        >>> import keras, keras_angular, numpy as np
        >>> head = WeightsBiasedDense(10, name="head")
        >>> head(np.ones((2, 16))).shape
        (2, 10)
    """

    def call(self, inputs):
        return self._scores(ops.cast(inputs, self.compute_dtype))


@keras.saving.register_keras_serializable(package="keras_angular")
class HyperplaneProjection(keras.layers.Layer):
    """Projections of a unit embedding on its class's separating hyperplanes (label-free).

    HASeparator (Kansizoglou et al., Eq. 5-7) as a layer: for each sample with unit
    embedding ``e`` and class ``c`` (the head's predicted class, or one given), the
    signed projections

        p_j = e . (w_c - w_j) / ||w_c - w_j|| = (cos_c - cos_j) / sqrt(2 - 2 w_c . w_j)

    on the normals of the hyperplanes ``cos_c = cos_j`` that separate ``c`` from every
    other class ``j`` (unit class weights ``w``; normal direction as DESIGN.md decides).
    ``p_j`` is the signed distance of ``e`` from that hyperplane: positive on ``c``'s
    side. Its minimum over ``j != c`` is the sample's geometric margin to the nearest
    decision boundary (negative when a given ``c`` is not the predicted class), a
    per-sample confidence that needs no label. The column ``j = c`` (a zero normal)
    is 0.

    The math is :func:`keras_angular.ops.hyperplane_projections` (``"closed"``, O(B*C)
    memory, what :class:`~keras_angular.losses.HASeparatorLoss` trains with) or
    :func:`keras_angular.ops.hyperplane_projections_einsum` (``"einsum"``, the paper's
    B x N x C form).

    Args:
        head: the :class:`CosineDense` or :class:`WeightsBiasedDense` head whose class
            weights define the hyperplanes (shared: the layer has no weights of its own;
            saved with the model, it is restored as the loaded model's own head).
        implementation: ``"closed"`` (default) or ``"einsum"``.
        output: ``"projections"`` (default; ``(B, C)``) or ``"margin"`` (``(B,)``, the
            minimum over ``j != c``).
        **kwargs: standard ``keras.layers.Layer`` arguments.

    Call arguments:
        inputs: ``(B, N)`` embeddings (the head's input).
        classes: optional ``(B,)`` class indices; default the head's argmax.

    Example:
        >>> import keras, numpy as np
        >>> head = CosineDense(3, kernel_initializer="identity", name="head")
        >>> layer = HyperplaneProjection(head, output="margin")
        >>> [round(float(m), 4) for m in layer(np.array([[1.0, 0.0, 0.0]]))]
        [0.7071]
        >>> inputs = keras.Input((8,))
        >>> embedding = keras.layers.Dense(4, name="embedding")(inputs)
        >>> head = CosineDense(10, name="head")
        >>> margin = HyperplaneProjection(head, output="margin")(embedding)
        >>> model = keras.Model(inputs, {"logits": head(embedding), "margin": margin})
        >>> model.output["margin"].shape
        (None,)
    """

    IMPLEMENTATIONS = ("closed", "einsum")
    OUTPUTS = ("projections", "margin")

    def __init__(self, head, implementation="closed", output="projections", **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        if isinstance(head, dict):
            head = keras.saving.deserialize_keras_object(head)
        if not isinstance(head, _ClassWeightsHead):
            raise ValueError(
                "HyperplaneProjection: `head` must be a CosineDense or WeightsBiasedDense "
                f"layer (unit class weights), got {type(head).__name__}."
            )
        if implementation not in self.IMPLEMENTATIONS:
            raise ValueError(
                f"HyperplaneProjection: `implementation` must be one of {self.IMPLEMENTATIONS}, "
                f"got {implementation!r}."
            )
        if output not in self.OUTPUTS:
            raise ValueError(
                f"HyperplaneProjection: `output` must be one of {self.OUTPUTS}, got {output!r}."
            )
        self.head = head
        self.implementation = implementation
        self.output_kind = output

    def build(self, inputs_shape, classes_shape=None):
        if not self.head.built:
            self.head.build(inputs_shape)

    def call(self, inputs, classes=None):
        from keras_angular.ops import (
            checked_labels,
            hyperplane_projections,
            hyperplane_projections_einsum,
        )

        embeddings = ops.cast(inputs, "float32")
        cosines = self.head._scores(l2_normalize(embeddings, axis=-1))
        if classes is None:
            labels = ops.cast(ops.argmax(cosines, axis=-1), "int32")
        else:
            labels, _ = checked_labels(classes, self.head.units, "HyperplaneProjection")
        if self.implementation == "closed":
            projections = hyperplane_projections(labels, cosines, self.head.kernel)
        else:
            projections = hyperplane_projections_einsum(labels, embeddings, self.head.kernel)
        if self.output_kind == "projections":
            return projections
        target = ops.one_hot(labels, self.head.units, dtype="float32")
        return ops.min(ops.where(target > 0, float("inf"), projections), axis=-1)

    def compute_output_shape(self, inputs_shape, classes_shape=None):
        if self.output_kind == "margin":
            return tuple(inputs_shape[:-1])
        return (*inputs_shape[:-1], self.head.units)

    def get_config(self):
        config = super().get_config()
        config.update(
            head=keras.saving.serialize_keras_object(self.head),
            implementation=self.implementation,
            output=self.output_kind,
        )
        return config


__all__ = ["CosineDense", "HyperplaneProjection", "WeightsBiasedDense"]
