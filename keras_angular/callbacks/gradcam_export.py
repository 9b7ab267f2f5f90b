"""Grad-CAM grids of a fixed set of images while a model trains.

[`GradCAMExport`][keras_angular.callbacks.GradCAMExport] writes, every ``every`` epochs, the
comparison grid of [`keras_angular.explain.save_grid`][] for the current weights: one row per image,
the image, its Grad-CAM map and the map over the image, titled with the predicted
class and its probability. The files are ``<out_dir>/gradcam/epoch-XXX.png``
(``XXX`` the 1-based epoch), so the maps of one run can be read in order.
"""

import os

import keras
import numpy as np

from keras_angular.checks import check_int, check_range

__all__ = ["GradCAMExport"]


@keras.saving.register_keras_serializable(package="keras_angular")
class GradCAMExport(keras.callbacks.Callback):
    """Every ``every`` epochs, write the Grad-CAM grid of ``images`` to ``out_dir/gradcam``.

    The maps are [`keras_angular.explain.gradcam`][] of each image's predicted class
    (the head's output as the class score; Selvaraju et al. Eq. 1-2), computed in
    inference mode at the end of the epoch; a callback that fixes the batch-norm
    statistics ([`PreciseBatchNorm`][keras_angular.callbacks.PreciseBatchNorm]) should come first
    in the callback list.

    Args:
        images: ``(B, H, W, C)`` images (e.g. a few validation images); not part of
            ``get_config`` (a callback from ``from_config`` needs
            [`set_data`][keras_angular.callbacks.gradcam_export.GradCAMExport.set_data]).
        out_dir: the run's folder; the grids go to ``out_dir/gradcam/epoch-XXX.png``.
        every: write after epochs ``every, 2 * every, ...`` (1-based) and after the
            last epoch.
        labels: optional true classes of ``images`` (shown in the first column).
        class_names: optional names of the class indices.
        method: ``"gradcam"`` or ``"gradcam++"``.
        layer: the layer to explain (default: the last spatial feature map).
        alpha: overlay weight of the heatmap.
        name: the model's name in the cell titles.

    Examples:
        >>> import keras, numpy as np, os, tempfile
        >>> inputs = keras.Input((8, 8, 1))
        >>> x = keras.layers.Conv2D(2, 3, padding="same", activation="relu")(inputs)
        >>> x = keras.layers.GlobalAveragePooling2D()(x)
        >>> model = keras.Model(inputs, keras.layers.Dense(2, name="head")(x))
        >>> model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        >>> images = np.random.default_rng(0).random((4, 8, 8, 1), dtype="float32")
        >>> out = tempfile.mkdtemp()
        >>> _ = model.fit(images, np.array([0, 1, 0, 1]), epochs=2, verbose=0,
        ...               callbacks=[GradCAMExport(images[:2], out, every=2)])
        >>> sorted(os.listdir(os.path.join(out, "gradcam")))
        ['epoch-002.png']
    """

    def __init__(
        self,
        images=None,
        out_dir=".",
        every=1,
        labels=None,
        class_names=None,
        method="gradcam",
        layer=None,
        alpha=0.4,
        name="model",
    ):
        super().__init__()
        from keras_angular.explain import METHODS

        self.out_dir = os.fspath(out_dir)
        self.every = check_int("GradCAMExport", "every", every, 1)
        if method not in METHODS:
            raise ValueError(f"GradCAMExport: `method` must be one of {METHODS}, got {method!r}.")
        self.method = method
        if layer is not None and not isinstance(layer, str):
            raise ValueError(f"GradCAMExport: `layer` must be None or a name, got {layer!r}.")
        self.layer = layer
        self.alpha = check_range("GradCAMExport", "alpha", alpha, 0.0, 1.0)
        self.class_names = None if class_names is None else [str(c) for c in class_names]
        self.name = str(name)
        self.images = None
        self.labels = None
        if images is not None:
            self.set_data(images, labels)
        self.written = []

    def set_data(self, images, labels=None):
        """Set the images (``(B, H, W, C)``, finite) and optional true labels."""
        images = np.asarray(images, dtype=np.float32)
        if images.ndim != 4 or len(images) == 0:
            raise ValueError(
                "GradCAMExport: `images` must have shape (batch, height, width, channels), "
                f"got {images.shape}."
            )
        if not np.all(np.isfinite(images)):
            raise ValueError("GradCAMExport: `images` holds NaN or infinite values.")
        if labels is not None:
            labels = np.asarray(labels).reshape(-1)
            if len(labels) != len(images):
                raise ValueError(f"GradCAMExport: {len(labels)} labels for {len(images)} images.")
        self.images, self.labels = images, labels

    def path(self, epoch):
        """The file of the (0-based) ``epoch``: ``out_dir/gradcam/epoch-XXX.png``, 1-based."""
        return os.path.join(self.out_dir, "gradcam", f"epoch-{epoch + 1:03d}.png")

    def export(self, epoch):
        """Write the grid of the current weights for ``epoch`` (0-based); return the path."""
        from keras_angular import explain

        if self.images is None:
            raise ValueError(
                "GradCAMExport has no images (made by from_config?): call .set_data(images)."
            )
        maps = explain.gradcam(
            self.model, self.images, layer=self.layer, method=self.method, progress=False
        )
        probabilities = explain.class_probabilities(self.model, self.images)
        classes = probabilities.argmax(axis=-1)
        path = self.path(epoch)
        explain.save_grid(
            path,
            self.images,
            {self.name: maps},
            predictions_by_model={self.name: (classes, probabilities.max(axis=-1))},
            class_names=self.class_names,
            labels=self.labels,
            alpha=self.alpha,
            title=f"Grad-CAM, epoch {epoch + 1}",
        )
        self.written.append(path)
        return path

    def on_epoch_end(self, epoch, logs=None):
        last = self.params.get("epochs") if self.params else None
        if (epoch + 1) % self.every == 0 or (last is not None and epoch + 1 == last):
            self.export(epoch)

    def get_config(self):
        return {
            "out_dir": self.out_dir,
            "every": self.every,
            "class_names": self.class_names,
            "method": self.method,
            "layer": self.layer,
            "alpha": self.alpha,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
