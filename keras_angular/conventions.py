"""The two conventions every array in the package follows: class labels and unit vectors.

One definition of each, in code that imports nothing but NumPy, so that the
``keras.ops`` code ([`keras_angular.ops`][], the layers and losses) and the
NumPy code ([`keras_angular.metrics`][], the geometry callbacks) apply the same
rule and the same formula:

* **Labels** are sparse integer class indices, shape ``(batch,)`` or
  ``(batch, 1)``, held in an integer dtype or as integer-valued floats (Keras
  hands every loss its ``y_true`` cast to float32). Every label is ``>= 0`` and,
  where a class count is known, below it. One-hot (or any ``(batch, C > 1)``)
  labels and other ranks are refused with
  [`label_shape_error`][keras_angular.conventions.label_shape_error]'s message - never converted
  silently; pass ``argmax(y, axis=-1)``.
* **Unit vectors**: [`l2_normalize`][keras_angular.conventions.l2_normalize] scales to unit L2 norm
  with the floor [`NORM_EPSILON`][keras_angular.conventions.NORM_EPSILON] under the squared norm, as
  ``tf.math.l2_normalize`` does, so a zero vector stays zero (no NaN, finite gradient).
"""

import numpy as np

NORM_EPSILON = 1e-12
"""Floor under squared norms, as ``tf.math.l2_normalize`` uses: a zero vector
normalises to zero instead of NaN."""

LABELS_EXPECTED = "integer class indices of shape (batch,) or (batch, 1)"
"""What a label array must be, for every message that refuses one."""

LABEL_VALUES_MESSAGE = "every label must be an integer class index, 0 <= label"
"""The start of the message that refuses label values (negative, fractional, too large)."""


def label_shape_error(owner, shape, name="y_true"):
    """The message that refuses a label array of ``shape``, or None when the shape is valid.

    The one shape rule on labels: rank 1, or rank 2 with one column. A rank-2
    array with more columns is named as the likely mistake (one-hot labels).

    Examples:
        >>> label_shape_error("NormFaceLoss", (4, 3))
        'NormFaceLoss: y_true must be integer class indices of shape (batch,) or (batch, 1), got shape (4, 3) - one-hot labels? Pass `argmax(y_true, axis=-1)` instead.'
        >>> label_shape_error("NormFaceLoss", (4, 1)) is None
        True
    """  # noqa: E501
    shape = tuple(shape)
    if len(shape) == 2 and shape[-1] is not None and shape[-1] != 1:
        return (
            f"{owner}: {name} must be {LABELS_EXPECTED}, got shape {shape} - one-hot labels? "
            f"Pass `argmax({name}, axis=-1)` instead."
        )
    if len(shape) not in (1, 2):
        return f"{owner}: {name} must be {LABELS_EXPECTED}, got shape {shape}."
    return None


def _rsqrt(xp, x):
    return xp.rsqrt(x) if hasattr(xp, "rsqrt") else 1.0 / np.sqrt(x)


def inverse_norms(x, axis=-1, keepdims=False, xp=np):
    """``1 / max(||x||, 1e-6)`` along ``axis``: the factor
    [`l2_normalize`][keras_angular.conventions.l2_normalize] scales by.

    ``xp`` is the array namespace: NumPy (the default) or ``keras.ops``.

    Examples:
        >>> inverse_norms(np.array([[3.0, 4.0], [0.0, 0.0]])).round(6).tolist()
        [0.2, 1000000.0]
    """
    squared = xp.sum(xp.square(x), axis=axis, keepdims=keepdims)
    return _rsqrt(xp, xp.maximum(squared, NORM_EPSILON))


def l2_normalize(x, axis=-1, xp=np):
    """Scale ``x`` to unit L2 norm along ``axis``; a zero vector stays zero.

    ``x * rsqrt(max(sum(x**2), 1e-12))`` - the floor of ``tf.math.l2_normalize``,
    so the value and the gradient are finite everywhere. ``xp`` is the array
    namespace: NumPy (the default, arrays in and out) or ``keras.ops``
    ([`keras_angular.ops.l2_normalize`][] calls it so, for tensors).

    Examples:
        >>> l2_normalize(np.array([[3.0, 4.0], [0.0, 0.0]])).tolist()
        [[0.6000000000000001, 0.8], [0.0, 0.0]]
    """
    return x * inverse_norms(x, axis=axis, keepdims=True, xp=xp)


__all__ = [
    "LABELS_EXPECTED",
    "LABEL_VALUES_MESSAGE",
    "NORM_EPSILON",
    "inverse_norms",
    "l2_normalize",
    "label_shape_error",
]
