"""Batch-norm population statistics that match the weights: precise BN.

Keras' ``BatchNormalization`` serves inference from moving averages of the batch
statistics, ``moving = momentum * moving + (1 - momentum) * batch`` with
``momentum = 0.99``. After ``t`` steps the initial values (mean 0, variance 1) still
weigh ``0.99^t`` (0.39 after two epochs of 47 steps), and the averages mix statistics
of weights that have since changed. Short runs therefore read their accuracy, angles
and Grad-CAM maps off a network whose inference mode disagrees with its training mode,
even on the training images (the documentation's Training recipes page measures the gap).

Precise BN (Wu & Johnson, "Rethinking 'Batch' in BatchNorm", 2021, Sec. 3; detectron2's
``PreciseBN`` hook) replaces the moving averages by the population statistics of the
current weights, computed over a fixed set of training images before each evaluation:

* [`recompute_batch_norm_statistics`][keras_angular.callbacks.recompute_batch_norm_statistics] runs
  the model once over the images in inference mode, except that every trainable
  ``BatchNormalization`` layer normalises with the statistics of the batch in hand (as in training)
  while accumulating the exact population mean ``E[x]`` and variance ``E[x^2] - E[x]^2`` of its
  input over all images; then it writes them into ``moving_mean`` / ``moving_variance``. Dropout and
  input noise stay off during this pass, so a batch norm placed after dropout (the AMC
  CNNs) gets the statistics it meets at inference, not the inflated variance of
  training mode (Li et al., "Understanding the Disharmony between Dropout and Batch
  Normalization by Variance Shift", CVPR 2019).
* [`PreciseBatchNorm`][keras_angular.callbacks.PreciseBatchNorm] calls it before each validation
  pass inside ``fit``, at the end of an epoch that had none, and at the end of training, so
  ``evaluate``, ``predict``, ``save`` and ``export`` after ``fit`` see statistics of the final
  weights.

Frozen batch norms (``trainable=False``, e.g. a pretrained backbone being fine-tuned)
keep their statistics.
"""

import keras
import numpy as np

__all__ = ["PreciseBatchNorm", "recompute_batch_norm_statistics"]


def _batch_norm_layers(model):
    layers = model._flatten_layers(include_self=False, recursive=True)
    return [
        layer
        for layer in layers
        if isinstance(layer, keras.layers.BatchNormalization) and layer.trainable
    ]


def _images_of(batch):
    return batch[0] if isinstance(batch, (tuple, list)) else batch


def _accumulating_call(layer, sums):
    """``layer.call`` that normalises with the batch's moments and adds them to ``sums``."""

    def call(inputs, training=None, mask=None):
        del training, mask  # images carry no mask; the batch's moments are the point
        x = keras.ops.cast(inputs, "float32")
        axis = layer.axis if layer.axis >= 0 else x.ndim + layer.axis
        reduce = [i for i in range(x.ndim) if i != axis]
        mean, variance = keras.ops.moments(x, axes=reduce)
        count = float(np.prod([x.shape[i] for i in reduce]))
        batch_mean = keras.ops.convert_to_numpy(mean).astype(np.float64)
        batch_variance = keras.ops.convert_to_numpy(variance).astype(np.float64)
        sums["count"] += count
        sums["mean"] += count * batch_mean
        sums["square"] += count * (batch_variance + batch_mean**2)
        outputs = keras.ops.batch_normalization(
            x,
            mean,
            variance,
            axis=axis,
            offset=layer.beta if layer.center else None,
            scale=layer.gamma if layer.scale else None,
            epsilon=layer.epsilon,
        )
        return keras.ops.cast(outputs, layer.compute_dtype)

    return call


def recompute_batch_norm_statistics(model, images, batch_size=256):
    """Set every trainable batch norm's moving statistics to its population statistics.

    Args:
        model: a built Keras model (any kind: Functional, Sequential, subclassed, nested).
        images: the inputs to compute them over: an array ``(N, ...)`` or a
            ``tf.data.Dataset`` / iterable of batches (``x`` or ``(x, y, ...)``). Use
            un-augmented training images: the statistics are the ones inference will see.
        batch_size: images per forward pass for arrays. Each batch is normalised with its
            own moments during the pass, as in training (Wu & Johnson 2021, Sec. 3), so
            very small batches make later layers' statistics noisier; 64 or more is safe.

    Returns:
        The number of batch-norm layers updated.

    Raises:
        ValueError: no images.

    Examples:
        >>> import numpy as np, keras
        >>> from keras_angular.callbacks import recompute_batch_norm_statistics
        >>> model = keras.Sequential([keras.Input((3,)), keras.layers.BatchNormalization()])
        >>> x = np.array([[1.0, 2.0, 3.0], [3.0, 6.0, 9.0]], "float32")
        >>> recompute_batch_norm_statistics(model, x)
        1
        >>> bn = model.layers[0]
        >>> bn.moving_mean.numpy().tolist(), bn.moving_variance.numpy().tolist()
        ([2.0, 4.0, 6.0], [1.0, 4.0, 9.0])
    """
    layers = _batch_norm_layers(model)
    if not layers:
        return 0
    if isinstance(images, np.ndarray) or hasattr(images, "shape"):
        if len(images) == 0:
            raise ValueError("recompute_batch_norm_statistics: `images` is empty.")
        batches = (images[i : i + batch_size] for i in range(0, len(images), batch_size))
    else:
        batches = (_images_of(batch) for batch in images)
    sums = {id(layer): {"count": 0.0, "mean": 0.0, "square": 0.0} for layer in layers}
    for layer in layers:
        layer.call = _accumulating_call(layer, sums[id(layer)])
    try:
        for batch in batches:
            model(batch, training=False)
    finally:
        for layer in layers:
            del layer.call  # back to the class's own call
    for layer in layers:
        total = sums[id(layer)]
        if not total["count"]:
            raise ValueError("recompute_batch_norm_statistics: `images` yielded no batch.")
        mean = total["mean"] / total["count"]
        variance = np.maximum(total["square"] / total["count"] - mean**2, 0.0)
        layer.moving_mean.assign(mean.astype(np.float32))
        layer.moving_variance.assign(variance.astype(np.float32))
    return len(layers)


