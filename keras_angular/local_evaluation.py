"""Reading a model trained under a ``keras.distribution`` on one process alone.

Under a ``keras.distribution.DataParallel`` the weights are arrays over every device of
every process: evaluating, predicting or saving such a model is a computation of all
processes together. The weights are replicated, so every process can read them and hold a
copy of the model of its own:

* [`local_copy`][keras_angular.local_evaluation.local_copy]: the model saved and reloaded
  (the [`keras_angular.saving`][] round trip) outside the distribution's scope, with its
  compiled losses and metrics;
* [`LocalValidation`][keras_angular.local_evaluation.LocalValidation]: at the end of each
  epoch of a ``fit`` under the distribution, the copy takes the current weights, its
  batch norms get their precise statistics over the training images (every process uses
  the same images, so these are the statistics over the global data), which go back into
  the distributed model, and the copy is evaluated on the validation data: the epoch's logs
  get the ``val_`` values of a run on one process.
"""

import dataclasses
import os
import shutil
import tempfile

import keras

from keras_angular import distribution
from keras_angular.saving import load_model

__all__ = ["LocalValidation", "local_copy"]


def local_copy(setup):
    """``setup`` (a [`keras_angular.methods.MethodSetup`][]) with a copy of its model that
    lives on this process alone: saved (the weights a ``DataParallel`` replicates on every
    device are readable on every process) and reloaded outside the distribution's scope, so
    that evaluating, saving and exporting it involve no other process.

    Examples:
        >>> from keras_angular.methods import build_method
        >>> from keras_angular.models import mlp
        >>> setup = build_method("softmax", mlp((8, 8, 1), embedding_dim=4), 3, epochs=1)
        >>> copy = local_copy(setup)
        >>> copy.model is setup.model, copy.head.name == setup.head.name
        (False, True)
    """
    folder = tempfile.mkdtemp(prefix="keras_angular_")
    try:
        path = os.path.join(folder, "model.keras")
        setup.model.save(path)
        model = load_model(path)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return dataclasses.replace(setup, model=model, head=model.get_layer(setup.head.name))


class LocalValidation(keras.callbacks.Callback):
    """The validation pass and precise batch norm of a ``fit`` under a
    ``keras.distribution``, on a copy of the model that lives on this process (see the
    module docstring). Put it before the callbacks that read the epoch's ``val_`` logs or
    the batch-norm statistics (a backup).

    Args:
        setup: the [`keras_angular.methods.MethodSetup`][] whose model is trained.
        validation_data: a ``tf.data`` dataset of ``(x, y)`` batches, or None (no
            validation pass).
        precise_bn: a [`keras_angular.callbacks.PreciseBatchNorm`][] to run on the copy
            before it is evaluated, or None.

    Examples:
        >>> import numpy as np, tensorflow as tf
        >>> from keras_angular.methods import build_method, targets
        >>> from keras_angular.models import mlp
        >>> setup = build_method("softmax", mlp((8, 8, 1), embedding_dim=4), 3, epochs=1)
        >>> setup.compile("adam")
        >>> x, y = np.zeros((6, 8, 8, 1), "float32"), np.array([0, 1, 2, 0, 1, 2])
        >>> test = tf.data.Dataset.from_tensor_slices((x, targets(y))).batch(3)
        >>> validation = LocalValidation(setup, test)
        >>> validation.set_model(setup.model)
        >>> logs = {}
        >>> validation.on_epoch_end(0, logs)
        >>> "val_logits_accuracy" in logs
        True
    """

    def __init__(self, setup, validation_data=None, precise_bn=None):
        super().__init__()
        self.setup = setup
        self.validation_data = validation_data
        self.precise_bn = precise_bn
        self._local = None

    def local_model(self):
        """The copy of the trained model, with the current weights and loss weights."""
        if self._local is None:
            self._local = local_copy(self.setup).model
        else:
            self._local.set_weights(self.setup.model.get_weights())
            _copy_loss_weights(self.setup.model, self._local)
        return self._local

    def on_train_begin(self, logs=None):
        self._local = None  # a new fit may have compiled other losses (a second phase)

    def on_epoch_end(self, epoch, logs=None):
        with distribution.no_distribution():
            local = self.local_model()
            if self.precise_bn is not None:
                self.precise_bn.set_model(local)
                if self.precise_bn.recompute():  # the statistics back into the trained model
                    self.setup.model.set_weights(local.get_weights())
            if self.validation_data is not None and logs is not None:
                values = local.evaluate(self.validation_data, verbose=0, return_dict=True)
                logs.update({f"val_{key}": value for key, value in values.items()})


def _copy_loss_weights(source, target):
    """Assign the scalar ``weight`` variables of ``source``'s compiled losses (what a ramp
    changes) to those of ``target``'s."""
    pairs = zip(keras.tree.flatten(source.loss), keras.tree.flatten(target.loss), strict=True)
    for a, b in pairs:
        weight, other = getattr(a, "weight", None), getattr(b, "weight", None)
        if isinstance(weight, keras.Variable) and isinstance(other, keras.Variable):
            other.assign(keras.ops.convert_to_numpy(weight))
