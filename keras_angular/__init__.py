"""keras_angular: angular and margin-based discriminative feature learning for Keras 3.

``import keras_angular`` imports the modules whose classes are registered for
Keras serialization (``layers``, ``losses``, ``callbacks``, ``models``), so a
saved ``.keras`` model loads after it (``keras_angular.saving.load_model`` also
binds the losses that read a layer, ready to train on); the others (``data``, ``plots``,
``methods``, ``run_config``, ``training``, ``distribution``, ``report``, ``retrieval``,
``open_set``, ``features``, ``explain``, ``reproduce``, ``cli``) are imported on first
attribute access::

    import keras_angular as ka
    head = ka.layers.CosineDense(10)
    loss = ka.losses.AngularLoss(scale=4.0)
"""

import importlib

from keras_angular import _startup

# The keras-angular command imports this package, hence TensorFlow, before its main()
# runs: its quiet start (TensorFlow's C++ start-up lines hidden unless --verbose) happens
# here. Nothing changes for library users (keras_angular/_startup.py says why and how).
# Its --backend option sets KERAS_BACKEND here too, before Keras is imported.
_startup.select_backend()
with _startup.quiet_import():
    if _startup.is_command():
        # the command's data pipelines are tf.data on every backend: on JAX and PyTorch
        # Keras does not import TensorFlow itself, so import it here, inside the quiet start
        importlib.import_module("tensorflow")
    from keras_angular import (
        backend,
        callbacks,
        checks,
        conventions,
        layers,
        losses,
        metrics,
        models,
        ops,
        saving,
        schedules,
    )

__version__ = "0.2.0"

_LAZY_MODULES = (
    "cli",
    "data",
    "distribution",
    "explain",
    "features",
    "methods",
    "open_set",
    "plots",
    "report",
    "reproduce",
    "retrieval",
    "run_config",
    "training",
)


def __getattr__(name):
    if name in _LAZY_MODULES:
        return importlib.import_module(f"keras_angular.{name}")
    raise AttributeError(f"module 'keras_angular' has no attribute {name!r}")


__all__ = [
    "__version__",
    "backend",
    "callbacks",
    "checks",
    "conventions",
    "layers",
    "losses",
    "metrics",
    "models",
    "ops",
    "saving",
    "schedules",
    *_LAZY_MODULES,
]
