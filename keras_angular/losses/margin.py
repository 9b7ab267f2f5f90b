"""Softmax losses over scaled cosines with a margin on the target class.

All take ``y_pred`` = the (B, C) cosines of a [`keras_angular.layers.CosineDense`][]
head and integer labels. They differ only in the target logit ``f(cos_y)``;
the other logits are ``scale * cos_j`` (except [`AngularLoss`][keras_angular.losses.AngularLoss],
whose every logit is an angle). Only the B target cosines go through an arccos.

| loss | target logit | paper |
|---|---|---|
| NormFace   | ``s cos(theta_y)``                      | Wang et al. 2017, Angular paper Eq. 3 |
| CosFace    | ``s (cos(theta_y) - m)``                | Wang et al. 2018 (LMCL), Eq. 4 |
| ArcFace    | ``s cos(theta_y + m)``                  | Deng et al. 2019, Angular paper Eq. 4 |
| SphereFace | ``s psi(theta_y)``, integer m           | Liu et al. 2017 (A-Softmax) |
| Angular    | ``s (pi - theta_j)`` for every class j  | Wu & Wang, Eq. 7, ``pi -`` restored |
"""

import math

import keras
from keras import ops

from keras_angular.checks import check_int, check_positive, check_range
from keras_angular.losses.base import PerSampleLoss, softmax_cross_entropy
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
    """Per-sample NormFace loss: cross-entropy over ``scale * cos(theta_j)``.

    Examples:
        >>> import numpy as np
        >>> cos = np.array([[0.5, 0.5]], "float32")  # equal logits: log 2
        >>> print(round(float(normface_loss(np.array([0]), cos)[0]), 4))
        0.6931
    """
    logits, labels = margin_logits(y_true, cosines, scale, lambda cos_y: cos_y)
    return softmax_cross_entropy(labels, logits)


def cosface_loss(y_true, cosines, scale=64.0, margin=0.35):
    """Per-sample CosFace (LMCL) loss: target logit ``scale * (cos(theta_y) - margin)``.

    Examples:
        >>> import numpy as np
        >>> cos = np.array([[0.6, 0.25]], "float32")  # 0.6 - 0.35 = 0.25: log 2
        >>> print(round(float(cosface_loss(np.array([0]), cos)[0]), 4))
        0.6931
    """
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


def arcface_loss(y_true, cosines, scale=64.0, margin=0.5, easy_margin=False):
    """Per-sample ArcFace loss (Angular paper Eq. 4): target logit ``s cos(theta_y + m)``.

    Examples:
        >>> import numpy as np
        >>> m = float(np.arccos(0.8))  # cos(2 theta) = 2 * 0.8**2 - 1 = 0.28
        >>> cos = np.array([[0.8, 0.28]], "float32")
        >>> print(round(float(arcface_loss(np.array([0]), cos, margin=m)[0]), 4))
        0.6931
    """
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
    """Per-sample SphereFace loss on unit features: target logit ``s psi(theta_y)``.

    Examples:
        >>> import numpy as np
        >>> cos = np.array([[0.8, 0.28]], "float32")  # cos(2 theta) = 0.28: log 2
        >>> print(round(float(sphereface_loss(np.array([0]), cos, margin=2)[0]), 4))
        0.6931
    """
    logits, labels = margin_logits(
        y_true, cosines, scale, lambda cos_y: sphereface_target(cos_y, float(margin))
    )
    return softmax_cross_entropy(labels, logits)


def angular_loss(y_true, cosines, scale=4.0):
    """Per-sample Angular ("Arc") loss: cross-entropy over ``s (pi - theta_j)``.

    Wu & Wang Eq. 7 with the ``pi -`` lost in extraction restored (Sec. 3.2's
    ``P(y)`` and Eq. 10 require it): the logit's gradient with respect to the angle
    is the constant ``-s`` (Eq. 10).

    Examples:
        >>> import numpy as np
        >>> cos = np.array([[0.5, -0.5]], "float32")  # 60 and 120 degrees
        >>> loss = angular_loss(np.array([0]), cos)  # log(1 + exp(-4 pi / 3))
        >>> print(round(float(loss[0]), 5))
        0.01505
    """
    labels = sparse_labels(y_true)
    logits = scale * (math.pi - safe_acos(ops.cast(cosines, "float32")))
    return softmax_cross_entropy(labels, logits)