@keras.saving.register_keras_serializable(package="keras_angular")
class PreciseBatchNorm(keras.callbacks.Callback):
    """Recompute the batch norms' population statistics whenever the model is read.

    Runs
    [`recompute_batch_norm_statistics`][keras_angular.callbacks.recompute_batch_norm_statistics]
    over a fixed, seeded sample of ``num_samples`` of ``images`` before each validation pass of
    ``fit``, at the end of every epoch that had no validation pass (so callbacks placed after this
    one, e.g. [`GeometryMetrics`][keras_angular.callbacks.GeometryMetrics], read the current
    statistics) and at the end of training (after Keras has swapped in EMA weights, if the optimizer
    keeps them). Put it first in ``callbacks=[...]``.

    The moving averages that Keras' batch norm keeps during training are overwritten,
    so its ``momentum`` no longer matters for inference.

    Args:
        images: training images, an array ``(N, ...)``, without augmentation. May be
            None when the callback is made by ``from_config``; call
            [`set_data`][keras_angular.callbacks.batch_norm.PreciseBatchNorm.set_data].
        num_samples: images used per recomputation (a seeded subset, the same each
            time; all when there are fewer). Wu & Johnson (2021, Fig. 4) find a few
            thousand samples enough for the population statistics; 4096 costs about
            one forward pass over 4,096 images per epoch.
        batch_size: images per forward pass.
        seed: seeds the subset.

    Examples:
        >>> import numpy as np, keras
        >>> from keras_angular.callbacks import PreciseBatchNorm
        >>> x = np.random.default_rng(0).normal(3.0, 2.0, (256, 4)).astype("float32")
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.BatchNormalization(),
        ...                           keras.layers.Dense(1)])
        >>> model.compile("sgd", "mse")
        >>> _ = model.fit(x, x[:, :1], epochs=1, verbose=0, callbacks=[PreciseBatchNorm(x)])
        >>> bool(np.allclose(model.layers[0].moving_mean.numpy(), x.mean(0), atol=1e-5))
        True
    """

    def __init__(self, images=None, num_samples=4096, batch_size=256, seed=0):
        super().__init__()
        if int(num_samples) < 1 or int(batch_size) < 1:
            raise ValueError(
                "PreciseBatchNorm: `num_samples` and `batch_size` must be >= 1, got "
                f"{num_samples} and {batch_size}."
            )
        self.num_samples = int(num_samples)
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.images = None
        self._stale = False
        if images is not None:
            self.set_data(images)

    def set_data(self, images):
        """Use a seeded subset of ``images`` (an array ``(N, ...)``) from now on."""
        images = np.asarray(images)
        if len(images) == 0:
            raise ValueError("PreciseBatchNorm: `images` is empty.")
        if len(images) > self.num_samples:
            rng = np.random.default_rng(self.seed)
            images = images[np.sort(rng.choice(len(images), self.num_samples, replace=False))]
        self.images = images

    def _require_images(self):
        if self.images is None:
            raise ValueError("PreciseBatchNorm has no images; call set_data(images) first.")

    def recompute(self):
        """Recompute now; returns the number of batch-norm layers updated."""
        self._require_images()
        self._stale = False
        return recompute_batch_norm_statistics(self.model, self.images, self.batch_size)

    def on_train_begin(self, logs=None):
        self._require_images()  # before training, not after the first epoch

    def on_epoch_begin(self, epoch, logs=None):
        self._stale = True

    def on_test_begin(self, logs=None):
        if self._stale:
            self.recompute()

    def on_epoch_end(self, epoch, logs=None):
        if self._stale:
            self.recompute()

    def on_train_end(self, logs=None):
        self.recompute()

    def get_config(self):
        return {"num_samples": self.num_samples, "batch_size": self.batch_size, "seed": self.seed}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
