"""Whole-model timings of the GPU check (``benchmarks/gpu_check.py``): a training epoch of a
backbone with a method's head and losses, and Grad-CAM over many images.

Both build the model as a run does (``keras_angular.models.build_backbone`` and the method
registry's ``build_method``) and feed it CIFAR-shaped images through the package's own
pipeline (``keras_angular.data.train_dataset``). Imported after the backend is chosen: it
imports Keras.
"""

import math
import time

import keras
import numpy as np
from amc_cnn_epoch import EpochTimer

from keras_angular.data import DatasetSplits, load_dataset, train_dataset
from keras_angular.explain import gradcam
from keras_angular.methods import build_method, targets
from keras_angular.models import build_backbone

#: One CIFAR-10 training epoch: 50,000 images.
CIFAR_TRAIN_IMAGES = 50_000


def cifar_images(path=None, count=64, seed=0):
    """The images the whole-model timings run on: a CIFAR-10 ``.npz`` at ``path`` (read by
    ``keras_angular.data.load_dataset``: ``x, y`` or ``x_train, y_train, x_test, y_test``),
    or, without a path, ``count`` random 32x32x3 images of 10 classes.

    Returns:
        [`DatasetSplits`][keras_angular.data.DatasetSplits].
    """
    if path is not None:
        return load_dataset(path, test_fraction=0.1, seed=seed)
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 1.0, size=(count, 32, 32, 3)).astype("float32")
    y = np.arange(count, dtype="int32") % 10
    names = [str(c) for c in range(10)]
    return DatasetSplits(x, y, x[:10], y[:10], 10, names, "random CIFAR-shaped images")


def build_model(network, method, input_shape, classes):
    """``method``'s head and losses on ``network`` for images of ``input_shape``, uncompiled
    (a ``keras_angular.methods.MethodSetup``)."""
    keras.utils.set_random_seed(0)
    backbone = build_backbone(network, input_shape)
    return build_method(method, backbone, classes, epochs=1)


def epoch_seconds(network, method, splits, *, batch, steps, jit_compile=False):
    """Seconds of one CIFAR-10 training epoch (50,000 images at ``batch``) of ``network``
    with ``method``: ``model.fit`` (Adam, lr 1e-3) on ``splits``' training images, repeated;
    ``steps`` steps are timed from the end of the first one (which traces the step) and
    scaled to the epoch's ``ceil(50,000 / batch)`` steps."""
    if steps < 2:
        raise ValueError(f"gpu_check: `steps` must be >= 2, got {steps}.")
    setup = build_model(network, method, splits.input_shape, splits.num_classes)
    setup.compile(keras.optimizers.Adam(1e-3), jit_compile=jit_compile)
    data = train_dataset(splits, batch, seed=0, drop_remainder=True).repeat()
    data = data.map(lambda x, y: (x, targets(y)))
    timer = EpochTimer()
    setup.model.fit(
        data, epochs=1, steps_per_epoch=steps, verbose=0, callbacks=[timer], shuffle=False
    )
    if not np.isfinite(timer.loss):
        raise FloatingPointError(f"{network} {method}: non-finite loss {timer.loss}")
    per_step = (timer.last - timer.first) / (steps - 1)
    return per_step * math.ceil(CIFAR_TRAIN_IMAGES / batch)


def gradcam_seconds(network, method, images, *, batch, classes=10):
    """Seconds ``keras_angular.explain.gradcam`` takes for all of ``images`` (batches of
    ``batch``) on ``network`` with ``method``'s head (untrained: the cost does not depend on
    the weights), after one untimed call on one batch."""
    model = build_model(network, method, tuple(images.shape[1:]), classes).model
    gradcam(model, images[:batch], batch_size=batch, progress=False)
    start = time.perf_counter()
    maps = gradcam(model, images, batch_size=batch, progress=False)
    seconds = time.perf_counter() - start
    if maps.shape[0] != len(images) or not np.isfinite(maps).all():
        raise FloatingPointError(f"{network} {method}: Grad-CAM gave non-finite maps")
    return seconds
