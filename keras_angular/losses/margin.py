"""Softmax losses over scaled cosines with a margin on the target class.

All take ``y_pred`` = the (B, C) cosines of a :class:`keras_angular.layers.CosineDense`
head and integer labels. They differ only in the target logit ``f(cos_y)``;
the other logits are ``scale * cos_j`` (except :class:`AngularLoss`, whose every
logit is an angle). Only the B target cosines go through an arccos.

| loss | target logit | paper |
|---|---|---|
| NormFace   | ``s cos(theta_y)``                      | Wang et al. 2017, Angular paper Eq. 3 |
| CosFace    | ``s (cos(theta_y) - m)``                | Wang et al. 2018 (LMCL) |
| ArcFace    | ``s cos(theta_y + m)``                  | Deng et al. 2019, Angular paper Eq. 4 |
| SphereFace | ``s psi(theta_y)``, integer m           | Liu et al. 2017 (A-Softmax) |
| Angular    | ``s (pi - theta_j)`` for every class j  | Wu & Wang, Eq. 7 as fixed in DESIGN.md |
"""

import math

import keras
from keras import ops

from keras_angular.checks import check_int, check_positive, check_range
from keras_angular.losses.base import checked_values, softmax_cross_entropy
from keras_angular.ops import safe_acos, sparse_labels


def margin_logits(y_true, cosines, scale, target_fn):
    """``scale * cos`` with the target column replaced by ``scale * target_fn(cos_y)``.

    Returns ``(logits, labels)``; ``target_fn`` maps the (B,) float32 target
    cosines to the (B,) target values.
    """
    labels = sparse_labels(y_true)
    cosines = ops.cast(cosines, "float32")
    # Gather the B target cosines and scatter the B new targets back: no (B, C)
    # one-hot mask, compare or select, in the forward pass or the backward pass.
    target = target_fn(ops.take_along_axis(cosines, labels[:, None], axis=1)[:, 0])
    positions = ops.stack([ops.arange(ops.shape(labels)[0], dtype="int32"), labels], axis=1)
    return ops.scatter_update(scale * cosines, positions, scale * target), labels


def normface_loss(y_true, cosines, scale=16.0):
    """Per-sample NormFace loss: cross-entropy over ``scale * cos(theta_j)``."""
    logits, labels = margin_logits(y_true, cosines, scale, lambda cos_y: cos_y)
    return softmax_cross_entropy(labels, logits)


def cosface_loss(y_true, cosines, scale=30.0, margin=0.35):
    """Per-sample CosFace (LMCL) loss: target logit ``scale * (cos(theta_y) - margin)``."""
    logits, labels = margin_logits(y_true, cosines, scale, lambda cos_y: cos_y - margin)
    return softmax_cross_entropy(labels, logits)


def arcface_target(cos_y, margin, easy_margin=False):
    """ArcFace's target value ``cos(theta_y + m)`` with its two usual fallbacks.

    ``cos(theta + m)`` stops decreasing once ``theta + m > pi``; there
    (``cos_y < cos(pi - m)``) the target becomes ``cos_y - m sin(m)``, which
    keeps the logit monotonic in theta. With ``easy_margin`` the margin is
    applied only where ``cos_y > 0`` and the target is ``cos_y`` elsewhere.
    """
    with_margin = ops.cos(safe_acos(cos_y) + margin)
    if easy_margin:
        return ops.where(cos_y > 0.0, with_margin, cos_y)
    return ops.where(
        cos_y > math.cos(math.pi - margin), with_margin, cos_y - margin * math.sin(margin)
    )


def arcface_loss(y_true, cosines, scale=30.0, margin=0.5, easy_margin=False):
    """Per-sample ArcFace loss (Angular paper Eq. 4): target logit ``s cos(theta_y + m)``."""
    logits, labels = margin_logits(
        y_true, cosines, scale, lambda cos_y: arcface_target(cos_y, margin, easy_margin)
    )
    return softmax_cross_entropy(labels, logits)