def _scale(owner, scale):
    return check_positive(owner, "scale", scale)


@keras.saving.register_keras_serializable(package="keras_angular")
class NormFaceLoss(PerSampleLoss):
    """NormFace: cross-entropy over the scaled cosines of a ``CosineDense`` head.

    Formula (Angular paper Eq. 3; Wang et al. 2017):

    ```text
    loss = -log( e^{s cos(theta_y)} / sum_j e^{s cos(theta_j)} )
    ```

    Args:
        scale: the logit scale ``s`` (> 0). Default 16.0: NormFace learns ``s``
            or fixes it per task and the Angular paper states none, so 16 is this
            package's choice (enough for a softmax to reach ~1 on 10 classes).
        reduction, name, dtype: as for ``keras.losses.Loss``; default name
            ``"normface_loss"``.

    Examples:
        >>> import numpy as np
        >>> cos = np.array([[0.9, 0.1], [0.2, 0.7]], "float32")
        >>> print(round(float(NormFaceLoss()(np.array([0, 1]), cos)), 6))
        0.000169

    Reference: Wang, Xiang, Cheng, Yuille, "NormFace: L2 hypersphere embedding for
    face verification", ACM MM 2017.
    """

    def __init__(
        self, scale=16.0, reduction="sum_over_batch_size", name="normface_loss", dtype=None
    ):
        owner = type(self).__name__
        super().__init__(normface_loss, reduction, name, dtype, scale=_scale(owner, scale))


@keras.saving.register_keras_serializable(package="keras_angular")
class CosFaceLoss(PerSampleLoss):
    """CosFace / LMCL: an additive cosine margin on the target logit.

    Formula (Wang et al. 2018, Eq. 4):

    ```text
    z_j = s (cos(theta_j) - m [j = y]),   loss = -log softmax(z)_y
    ```

    Args:
        scale: the logit scale ``s`` (> 0). Default 64.0, the CosFace paper's.
        margin: the cosine margin ``m`` in [0, 2]. Default 0.35, the CosFace paper's.
        reduction, name, dtype: as for ``keras.losses.Loss``; default name
            ``"cosface_loss"``.

    The registry's ``cosface`` method trains with s = 16, m = 0.2
    ([`keras_angular.methods.REGISTRY_OVERRIDES`][]).

    Examples:
        >>> import numpy as np
        >>> cos = np.array([[0.9, 0.1]], "float32")
        >>> print(round(float(CosFaceLoss()(np.array([0]), cos)), 6))
        0.0

    Reference: Wang et al., "CosFace: Large margin cosine loss for deep face
    recognition", CVPR 2018.
    """

    def __init__(
        self,
        scale=64.0,
        margin=0.35,
        reduction="sum_over_batch_size",
        name="cosface_loss",
        dtype=None,
    ):
        owner = type(self).__name__
        super().__init__(
            cosface_loss,
            reduction,
            name,
            dtype,
            scale=_scale(owner, scale),
            margin=check_range(owner, "margin", margin, 0.0, 2.0),
        )


@keras.saving.register_keras_serializable(package="keras_angular")
class ArcFaceLoss(PerSampleLoss):
    """ArcFace: an additive angular margin on the target angle.

    Formula (Angular paper Eq. 4; Deng et al. 2019, Eq. 3):

    ```text
    z_y = s cos(theta_y + m),   z_j = s cos(theta_j),   loss = -log softmax(z)_y
    ```

    Where ``theta_y + m > pi`` the target logit falls back to
    ``s (cos(theta_y) - m sin(m))``, which stays monotonic in the angle; with
    ``easy_margin=True`` the margin applies only where ``cos(theta_y) > 0``.

    Args:
        scale: the logit scale ``s`` (> 0). Default 64.0, the ArcFace paper's
            (the Angular paper uses Eq. 4 without stating s or m).
        margin: the angular margin ``m`` in radians, in [0, pi/2]. Default 0.5,
            the ArcFace paper's.
        easy_margin: see above. Default False.
        reduction, name, dtype: as for ``keras.losses.Loss``; default name
            ``"arcface_loss"``.

    The registry's ``arcface`` method trains with s = 16, m = 0.3
    ([`keras_angular.methods.REGISTRY_OVERRIDES`][]).

    Examples:
        >>> import numpy as np
        >>> cos = np.array([[0.9, 0.1]], "float32")
        >>> print(round(float(ArcFaceLoss(scale=16.0)(np.array([0]), cos)), 6))
        0.000456

    Reference: Deng, Guo, Xue, Zafeiriou, "ArcFace: Additive angular margin loss
    for deep face recognition", CVPR 2019.
    """

    def __init__(
        self,
        scale=64.0,
        margin=0.5,
        easy_margin=False,
        reduction="sum_over_batch_size",
        name="arcface_loss",
        dtype=None,
    ):
        owner = type(self).__name__
        super().__init__(
            arcface_loss,
            reduction,
            name,
            dtype,
            scale=_scale(owner, scale),
            margin=check_range(owner, "margin", margin, 0.0, math.pi / 2),
            easy_margin=bool(easy_margin),
        )


