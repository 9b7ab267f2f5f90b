"""Feature-geometry metrics in the Keras logs, and target-angle histograms in TensorBoard.

Both callbacks follow the package's model convention: the penultimate
embedding layer is named ``"embedding"`` and the classification head (a layer
with a ``kernel`` of shape (D, C), e.g. [`keras_angular.layers.CosineDense`][]
or ``keras.layers.Dense``) is named ``"head"``; both names are arguments. The
model must be a Functional or Sequential model (a sub-model from its inputs to
those layers is built once, at the first evaluated epoch).

* [`GeometryMetrics`][keras_angular.callbacks.GeometryMetrics] adds the Angular paper's W-Inter /
  C-Inter / WC-Intra, HASeparator's pair-angle KL and EMD, AMC's homogeneity /
  completeness and the retrieval / verification scores (precision@1, MAP@R,
  ROC AUC ...) of a held-out set to ``logs`` at the end of chosen epochs, so
  they reach ``History``, ``CSVLogger``, ``TensorBoard`` and the progress bar.
* [`AngleHistograms`][keras_angular.callbacks.AngleHistograms] writes, per class, the histogram of
  the angle between each sample's embedding and its class weight to TensorBoard (the
  Angular paper's Fig. 7).

Keras runs callbacks in list order and ``History`` last, so place these
before ``CSVLogger`` / ``TensorBoard`` in ``callbacks=[...]`` for those to see
the keys. The held-out arrays are not part of ``get_config``: a callback made
by ``from_config`` needs ``set_data`` before training.
"""

import math

import keras
import numpy as np

from keras_angular import metrics

__all__ = ["AngleHistograms", "GeometryMetrics", "class_weights"]


def _layer(model, name, role):
    try:
        return model.get_layer(name)
    except ValueError as error:
        names = [layer.name for layer in model.layers]
        raise ValueError(
            f"{role} layer {name!r} not found in model {model.name!r} (layers: {names}). "
            f"Name the layer {name!r} or pass {role}_layer=... to the callback."
        ) from error


def _geometry_model(model, embedding_layer, head_layer):
    """A sub-model mapping the model inputs to (embedding, head output)."""
    embedding = _layer(model, embedding_layer, "embedding")
    head = _layer(model, head_layer, "head")
    if getattr(head, "kernel", None) is None:
        raise ValueError(
            f"head layer {head_layer!r} ({type(head).__name__}) has no `kernel`; the geometry "
            f"callbacks need class weights of shape (D, C)."
        )
    try:
        inputs = model.inputs
        return keras.Model(inputs, [embedding.output, head.output])
    except (AttributeError, ValueError) as error:
        raise ValueError(
            "the geometry callbacks need a Functional or Sequential model whose layers have "
            f"symbolic outputs ({type(model).__name__} has none: {error}). Build the model "
            "functionally, or call the metrics in keras_angular.metrics yourself."
        ) from error


def class_weights(head, embeddings=None, labels=None):
    """A head layer's (D, C) class weights as a float64 NumPy array, one column per class.

    ``head.class_kernel`` where the head has one, else ``head.kernel``
    (``keras.layers.Dense`` ...): what the geometry metrics read as ``w_j``. For a
    [`keras_angular.layers.CosineDense`][] with sub-centres that is each class's
    dominant sub-centre: counted on ``embeddings`` / ``labels`` when given (the
    sub-centre most of the class's samples pick,
    [`dominant_subcenters`][keras_angular.layers.CosineDense.dominant_subcenters]; nothing is
    stored), else the head's stored ``dominant`` choice.

    Examples:
        >>> import keras
        >>> head = keras.layers.Dense(3)
        >>> head.build((None, 4))
        >>> class_weights(head).shape
        (4, 3)
    """
    if getattr(head, "subcenters", 1) > 1 and embeddings is not None:
        dominant = head.dominant_subcenters(embeddings, labels)
        kernel = np.asarray(keras.ops.convert_to_numpy(head.kernel), dtype=np.float64)
        return kernel[:, np.arange(head.units) * head.subcenters + dominant]
    kernel = getattr(head, "class_kernel", None)
    kernel = head.kernel if kernel is None else kernel
    return np.asarray(keras.ops.convert_to_numpy(kernel), dtype=np.float64)


