"""The losses of the four papers and their baselines, as ``keras.losses.Loss`` subclasses.

By module, with the ``y_pred`` each reads:

- ``margin``: [`NormFaceLoss`][keras_angular.losses.NormFaceLoss],
  [`CosFaceLoss`][keras_angular.losses.CosFaceLoss],
  [`ArcFaceLoss`][keras_angular.losses.ArcFaceLoss],
  [`SphereFaceLoss`][keras_angular.losses.SphereFaceLoss],
  [`AngularLoss`][keras_angular.losses.AngularLoss] - ``CosineDense`` cosines;
- ``hyperplane``: [`HASeparatorLoss`][keras_angular.losses.HASeparatorLoss] (``head=``) -
  ``CosineDense`` cosines;
- ``weights_biased``: [`WSoftmaxLoss`][keras_angular.losses.WSoftmaxLoss] (``head=``) -
  ``WeightsBiasedDense`` outputs (``form="paper"``) or ``CosineDense`` cosines;
- ``contrastive``: [`AMCLoss`][keras_angular.losses.AMCLoss],
  [`EuclideanContrastiveLoss`][keras_angular.losses.EuclideanContrastiveLoss] (optional
  ``head=``) - the embedding;
- ``center``: [`CenterLoss`][keras_angular.losses.CenterLoss] (``head=`` a ``ClassCenters``
  layer, or ``num_classes``) - the embedding;
- ``partial_fc``: [`PartialFCLoss`][keras_angular.losses.PartialFCLoss] (``head=``): any
  cosine-head loss over a sampled share of the classes (Partial FC) - the embedding.

Each module also exposes the plain function that returns per-sample values
(labels first); every class is that function and its settings over one base,
[`PerSampleLoss`][keras_angular.losses.base.PerSampleLoss]. Every constructor takes its
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