@keras.saving.register_keras_serializable(package="keras_angular")
class SphereFaceLoss(PerSampleLoss):
    """SphereFace (A-Softmax) on unit features: a multiplicative angular margin.

    Formula (Liu et al. 2017, Eq. 7, with unit features and a scale):

    ```text
    z_y = s psi(theta_y),   psi(theta) = (-1)^k cos(m theta) - 2k
    on [k pi/m, (k+1) pi/m],   z_j = s cos(theta_j),   loss = -log softmax(z)_y
    ```

    A baseline of the Angular paper.

    Args:
        scale: the logit scale ``s`` (> 0). Default 16.0: SphereFace scales by
            the feature norm instead, so on unit features ``s`` is this
            package's choice, as for [`NormFaceLoss`][keras_angular.losses.NormFaceLoss].
        margin: the integer margin ``m`` in 1..8 (1 is NormFace). Default 4,
            the SphereFace paper's.
        reduction, name, dtype: as for ``keras.losses.Loss``; default name
            ``"sphereface_loss"``.

    The registry's ``sphereface`` method trains with m = 2
    ([`keras_angular.methods.REGISTRY_OVERRIDES`][]).

    Examples:
        >>> import numpy as np
        >>> cos = np.array([[0.9, 0.1]], "float32")
        >>> print(round(float(SphereFaceLoss()(np.array([0]), cos)), 6))
        5.304186

    Reference: Liu et al., "SphereFace: Deep hypersphere embedding for face
    recognition", CVPR 2017.
    """

    def __init__(
        self,
        scale=16.0,
        margin=4,
        reduction="sum_over_batch_size",
        name="sphereface_loss",
        dtype=None,
    ):
        owner = type(self).__name__
        super().__init__(
            sphereface_loss,
            reduction,
            name,
            dtype,
            scale=_scale(owner, scale),
            margin=check_int(owner, "margin", margin, 1, 8),
        )


@keras.saving.register_keras_serializable(package="keras_angular")
class AngularLoss(PerSampleLoss):
    """Wu & Wang's angular "Arc" loss: cross-entropy over the scaled angles.

    Formula (Wu & Wang, Eq. 7 with the ``pi -`` lost in extraction restored, as
    Sec. 3.2 and Eq. 10 require):

    ```text
    z_j = s (pi - theta_j),   theta_j = arccos(cos_j),   loss = -log softmax(z)_y
    ```

    ``dZ/dtheta = -s`` is constant (Eq. 10), so intra-class angles keep
    shrinking where softmax's gradient vanishes; with ``theta_y = 0, theta_j =
    pi/2`` it gives Sec. 3.2's ``P(y) = e^{s pi} / (e^{s pi} + (C-1) e^{s pi/2})``.

    Args:
        scale: ``s`` (> 0). Default 4.0: the paper compares s = 1, 3, 5, 7, 12, 20
            (Fig. 5) and fixes none; 4 is this package's choice among them.
        reduction, name, dtype: as for ``keras.losses.Loss``; default name
            ``"angular_loss"``.

    Examples:
        >>> import numpy as np
        >>> cos = np.array([[0.9, 0.1]], "float32")
        >>> print(round(float(AngularLoss()(np.array([0]), cos)), 6))
        0.016793

    Reference: Wu & Wang, "Angular learning: Toward discriminative embedded
    features" (published as ArcGrad, IJCNN 2020).
    """

    def __init__(self, scale=4.0, reduction="sum_over_batch_size", name="angular_loss", dtype=None):
        owner = type(self).__name__
        super().__init__(angular_loss, reduction, name, dtype, scale=_scale(owner, scale))


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
