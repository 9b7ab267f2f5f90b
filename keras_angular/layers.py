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


__all__ = ["CosineDense", "WeightsBiasedDense"]
