"""GradCAMExport writes, at the chosen epochs, the grid of the weights of that epoch."""

import os

import keras
import numpy as np
import pytest

from keras_angular import explain
from keras_angular.callbacks import GradCAMExport


def _model():
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(3, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(2, name="head")(x))
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def test_writes_every_k_epochs_and_the_last(tmp_path):
    images = np.random.default_rng(0).random((16, 8, 8, 1), dtype=np.float32)
    labels = np.arange(16) % 2
    model = _model()
    callback = GradCAMExport(images[:3], tmp_path, every=2, labels=labels[:3], name="m")
    model.fit(images, labels, epochs=3, batch_size=8, verbose=0, callbacks=[callback])
    folder = os.path.join(tmp_path, "gradcam")
    assert sorted(os.listdir(folder)) == ["epoch-002.png", "epoch-003.png"]
    # The last file is the grid of the final weights, drawn the same way by hand.
    maps = explain.gradcam(model, images[:3], progress=False)
    probabilities = explain.class_probabilities(model, images[:3])
    expected = os.path.join(tmp_path, "expected.png")
    explain.save_grid(
        expected,
        images[:3],
        {"m": maps},
        predictions_by_model={"m": (probabilities.argmax(-1), probabilities.max(-1))},
        labels=labels[:3],
        title="Grad-CAM, epoch 3",
    )
    with open(expected, "rb") as a, open(os.path.join(folder, "epoch-003.png"), "rb") as b:
        assert a.read() == b.read()


def test_config_and_bad_arguments(tmp_path):
    callback = GradCAMExport(np.zeros((1, 8, 8, 1)), tmp_path, every=3, method="gradcam++")
    clone = GradCAMExport.from_config(callback.get_config())
    assert clone.get_config() == callback.get_config() and clone.images is None
    with pytest.raises(ValueError, match="set_data"):
        clone.export(0)
    with pytest.raises(ValueError, match="every"):
        GradCAMExport(None, tmp_path, every=0)
    with pytest.raises(ValueError, match="method"):
        GradCAMExport(None, tmp_path, method="cam")
    with pytest.raises(ValueError, match="shape"):
        GradCAMExport(np.zeros((8, 8, 1)), tmp_path)
    with pytest.raises(ValueError, match="labels"):
        GradCAMExport(np.zeros((2, 8, 8, 1)), tmp_path, labels=[0])
