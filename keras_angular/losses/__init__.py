"""The losses of the four papers and their baselines, as ``keras.losses.Loss`` subclasses.

| loss | ``y_pred`` | module |
|---|---|---|
| :class:`NormFaceLoss`, :class:`CosFaceLoss`, :class:`ArcFaceLoss`,
  :class:`SphereFaceLoss`, :class:`AngularLoss` | ``CosineDense`` cosines | ``margin`` |
| :class:`HASeparatorLoss` (``head=``) | ``CosineDense`` cosines | ``hyperplane`` |
| :class:`WSoftmaxLoss` (``head=``) | ``WeightsBiasedDense`` outputs (``form="paper"``) or
  ``CosineDense`` cosines | ``weights_biased`` |
| :class:`AMCLoss`, :class:`EuclideanContrastiveLoss` (optional ``head=``) | the embedding |
  ``contrastive`` |
| :class:`CenterLoss` (``head=`` a ``ClassCenters`` layer, or ``num_classes``) | the
  embedding | ``center`` |
| :class:`PartialFCLoss` (``head=``): any cosine-head loss over a sampled share of the
  classes (Partial FC) | the embedding | ``partial_fc`` |

Each module also exposes the plain function that returns per-sample values
(labels first); every class is that function and its settings over one base,
:class:`~keras_angular.losses.base.PerSampleLoss`. Every constructor takes its
settings first, then ``head=None`` where the loss reads a layer, then
``reduction="sum_over_batch_size", name=..., dtype=None``.
"""

from keras_angular.losses.center import CenterLoss
from keras_angular.losses.contrastive import (
    AMCLoss,
    EuclideanContrastiveLoss,
    amc_loss,
    euclidean_contrastive_loss,
)
from keras_angular.losses.hyperplane import HASeparatorLoss, haseparator_loss
from keras_angular.losses.margin import (
    AngularLoss,
    ArcFaceLoss,
    CosFaceLoss,
    NormFaceLoss,
    SphereFaceLoss,
    angular_loss,
    arcface_loss,
    cosface_loss,
    normface_loss,
    sphereface_loss,
)
from keras_angular.losses.partial_fc import PartialFCLoss
from keras_angular.losses.weights_biased import (
    WSoftmaxLoss,
    weights_biased_angular_logits,
    weights_biased_logits,
    weights_biased_logits_per_sample,
    weights_biased_margins,
    wsoftmax_loss,
)

__all__ = [
    "AMCLoss",
    "AngularLoss",
    "ArcFaceLoss",
    "CenterLoss",
    "CosFaceLoss",
    "EuclideanContrastiveLoss",
    "HASeparatorLoss",
    "NormFaceLoss",
    "PartialFCLoss",
    "SphereFaceLoss",
    "WSoftmaxLoss",
    "amc_loss",
    "angular_loss",
    "arcface_loss",
    "cosface_loss",
    "euclidean_contrastive_loss",
    "haseparator_loss",
    "normface_loss",
    "sphereface_loss",
    "weights_biased_angular_logits",
    "weights_biased_logits",
    "weights_biased_logits_per_sample",
    "weights_biased_margins",
    "wsoftmax_loss",
]