def _kernel(model, head_layer, embeddings=None, labels=None):
    return class_weights(_layer(model, head_layer, "head"), embeddings, labels)


class _GeometryCallback(keras.callbacks.Callback):
    def __init__(self, x, y, embedding_layer, head_layer, batch_size):
        super().__init__()
        self.embedding_layer = embedding_layer
        self.head_layer = head_layer
        self.batch_size = int(batch_size)
        self._submodel = None
        self.set_data(x, y)

    def set_data(self, x, y):
        """Set the held-out inputs ``x`` and their labels ``y``.

        ``y``: integer class indices of shape (N,) or (N, 1), the package's label
        policy ([`keras_angular.metrics.class_indices`][]); one-hot labels are
        refused with a message that says to pass ``argmax(y, axis=-1)``.
        """
        self.x = x
        self.y = None if y is None else metrics.class_indices(y, owner=type(self).__name__)

    def set_model(self, model):
        super().set_model(model)
        self._submodel = None

    def _require_data(self):
        if self.x is None or self.y is None:
            raise ValueError(
                f"{type(self).__name__} has no data: it was built without x / y (e.g. by "
                f"from_config). Call .set_data(x, y) before training."
            )

    def _embed(self, x):
        if self._submodel is None:
            self._submodel = _geometry_model(self.model, self.embedding_layer, self.head_layer)
        embedding, scores = self._submodel.predict(x, batch_size=self.batch_size, verbose=0)
        embedding = np.asarray(embedding, dtype=np.float64).reshape(len(embedding), -1)
        return embedding, np.asarray(scores)