def sphereface_target(cos_y, margin):
    """A-Softmax's ``psi(theta) = (-1)^k cos(m theta) - 2k`` for theta in [k pi/m, (k+1) pi/m].

    ``psi`` is monotonically decreasing on [0, pi] and equals ``cos(m theta)``
    on the first interval (Liu et al. 2017, Eq. 7).
    """
    theta = safe_acos(cos_y)
    k = ops.clip(ops.floor(theta * margin / math.pi), 0.0, margin - 1.0)
    sign = 1.0 - 2.0 * ops.mod(k, 2.0)
    return sign * ops.cos(margin * theta) - 2.0 * k


def sphereface_loss(y_true, cosines, scale=16.0, margin=4):
    """Per-sample SphereFace loss on unit features: target logit ``s psi(theta_y)``."""
    logits, labels = margin_logits(
        y_true, cosines, scale, lambda cos_y: sphereface_target(cos_y, float(margin))
    )
    return softmax_cross_entropy(labels, logits)


def angular_loss(y_true, cosines, scale=4.0):
    """Per-sample Angular ("Arc") loss: cross-entropy over ``s (pi - theta_j)``.

    Wu & Wang Eq. 7 with the term lost in extraction restored (DESIGN.md): the
    logit's gradient with respect to the angle is the constant ``-s`` (Eq. 10).
    """
    labels = sparse_labels(y_true)
    logits = scale * (math.pi - safe_acos(ops.cast(cosines, "float32")))
    return softmax_cross_entropy(labels, logits)


class _CosineMarginLoss(keras.losses.Loss):
    """Shared constructor and config of the cosine-logit losses."""

    def __init__(self, scale, name, reduction, dtype):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.scale = check_positive(type(self).__name__, "scale", scale)

    def _checked(self, loss_fn, y_true, y_pred, *args):
        """:func:`~keras_angular.losses.base.checked_values` under this loss's name."""
        return checked_values(type(self).__name__, loss_fn, y_true, y_pred, *args)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


@keras.saving.register_keras_serializable(package="keras_angular")
class NormFaceLoss(_CosineMarginLoss):
    """NormFace: ``L = -log softmax(s cos(theta))_y`` (Angular paper Eq. 3).

    Args:
        scale: the logit scale ``s`` (> 0).
        name, reduction, dtype: as for ``keras.losses.Loss``.

    Example:
        >>> import keras, keras_angular, numpy as np
        >>> cos = np.array([[0.9, 0.1], [0.2, 0.7]], "float32")
        >>> round(float(NormFaceLoss(scale=16.0)(np.array([0, 1]), cos)), 4)
        0.0002
    """

    def __init__(
        self, scale=16.0, name="normface_loss", reduction="sum_over_batch_size", dtype=None
    ):
        super().__init__(scale, name, reduction, dtype)

    def call(self, y_true, y_pred):
        return self._checked(normface_loss, y_true, y_pred, self.scale)


@keras.saving.register_keras_serializable(package="keras_angular")
class CosFaceLoss(_CosineMarginLoss):
    """CosFace / LMCL: logits ``s (cos(theta_j) - m [j = y])``.

    Args:
        scale: logit scale ``s`` (> 0).
        margin: additive cosine margin ``m`` in [0, 2].

    Example:
        >>> import keras, keras_angular, numpy as np
        >>> cos = np.array([[0.9, 0.1]], "float32")
        >>> loss = CosFaceLoss(scale=30.0, margin=0.35)(np.array([0]), cos)
    """

    def __init__(
        self,
        scale=30.0,
        margin=0.35,
        name="cosface_loss",
        reduction="sum_over_batch_size",
        dtype=None,
    ):
        super().__init__(scale, name, reduction, dtype)
        self.margin = check_range(type(self).__name__, "margin", margin, 0.0, 2.0)

    def call(self, y_true, y_pred):
        return self._checked(cosface_loss, y_true, y_pred, self.scale, self.margin)

    def get_config(self):
        return {**super().get_config(), "margin": self.margin}


