"""keras_angular: angular and margin-based discriminative feature learning for Keras 3.

``import keras_angular`` imports the modules whose classes are registered for
Keras serialization (``layers``, ``losses``, ``callbacks``, ``models``), so a
saved ``.keras`` model loads after it (``keras_angular.saving.load_model`` also
binds the losses that read a layer, ready to train on); the others (``data``, ``plots``,
``methods``, ``run_config``, ``training``, ``distribution``, ``report``, ``retrieval``,
``open_set``, ``features``, ``grid``, ``registry_names``, ``explain``, ``reproduce``,
``optimizers``, ``projector``, ``checkpointing``, ``local_evaluation``, ``supervisor``,
``cli``) are imported on first
attribute access. TensorFlow's start-up lines are hidden while it imports
(``keras_angular._startup``; set ``TF_CPP_MIN_LOG_LEVEL``, e.g. to 0, to see them):

```python
import keras_angular as ka
head = ka.layers.CosineDense(10)
loss = ka.losses.AngularLoss(scale=4.0)
```

The ``keras-angular`` command imports none of them (nor Keras) while it reads its
options: ``--help`` and a bad option answer at once; it imports them
(``_import_registered``) once the options are checked.
"""

import importlib

from keras_angular import _startup

__version__ = "0.3.1"

_REGISTERED = (
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
)
"""Imported with the package: the modules whose classes are registered for Keras
serialization, and the small ones they rest on."""

_LAZY_MODULES = (
    "checkpointing",
    "cli",
    "data",
    "distribution",
    "explain",
    "features",
    "grid",
    "local_evaluation",
    "methods",
    "open_set",
    "optimizers",
    "plots",
    "projector",
    "registry_names",
    "report",
    "reproduce",
    "retrieval",
    "run_config",
    "supervisor",
    "training",
)


def _import_registered():
    """Import ``_REGISTERED`` (hence Keras and its backend) inside the quiet start;
    the command's data pipelines are tf.data on every backend, so for the command
    TensorFlow first (on JAX and PyTorch Keras does not import it itself)."""
    with _startup.quiet_import():
        if _startup.is_command():
            importlib.import_module("tensorflow")
        for name in _REGISTERED:
            importlib.import_module(f"keras_angular.{name}")


# The command's --backend option sets KERAS_BACKEND here, before anything imports Keras.
_startup.select_backend()
if not _startup.is_command():
    _import_registered()


def __getattr__(name):
    if name in _LAZY_MODULES or name in _REGISTERED:
        return importlib.import_module(f"keras_angular.{name}")
    raise AttributeError(f"module 'keras_angular' has no attribute {name!r}")


__all__ = ["__version__", *_REGISTERED, *_LAZY_MODULES]
