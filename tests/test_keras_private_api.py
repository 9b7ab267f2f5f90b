"""The private Keras attributes keras_angular touches, on real Keras objects.

``keras_angular.backend`` is the one place the package reads or writes a private Keras
attribute (``forget_restored_epoch``, ``producing_operation``, ``optimizer_strategy``).
Each test checks that the attribute is where Keras' source put it, with the value that
source gives it (``keras/src/...`` of the release in
``backend.PRIVATE_API_KERAS_VERSION``), before checking the accessor: a Keras upgrade
that removes or renames one fails here with a message naming the attribute.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from keras_angular import backend  # noqa: E402


def moved(attribute, where):
    """The failure message for a private attribute that is not where it was."""
    return (
        f"Keras {keras.version()}: {attribute} is not {where} as it was in Keras "
        f"{backend.PRIVATE_API_KERAS_VERSION}; update keras_angular/backend.py"
    )


def tiny_model():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.1), loss="mse")
    return model


class StopAfterEpoch(keras.callbacks.Callback):
    """Interrupt ``fit`` after the epoch with index ``epoch`` ends (its backup is saved)."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt("interrupted on purpose")


@pytest.mark.backends
def test_forget_restored_epoch_after_a_backup_and_restore(tmp_path):
    x = np.ones((4, 2), "float32")
    y = np.zeros((4, 1), "float32")
    model = tiny_model()
    # Trainer.__init__: self._initial_epoch = None
    assert getattr(model, "_initial_epoch", "missing") is None, moved(
        "Model._initial_epoch", "None on a new model (Trainer.__init__)"
    )
    backup = str(tmp_path / "backup")
    # two of four epochs run, then the run is interrupted: the backup holds epoch 2
    with pytest.raises(KeyboardInterrupt):
        model.fit(
            x,
            y,
            epochs=4,
            verbose=0,
            callbacks=[keras.callbacks.BackupAndRestore(backup), StopAfterEpoch(1)],
        )
    resumed = tiny_model()
    history = resumed.fit(
        x, y, epochs=4, verbose=0, callbacks=[keras.callbacks.BackupAndRestore(backup)]
    )
    assert len(history.history["loss"]) == 2  # epochs 2 and 3: the resumed run
    # BackupAndRestore.on_train_begin: self.model._initial_epoch = <restored epoch>
    assert getattr(resumed, "_initial_epoch", "missing") == 2, moved(
        "Model._initial_epoch", "the epoch BackupAndRestore restored (2)"
    )
    # left there, it makes the next fit start at epoch 2 of 3: one epoch instead of three
    assert len(resumed.fit(x, y, epochs=3, verbose=0).history["loss"]) == 1
    backend.forget_restored_epoch(resumed)
    assert resumed._initial_epoch is None
    assert len(resumed.fit(x, y, epochs=3, verbose=0).history["loss"]) == 3


@pytest.mark.backends
def test_forget_restored_epoch_refuses_a_model_without_the_attribute():
    model = tiny_model()
    del model._initial_epoch
    with pytest.raises(AttributeError, match="_initial_epoch"):
        backend.forget_restored_epoch(model)


@pytest.mark.backends
def test_producing_operation_of_a_functional_models_tensors():
    inputs = keras.Input((3,))
    hidden = keras.layers.Dense(4, name="hidden")
    scores = keras.layers.Dense(2, activation="softmax", name="scores")
    outputs = scores(hidden(inputs))
    model = keras.Model(inputs, outputs)
    # Node.__init__: tensor._keras_history = KerasHistory(operation, node_index, tensor_index)
    history = getattr(model.outputs[0], "_keras_history", None)
    assert history is not None, moved("KerasTensor._keras_history", "set on a layer's output")
    assert getattr(history, "operation", None) is scores, moved(
        "KerasTensor._keras_history.operation", "the layer that produced the tensor"
    )
    assert backend.producing_operation(model.outputs[0]) is scores
    assert backend.producing_operation(model.layers[1].output) is hidden
    assert isinstance(backend.producing_operation(inputs), keras.layers.InputLayer)


@pytest.mark.backends
def test_optimizer_strategy_without_a_strategy():
    optimizer = keras.optimizers.Adam()
    optimizer.build([keras.Variable(np.zeros(2, "float32"))])
    if backend.name() != "tensorflow":
        # only the TensorFlow backend's optimizer (TFOptimizer) has the attribute
        assert not hasattr(optimizer, "_distribution_strategy")
        assert backend.optimizer_strategy(optimizer) is None
        return
    import tensorflow as tf

    # TFOptimizer.__init__: self._distribution_strategy = tf.distribute.get_strategy()
    assert getattr(optimizer, "_distribution_strategy", None) is tf.distribute.get_strategy(), (
        moved("Optimizer._distribution_strategy", "the default strategy outside any scope")
    )
    assert backend.optimizer_strategy(optimizer) is tf.distribute.get_strategy()


def test_optimizer_strategy_under_a_strategy():
    import tensorflow as tf

    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    with strategy.scope():
        optimizer = keras.optimizers.Adam()
        optimizer.build([keras.Variable(np.zeros(2, "float32"))])
    assert getattr(optimizer, "_distribution_strategy", None) is strategy, moved(
        "Optimizer._distribution_strategy", "the strategy the optimizer was created under"
    )
    assert backend.optimizer_strategy(optimizer) is strategy
    # what the package does with it: a variable created in its scope is mirrored
    with backend.optimizer_strategy(optimizer).scope():
        variable = keras.Variable(0.9, trainable=False)
    assert isinstance(variable.value, tf.distribute.DistributedValues)