@keras.saving.register_keras_serializable(package="keras_angular")
class ArcFaceLoss(_CosineMarginLoss):
    """ArcFace: target logit ``s cos(theta_y + m)`` (Angular paper Eq. 4, Deng et al.).

    Where ``theta_y + m > pi`` the target logit falls back to
    ``s (cos(theta_y) - m sin(m))`` so it stays monotonic in the angle; with
    ``easy_margin=True`` the margin applies only where ``cos(theta_y) > 0``.

    Args:
        scale: logit scale ``s`` (> 0).
        margin: additive angular margin ``m`` in radians, in [0, pi/2].
        easy_margin: see above.

    Example:
        >>> import keras, keras_angular, numpy as np
        >>> cos = np.array([[0.9, 0.1]], "float32")
        >>> loss = ArcFaceLoss(scale=30.0, margin=0.5)(np.array([0]), cos)
    """

    def __init__(
        self,
        scale=30.0,
        margin=0.5,
        easy_margin=False,
        name="arcface_loss",
        reduction="sum_over_batch_size",
        dtype=None,
    ):
        super().__init__(scale, name, reduction, dtype)
        self.margin = check_range(type(self).__name__, "margin", margin, 0.0, math.pi / 2)
        self.easy_margin = bool(easy_margin)

    def call(self, y_true, y_pred):
        return self._checked(
            arcface_loss, y_true, y_pred, self.scale, self.margin, self.easy_margin
        )

    def get_config(self):
        return {**super().get_config(), "margin": self.margin, "easy_margin": self.easy_margin}


@keras.saving.register_keras_serializable(package="keras_angular")
class SphereFaceLoss(_CosineMarginLoss):
    """SphereFace (A-Softmax) on unit features: target logit ``s psi(theta_y)``.

    ``psi(theta) = (-1)^k cos(m theta) - 2k`` on ``[k pi/m, (k+1) pi/m]``
    (Liu et al. 2017, Eq. 7); a baseline of the Angular paper.

    Args:
        scale: logit scale ``s`` (> 0).
        margin: the integer multiplicative angular margin ``m`` in 1..8 (1 is NormFace).

    Example:
        >>> import keras, keras_angular, numpy as np
        >>> cos = np.array([[0.9, 0.1]], "float32")
        >>> loss = SphereFaceLoss(scale=16.0, margin=4)(np.array([0]), cos)
    """

    def __init__(
        self,
        scale=16.0,
        margin=4,
        name="sphereface_loss",
        reduction="sum_over_batch_size",
        dtype=None,
    ):
        super().__init__(scale, name, reduction, dtype)
        self.margin = check_int(type(self).__name__, "margin", margin, 1, 8)

    def call(self, y_true, y_pred):
        return self._checked(sphereface_loss, y_true, y_pred, self.scale, self.margin)

    def get_config(self):
        return {**super().get_config(), "margin": self.margin}


@keras.saving.register_keras_serializable(package="keras_angular")
class AngularLoss(_CosineMarginLoss):
    """Wu & Wang's angular "Arc" loss: cross-entropy over ``s (pi - theta_j)``.

    ``theta_j = arccos(cos_j)`` for every class; ``dZ/dtheta = -s`` is constant
    (Eq. 10), so intra-class angles keep shrinking where softmax's gradient
    vanishes. Eq. 7 in the paper's text lost the ``pi -`` (DESIGN.md); with
    ``theta_y = 0, theta_j = pi/2`` it gives Sec. 3.2's ``P(y) = e^{s pi} / (e^{s pi} +
    (C-1) e^{s pi/2})``. The paper asks for ``s > 3``.

    Args:
        scale: ``s`` (> 0).

    Example:
        >>> import keras, keras_angular, numpy as np
        >>> cos = np.array([[0.9, 0.1]], "float32")
        >>> loss = AngularLoss(scale=4.0)(np.array([0]), cos)
    """

    def __init__(self, scale=4.0, name="angular_loss", reduction="sum_over_batch_size", dtype=None):
        super().__init__(scale, name, reduction, dtype)

    def call(self, y_true, y_pred):
        return self._checked(angular_loss, y_true, y_pred, self.scale)


__all__ = [
    "AngularLoss",
    "ArcFaceLoss",
    "CosFaceLoss",
    "NormFaceLoss",
    "SphereFaceLoss",
    "angular_loss",
    "arcface_loss",
    "arcface_target",
    "cosface_loss",
    "margin_logits",
    "normface_loss",
    "sphereface_loss",
    "sphereface_target",
]