@keras.saving.register_keras_serializable(package="keras_angular")
class GeometryMetrics(_GeometryCallback):
    """Adds feature-geometry metrics of a held-out set to the epoch ``logs``.

    At the end of every ``every``-th epoch (epochs ``every-1, 2*every-1, ...``
    counting from 0) the embeddings of ``x`` are computed by a sub-model up to
    the layer ``embedding_layer``, the class weights are read from
    ``model.get_layer(head_layer).kernel`` (D, C) - for a sub-centre
    [`keras_angular.layers.CosineDense`][], each class's dominant sub-centre, the one
    most of the class's samples in ``x`` pick
    ([`class_weights`][keras_angular.callbacks.class_weights]) - and these keys
    ([`keras_angular.metrics.GEOMETRY_KEYS`][], from [`keras_angular.metrics.feature_geometry`][]),
    each after ``prefix``, are written into ``logs``:

    * ``w_inter_deg``, ``c_inter_deg``, ``cw_inter_deg``, ``wc_intra_deg`` - degrees,
      [`keras_angular.metrics.angle_statistics`][];
    * ``kl``, ``emd_deg`` - D_KL (nats) and D_EM (degrees) of the positive / negative
      pair-angle histograms, [`keras_angular.metrics.pair_angle_divergence`][];
    * ``homogeneity``, ``completeness`` (k-means on unit embeddings) and
      ``prediction_homogeneity``, ``prediction_completeness`` (argmax of the
      head's output) - [`keras_angular.metrics.clustering_scores`][]; left
      out when ``clustering=False``;
    * the [`keras_angular.metrics.RETRIEVAL_KEYS`][] - ``precision_at_1``,
      ``r_precision``, ``map_at_r`` (leave-one-out retrieval on cosines) and
      ``roc_auc``, ``tar_at_far_1e-3``, ``tar_at_far_1e-4``, ``best_accuracy``
      (pair verification), [`keras_angular.metrics.embedding_scores`][] on at most
      ``retrieval_samples`` samples of ``x`` (a seeded subset: retrieval costs
      O(N^2 D)); left out when ``retrieval=False``.

    On the other epochs the same keys are written as NaN, so ``History`` lists
    stay one value per epoch and ``CSVLogger`` keeps a fixed set of columns.
    With ``prefix="val_"`` Keras' ``TensorBoard`` callback files them under
    validation.

    Args:
        x: held-out inputs (array or anything ``model.predict`` takes that
            yields the samples in the order of ``y``; not a shuffled dataset).
        y: their integer class labels, shape (N,) or (N, 1) (one-hot labels are refused).
        embedding_layer: name of the penultimate embedding layer.
        head_layer: name of the classification head (has ``kernel`` (D, C)).
        every: evaluate every this many epochs.
        prefix: prepended to every key.
        batch_size: batch size of the embedding pass.
        max_pairs: pair budget of [`keras_angular.metrics.pair_angles`][].
        clustering: compute the (slower, k-means) clustering scores.
        retrieval: compute the retrieval and verification scores.
        retrieval_samples: score at most this many samples (default 2,000: well
            under a second per evaluation on a CPU at D = 128).
        seed: seed of the pair sampler, of k-means and of the retrieval subset.

    Examples:
        >>> cb = GeometryMetrics(x_val, y_val, prefix="val_")  # doctest: +SKIP
        >>> model.fit(x, y, epochs=5, callbacks=[cb])  # doctest: +SKIP
        >>> model.history.history["val_wc_intra_deg"]  # doctest: +SKIP
    """

    def __init__(
        self,
        x=None,
        y=None,
        embedding_layer="embedding",
        head_layer="head",
        every=1,
        prefix="",
        batch_size=256,
        max_pairs=metrics.DEFAULT_MAX_PAIRS,
        clustering=True,
        retrieval=True,
        retrieval_samples=2000,
        seed=0,
    ):
        every = int(every)
        if every < 1:
            raise ValueError(f"every must be a positive integer, got {every}.")
        if retrieval_samples is not None and int(retrieval_samples) < 2:
            raise ValueError(f"retrieval_samples must be None or >= 2, got {retrieval_samples}.")
        super().__init__(x, y, embedding_layer, head_layer, batch_size)
        self.every = every
        self.prefix = str(prefix)
        self.max_pairs = int(max_pairs)
        self.clustering = bool(clustering)
        self.retrieval = bool(retrieval)
        self.retrieval_samples = None if retrieval_samples is None else int(retrieval_samples)
        self.seed = int(seed)

    @property
    def keys(self):
        """The log keys this callback writes, with the prefix."""
        keys = metrics.GEOMETRY_KEYS if self.clustering else metrics.GEOMETRY_KEYS[:6]
        if self.retrieval:
            keys = (*keys, *metrics.RETRIEVAL_KEYS)
        return [self.prefix + key for key in keys]

    def compute(self):
        """The metrics of the held-out set under the current weights, unprefixed."""
        self._require_data()
        embedding, scores = self._embed(self.x)
        kernel = _kernel(self.model, self.head_layer, embedding, self.y)
        return metrics.feature_geometry(
            embedding,
            self.y,
            kernel,
            scores.reshape(len(scores), -1),
            max_pairs=self.max_pairs,
            seed=self.seed,
            clustering=self.clustering,
            retrieval=self.retrieval,
            retrieval_samples=self.retrieval_samples,
        )

    def on_train_begin(self, logs=None):
        self._require_data()

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        if (epoch + 1) % self.every == 0:
            result = self.compute()
            for key in self.keys:
                logs[key] = float(result[key[len(self.prefix) :]])
        else:
            for key in self.keys:
                logs[key] = math.nan

    def get_config(self):
        return {
            "embedding_layer": self.embedding_layer,
            "head_layer": self.head_layer,
            "every": self.every,
            "prefix": self.prefix,
            "batch_size": self.batch_size,
            "max_pairs": self.max_pairs,
            "clustering": self.clustering,
            "retrieval": self.retrieval,
            "retrieval_samples": self.retrieval_samples,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="keras_angular")
