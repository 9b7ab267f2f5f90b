"""keras_angular: angular and margin-based discriminative feature learning for Keras 3.

The core (``ops``, ``layers``, ``losses``) is imported eagerly; the heavier
modules (``metrics``, ``plots``, ``data``, ``models``, ``callbacks``, ``methods``,
``explain``, ``cli``) are imported on first attribute access, so
``import keras_angular`` stays cheap::

    import keras_angular as ka
    head = ka.layers.CosineDense(10)
    loss = ka.losses.AngularLoss(scale=4.0)
"""

import importlib

from keras_angular import layers, losses, ops

__version__ = "0.1.0"

_LAZY_MODULES = (
    "callbacks",
    "cli",
    "data",
    "explain",
    "methods",
    "metrics",
    "models",
    "plots",
    "schedules",
)


def __getattr__(name):
    if name in _LAZY_MODULES:
        return importlib.import_module(f"keras_angular.{name}")
    raise AttributeError(f"module 'keras_angular' has no attribute {name!r}")


__all__ = ["layers", "losses", "ops", "__version__", *_LAZY_MODULES]
