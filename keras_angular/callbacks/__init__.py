"""Keras callbacks: the papers' ramp schedules and per-epoch feature geometry.

* :mod:`keras_angular.callbacks.ramps` - loss-weight, learning-rate and Adam
  beta_1 ramps, and the whole AMC recipe (:class:`TemporalEnsemblingSchedule`).
* :mod:`keras_angular.callbacks.geometry` - feature-geometry metrics in the
  Keras logs and angle histograms in TensorBoard.
* :mod:`keras_angular.callbacks.batch_norm` - batch-norm population statistics of the
  current weights before every evaluation (:class:`PreciseBatchNorm`).
"""

from keras_angular.callbacks.batch_norm import *  # noqa: F403
from keras_angular.callbacks.batch_norm import __all__ as _batch_norm_all
from keras_angular.callbacks.geometry import *  # noqa: F403
from keras_angular.callbacks.geometry import __all__ as _geometry_all
from keras_angular.callbacks.ramps import *  # noqa: F403
from keras_angular.callbacks.ramps import __all__ as _ramps_all

__all__ = [*_ramps_all, *_geometry_all, *_batch_norm_all]