class AngleHistograms(_GeometryCallback):
    """Per-class histograms of the target angle in TensorBoard (Angular paper Fig. 7).

    The target angle of a sample is the angle between its embedding and its
    class's weight ``w_y`` (a column of the head's kernel),
    [`keras_angular.metrics.target_angles`][], here in degrees. At the end of
    every ``every``-th epoch one TensorBoard histogram per class is written
    to ``log_dir`` under ``"{name}/class_{c}"`` with ``step=epoch``;
    TensorBoard's Histograms / Distributions tabs then show the slices moving
    toward 0 as training proceeds.

    The paper picks 200 random samples of class 0 each epoch; here up to
    ``samples_per_class`` samples of each class in ``classes`` (default: every
    class present in ``y``) are drawn once, with ``seed``, and followed through
    training, so changes between slices come from the model, not the sample.

    Args:
        x, y: held-out inputs (an array, or a list / dict of arrays) and
            integer class labels (one-hot labels are refused).
        log_dir: TensorBoard log directory (a ``tf.summary`` file writer is
            opened there at the start of training; use a subfolder such as
            ``logs/run/angles`` to keep it apart from Keras' TensorBoard).
        embedding_layer, head_layer: layer names, as in
        [`GeometryMetrics`][keras_angular.callbacks.GeometryMetrics]. classes: the class indices to
        follow (default all present). samples_per_class: samples followed per class.
        every: write every this many epochs.
        buckets: histogram buckets.
        name: summary name prefix.
        batch_size: batch size of the embedding pass.
        seed: seed of the sample choice.

    Examples:
        >>> import keras, numpy as np, tempfile
        >>> inputs = keras.Input((2,))
        >>> head = keras.layers.Dense(2, use_bias=False, name="head")
        >>> model = keras.Model(inputs, head(keras.layers.Identity(name="embedding")(inputs)))
        >>> head.set_weights([np.eye(2)])  # w_0 = (1, 0), w_1 = (0, 1)
        >>> log_dir = tempfile.mkdtemp()
        >>> cb = AngleHistograms(np.array([[1.0, 1.0], [0.0, 2.0]]), np.array([0, 1]), log_dir)
        >>> cb.set_model(model)
        >>> theta, labels = cb.angles()  # what each epoch's histograms are made of
        >>> theta.round(4).tolist(), labels.tolist()
        ([45.0, 0.0], [0, 1])
    """

    def __init__(
        self,
        x=None,
        y=None,
        log_dir=None,
        embedding_layer="embedding",
        head_layer="head",
        classes=None,
        samples_per_class=200,
        every=1,
        buckets=30,
        name="target_angle",
        batch_size=256,
        seed=0,
    ):
        every = int(every)
        if every < 1:
            raise ValueError(f"every must be a positive integer, got {every}.")
        if int(samples_per_class) < 1:
            raise ValueError(f"samples_per_class must be >= 1, got {samples_per_class}.")
        if log_dir is None:
            raise ValueError("AngleHistograms needs log_dir, the TensorBoard log directory.")
        self.log_dir = str(log_dir)
        self.classes = None if classes is None else [int(c) for c in classes]
        self.samples_per_class = int(samples_per_class)
        self.every = every
        self.buckets = int(buckets)
        self.name = str(name)
        self.seed = int(seed)
        self._writer = None
        super().__init__(x, y, embedding_layer, head_layer, batch_size)

    def set_data(self, x, y):
        super().set_data(x, y)
        self._selection = None
        if x is None or y is None:
            return
        n = _num_samples(x)
        if len(self.y) != n:
            raise ValueError(f"x has {n} samples but y has {len(self.y)} labels.")
        rng = np.random.default_rng(self.seed)
        classes = np.unique(self.y) if self.classes is None else self.classes
        selection = []
        for c in classes:
            idx = np.flatnonzero(self.y == c)
            if idx.size == 0:
                raise ValueError(f"class {c} has no sample in y.")
            if idx.size > self.samples_per_class:
                idx = np.sort(rng.choice(idx, size=self.samples_per_class, replace=False))
            selection.append(idx)
        self._selection = np.concatenate(selection)

    def on_train_begin(self, logs=None):
        import tensorflow as tf

        self._require_data()
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)

    def angles(self):
        """Target angles (degrees) and labels of the followed samples, current weights."""
        self._require_data()
        idx = self._selection
        x = self.x[idx] if not isinstance(self.x, (list, tuple, dict)) else _take(self.x, idx)
        embedding, _ = self._embed(x)
        kernel = _kernel(self.model, self.head_layer)
        labels = self.y[idx]
        return np.degrees(metrics.target_angles(embedding, labels, kernel)), labels

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        if self._writer is None:
            self.on_train_begin()
        theta, labels = self.angles()
        with self._writer.as_default():
            for c in np.unique(labels):
                write_histogram(
                    f"{self.name}/class_{int(c)}",
                    theta[labels == c],
                    step=epoch,
                    buckets=self.buckets,
                )
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def get_config(self):
        return {
            "log_dir": self.log_dir,
            "embedding_layer": self.embedding_layer,
            "head_layer": self.head_layer,
            "classes": self.classes,
            "samples_per_class": self.samples_per_class,
            "every": self.every,
            "buckets": self.buckets,
            "name": self.name,
            "batch_size": self.batch_size,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def histogram_buckets(data, buckets=30):
    """TensorBoard's histogram tensor of ``data``: rows ``[left, right, count]``, (buckets, 3).

    Equal-width buckets over ``[min, max]`` of the data, the maximum counted in
    the last bucket; a constant sample puts all counts in the first bucket of
    zero width; an empty one gives zeros - the layout the TensorBoard
    histograms plugin reads (as ``tensorboard.summary.histogram`` writes it).
    """
    data = np.asarray(data, dtype=np.float64).reshape(-1)
    buckets = int(buckets)
    if buckets < 1:
        raise ValueError(f"buckets must be >= 1, got {buckets}.")
    out = np.zeros((buckets, 3))
    if data.size == 0:
        return out
    low, high = float(data.min()), float(data.max())
    if low == high:
        out[:, 0] = out[:, 1] = low
        out[0, 2] = data.size
        return out
    counts, edges = np.histogram(data, bins=buckets, range=(low, high))
    out[:, 0], out[:, 1], out[:, 2] = edges[:-1], edges[1:], counts
    return out


def write_histogram(tag, data, step, buckets=30, description=None):
    """Write ``data`` as a TensorBoard histogram to the default ``tf.summary`` writer.

    ``tf.summary.histogram`` lives in the ``tensorboard`` package, which
    TensorFlow no longer installs; this writes the same summary (the
    ``"histograms"`` plugin's ``(buckets, 3)`` tensor,
    [`histogram_buckets`][keras_angular.callbacks.geometry.histogram_buckets]) with
    ``tf.summary.write`` alone, so it works with or without TensorBoard.
    """
    import tensorflow as tf
    from tensorflow.core.framework import summary_pb2

    metadata = summary_pb2.SummaryMetadata(
        summary_description=description or "",
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="histograms"),
    )
    tensor = tf.constant(histogram_buckets(data, buckets), dtype=tf.float64)
    return tf.summary.write(tag=tag, tensor=tensor, step=step, metadata=metadata)


def _num_samples(x):
    if isinstance(x, dict):
        x = next(iter(x.values()))
    elif isinstance(x, (list, tuple)):
        x = x[0]
    if not hasattr(x, "shape"):
        raise ValueError(
            f"AngleHistograms needs x as an array (or a list / dict of arrays), got "
            f"{type(x).__name__}."
        )
    return int(x.shape[0])


def _take(x, idx):
    """Index every array of a multi-input ``x`` (list, tuple or dict of arrays)."""
    if isinstance(x, dict):
        return {key: np.asarray(value)[idx] for key, value in x.items()}
    return type(x)(np.asarray(value)[idx] for value in x)
