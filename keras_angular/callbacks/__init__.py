"""Keras callbacks: the papers' ramp schedules and per-epoch feature geometry.

* [`keras_angular.callbacks.ramps`][] - loss-weight, learning-rate and Adam
  beta_1 ramps over one Gaussian-ramp base.
* [`keras_angular.callbacks.recipe`][] - the whole AMC recipe
  ([`TemporalEnsemblingSchedule`][keras_angular.callbacks.TemporalEnsemblingSchedule], ``RECIPES``,
  [`ema_optimizer`][keras_angular.callbacks.ema_optimizer]).
* [`keras_angular.callbacks.adam_beta_1`][] - Adam's ``beta_1`` as a variable the
  train step reads (what [`AdamBeta1Ramp`][keras_angular.callbacks.AdamBeta1Ramp] assigns).
* [`keras_angular.callbacks.geometry`][] - feature-geometry metrics in the
  Keras logs and angle histograms in TensorBoard.
* [`keras_angular.callbacks.batch_norm`][] - batch-norm population statistics of the
  current weights before every evaluation
  ([`PreciseBatchNorm`][keras_angular.callbacks.PreciseBatchNorm]).
* [`keras_angular.callbacks.gradcam_export`][] - Grad-CAM grids of fixed images every
  few epochs ([`GradCAMExport`][keras_angular.callbacks.GradCAMExport]).
"""

from keras_angular.callbacks.batch_norm import *  # noqa: F403
from keras_angular.callbacks.batch_norm import __all__ as _batch_norm_all
from keras_angular.callbacks.geometry import *  # noqa: F403
from keras_angular.callbacks.geometry import __all__ as _geometry_all
from keras_angular.callbacks.gradcam_export import *  # noqa: F403
from keras_angular.callbacks.gradcam_export import __all__ as _gradcam_export_all
from keras_angular.callbacks.ramps import *  # noqa: F403
from keras_angular.callbacks.ramps import __all__ as _ramps_all
from keras_angular.callbacks.recipe import *  # noqa: F403
from keras_angular.callbacks.recipe import __all__ as _recipe_all

__all__ = [*_ramps_all, *_recipe_all, *_geometry_all, *_batch_norm_all, *_gradcam_export_all]
