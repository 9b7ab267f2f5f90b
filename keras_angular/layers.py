"""Label-free classification heads, and the class-centre state of the center loss.

A head maps an embedding to one score per class and needs no label, so the
training model is the inference model and ``model.export()`` serves it as is.
Label-dependent math (margins, biased negatives, hinges) lives in the losses.

Both heads compute in float32 by default (``dtype="float32"``), also under a
``mixed_float16`` / ``mixed_bfloat16`` policy: angle math in half precision
loses the margin (the cosine just below 1 is 0.9995 in float16 and 0.996 in bfloat16,
angles of 1.8 and 5.1 degrees, as large as a margin), and Keras recommends a float32
output layer under mixed precision anyway. Pass ``dtype=`` to override.
"""

import keras
import numpy as np
from keras import ops

from keras_angular.checks import check_int
from keras_angular.ops import l2_normalize, unit_column_matmul


class _ClassWeightsHead(keras.layers.Layer):
    """Shared build / config of a head with an (in_dim, units * subcenters) kernel."""

    subcenters = 1

    def __init__(
        self, units, kernel_initializer="glorot_uniform", kernel_regularizer=None, **kwargs
    ):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.units = check_int(type(self).__name__, "units", units, 1)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.input_spec = keras.layers.InputSpec(min_ndim=2)

    def build(self, input_shape):
        in_dim = input_shape[-1]
        if in_dim is None:
            raise ValueError(
                f"{type(self).__name__} needs a known last input dimension, got {input_shape}."
            )
        self.kernel = self.add_weight(
            name="kernel",
            shape=(in_dim, self.units * self.subcenters),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
        )
        self.input_spec = keras.layers.InputSpec(min_ndim=2, axes={-1: in_dim})

    @property
    def unit_kernel(self):
        """The class weights with unit columns, shape (in_dim, units * subcenters)."""
        return l2_normalize(self.kernel, axis=0)

    @property
    def class_kernel(self):
        """One weight per class, shape (in_dim, units): the kernel itself here; a
        [`CosineDense`][keras_angular.layers.CosineDense] with sub-centres gives each class's
        dominant sub-centre."""
        return self.kernel

    def _scores(self, features):
        """``features @ unit_kernel``, computed as ``(features @ kernel) / ||w_j||``
        ([`keras_angular.ops.unit_column_matmul`][]).

        Scaling the (B, C) product by the inverse column norms equals multiplying by
        the unit kernel but never materialises an (in_dim, C) normalised copy, and its
        written-out gradient saves several passes over the kernel per step.
        """
        return unit_column_matmul(features, ops.cast(self.kernel, self.compute_dtype))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            kernel_regularizer=keras.regularizers.serialize(self.kernel_regularizer),
        )
        return config


@keras.saving.register_keras_serializable(package="keras_angular")
class CosineDense(_ClassWeightsHead):
    """The "normalized dense" head: ``cos(theta_j) = (x / ||x||) . (w_j / ||w_j||)``.

    Unit features dotted with unit class weights, no bias (NormFace; HASeparator
    Eq. 4 without the scale sigma, which the losses apply). Outputs lie in
    [-1, 1]; a zero feature vector gives all-zero cosines.

    **Sub-centres** (Deng et al., "Sub-center ArcFace", ECCV 2020, Eq. 1-2): with
    ``subcenters=K`` each class j holds K weights ``w_{j,1..K}`` (kernel columns
    ``j*K .. j*K + K - 1`` of an (in_dim, units * K) kernel) and its output is the
    largest of their cosines, ``cos(theta_j) = max_k (x / ||x||) . (w_{j,k} / ||w_{j,k}||)``,
    so a class's clean samples gather at one (the dominant) sub-centre and noisy ones
    may sit at another. The output keeps shape (..., units), so every loss that reads
    only the cosines (NormFace, CosFace, ArcFace, SphereFace, Angular) applies its
    margin to the max, as Eq. 2 does; the gradient reaches the winning sub-centre only.
    ``K = 1`` is the plain head, computed by the same code.

    The dominant sub-centre of each class - the one most of the class's samples pick
    (Deng et al. Sec. 3.2) - is counted on data by
    [`dominant_subcenters`][keras_angular.layers.CosineDense.dominant_subcenters] and kept by
    [`set_dominant_subcenters`][keras_angular.layers.CosineDense.set_dominant_subcenters] in the
    non-trainable ``dominant`` weight (saved with the model; sub-centre 0 until first counted);
    [`class_kernel`][keras_angular.layers.CosineDense.class_kernel] returns those columns, the
    (in_dim, units) class weights the geometry metrics read.

    Args:
        units: number of classes C.
        subcenters: sub-centres per class K (an int >= 1, default 1).
        kernel_initializer, kernel_regularizer: for the (in_dim, C * K) ``kernel``.
        **kwargs: standard ``keras.layers.Layer`` arguments (``name``, ``dtype``).

    Examples:
        >>> import keras, keras_angular, numpy as np
        >>> head = CosineDense(10, name="head")
        >>> tuple(head(np.ones((2, 16))).shape)
        (2, 10)
        >>> head = CosineDense(10, subcenters=3)
        >>> tuple(head(np.ones((2, 16))).shape), tuple(head.kernel.shape)
        ((2, 10), (16, 30))
        >>> tuple(head.class_kernel.shape)
        (16, 10)

    Pair it with ``NormFaceLoss``, ``CosFaceLoss``, ``ArcFaceLoss``,
    ``SphereFaceLoss``, ``AngularLoss`` or ``HASeparatorLoss(head)`` (the latter, which
    reads the kernel, only with ``subcenters=1``).
    """

    def __init__(
        self,
        units,
        subcenters=1,
        kernel_initializer="glorot_uniform",
        kernel_regularizer=None,
        **kwargs,
    ):
        self.subcenters = check_int(type(self).__name__, "subcenters", subcenters, 1)
        super().__init__(units, kernel_initializer, kernel_regularizer, **kwargs)

    def build(self, input_shape):
        super().build(input_shape)
        if self.subcenters > 1:
            self.dominant = self.add_weight(
                name="dominant",
                shape=(self.units,),
                initializer="zeros",
                dtype="int32",
                trainable=False,
            )

    def call(self, inputs):
        scores = self._scores(l2_normalize(ops.cast(inputs, self.compute_dtype), axis=-1))
        if self.subcenters == 1:
            return scores
        leading = ops.shape(scores)[:-1]
        grouped = ops.reshape(scores, (*leading, self.units, self.subcenters))
        return ops.max(grouped, axis=-1)  # Eq. 1: the closest sub-centre of each class

    @property
    def class_kernel(self):
        """(in_dim, units): each class's dominant sub-centre (column ``j*K + dominant[j]``);
        the kernel itself when ``subcenters=1``."""
        if self.subcenters == 1:
            return self.kernel
        columns = ops.arange(self.units, dtype="int32") * self.subcenters + self.dominant
        return ops.take(self.kernel, columns, axis=1)

    def dominant_subcenters(self, embeddings, labels):
        """Each class's dominant sub-centre on data: the one most of its samples pick.

        A sample of class j picks ``argmax_k cos(x, w_{j,k})``; the dominant
        sub-centre of j is the most picked (ties: the lower index; a class with no
        sample keeps its current ``dominant`` value). NumPy, for (N, in_dim)
        ``embeddings`` and (N,) integer ``labels`` in ``[0, units)``.

        Returns:
            (units,) int array.
        """
        from keras_angular.features import class_indices  # NumPy only; features sits beside

        x = np.asarray(embeddings, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.kernel.shape[0]:
            raise ValueError(
                f"{type(self).__name__}: embeddings must have shape (N, {self.kernel.shape[0]}), "
                f"got {x.shape}."
            )
        y = class_indices(labels, x.shape[0], self.units, owner=type(self).__name__)
        current = (
            np.zeros(self.units, np.int64)
            if self.subcenters == 1
            else np.asarray(ops.convert_to_numpy(self.dominant), dtype=np.int64)
        )
        kernel = np.asarray(ops.convert_to_numpy(self.kernel), dtype=np.float64)
        kernel = kernel / np.maximum(np.linalg.norm(kernel, axis=0), 1e-12)
        kernel = kernel.reshape(kernel.shape[0], self.units, self.subcenters)
        picked = np.empty(len(y), dtype=np.int64)
        for start in range(0, len(y), 4096):  # (D, 4096, K) at a time
            rows = slice(start, start + 4096)
            cosines = np.einsum("nd,dnk->nk", x[rows], kernel[:, y[rows], :])  # |x|: moot
            picked[rows] = np.argmax(cosines, axis=1)
        counts = np.zeros((self.units, self.subcenters), dtype=np.int64)
        np.add.at(counts, (y, picked), 1)
        return np.where(counts.sum(axis=1) > 0, np.argmax(counts, axis=1), current)

    def set_dominant_subcenters(self, embeddings, labels):
        """Count [`dominant_subcenters`][keras_angular.layers.CosineDense.dominant_subcenters] on
        ``embeddings`` / ``labels`` and keep them (what
        [`class_kernel`][keras_angular.layers.CosineDense.class_kernel] reads); returns them. No-op
        count for ``subcenters=1``."""
        dominant = self.dominant_subcenters(embeddings, labels)
        if self.subcenters > 1:
            self.dominant.assign(dominant.astype("int32"))
        return dominant

    def get_config(self):
        config = super().get_config()
        if self.subcenters > 1:
            config["subcenters"] = self.subcenters
        return config


@keras.saving.register_keras_serializable(package="keras_angular")
class WeightsBiasedDense(_ClassWeightsHead):
    """Unit class weights on raw features: ``y_j = w_j^T x / ||w_j|| = ||x|| cos(theta_j)``.

    The head of W-Softmax (Li & Wang, Eq. 11-13: unit weights, raw features,
    no scale, no bias). Pair it with ``WSoftmaxLoss(head, alpha)``.

    Args:
        units: number of classes C.
        kernel_initializer, kernel_regularizer: for the (in_dim, C) ``kernel``.
        **kwargs: standard ``keras.layers.Layer`` arguments.

    Examples:
        >>> import keras, keras_angular, numpy as np
        >>> head = WeightsBiasedDense(10, name="head")
        >>> tuple(head(np.ones((2, 16))).shape)
        (2, 10)
    """

    def call(self, inputs):
        return self._scores(ops.cast(inputs, self.compute_dtype))


@keras.saving.register_keras_serializable(package="keras_angular")
class HyperplaneProjection(keras.layers.Layer):
    """Projections of a unit embedding on its class's separating hyperplanes (label-free).

    HASeparator (Kansizoglou et al., Eq. 5-7) as a layer: for each sample with unit
    embedding ``e`` and class ``c`` (the head's predicted class, or one given), the
    signed projections

        p_j = e . (w_c - w_j) / ||w_c - w_j|| = (cos_c - cos_j) / sqrt(2 - 2 w_c . w_j)

    on the normals of the hyperplanes ``cos_c = cos_j`` that separate ``c`` from every
    other class ``j`` (unit class weights ``w``; the normal points from ``j`` to ``c``, as
    the paper's Sec. III-A and Fig. 2 need, where its Eq. 5 prints the opposite sign).
    ``p_j`` is the signed distance of ``e`` from that hyperplane: positive on ``c``'s
    side. Its minimum over ``j != c`` is the sample's geometric margin to the nearest
    decision boundary (negative when a given ``c`` is not the predicted class), a
    per-sample confidence that needs no label. The column ``j = c`` (a zero normal)
    is 0.

    The math is [`keras_angular.ops.hyperplane_projections`][] (``"closed"``, O(B*C)
    memory, what [`HASeparatorLoss`][keras_angular.losses.HASeparatorLoss] trains with) or
    [`keras_angular.ops.hyperplane_projections_einsum`][] (``"einsum"``, the paper's
    B x N x C form).

    Args:
        head: the [`CosineDense`][keras_angular.layers.CosineDense] or
            [`WeightsBiasedDense`][keras_angular.layers.WeightsBiasedDense] head whose class weights
            define the hyperplanes (shared: the layer has no weights of its own; saved with the
            model, it is restored as the loaded model's own head).
        implementation: ``"closed"`` (default) or ``"einsum"``.
        output: ``"projections"`` (default; ``(B, C)``) or ``"margin"`` (``(B,)``, the
            minimum over ``j != c``).
        **kwargs: standard ``keras.layers.Layer`` arguments.

    Call arguments:
        inputs: ``(B, N)`` embeddings (the head's input).
        classes: optional ``(B,)`` class indices; default the head's argmax.

    Examples:
        >>> import keras, numpy as np
        >>> head = CosineDense(3, kernel_initializer="identity", name="head")
        >>> layer = HyperplaneProjection(head, output="margin")
        >>> [round(float(m), 4) for m in layer(np.array([[1.0, 0.0, 0.0]]))]
        [0.7071]
        >>> inputs = keras.Input((8,))
        >>> embedding = keras.layers.Dense(4, name="embedding")(inputs)
        >>> head = CosineDense(10, name="head")
        >>> margin = HyperplaneProjection(head, output="margin")(embedding)
        >>> model = keras.Model(inputs, {"logits": head(embedding), "margin": margin})
        >>> model.output["margin"].shape
        (None,)
    """

    IMPLEMENTATIONS = ("closed", "einsum")
    OUTPUTS = ("projections", "margin")

    def __init__(self, head, implementation="closed", output="projections", **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        if isinstance(head, dict):
            head = keras.saving.deserialize_keras_object(head)
        if not isinstance(head, _ClassWeightsHead):
            raise ValueError(
                "HyperplaneProjection: `head` must be a CosineDense or WeightsBiasedDense "
                f"layer (unit class weights), got {type(head).__name__}."
            )
        if head.subcenters > 1:
            raise ValueError(
                f"HyperplaneProjection: the head {head.name!r} has {head.subcenters} "
                "sub-centres per class, and a class's separating hyperplanes are defined for "
                "one weight per class: use a head with subcenters=1."
            )
        if implementation not in self.IMPLEMENTATIONS:
            raise ValueError(
                f"HyperplaneProjection: `implementation` must be one of {self.IMPLEMENTATIONS}, "
                f"got {implementation!r}."
            )
        if output not in self.OUTPUTS:
            raise ValueError(
                f"HyperplaneProjection: `output` must be one of {self.OUTPUTS}, got {output!r}."
            )
        self.head = head
        self.implementation = implementation
        self.output_kind = output

    def build(self, inputs_shape, classes_shape=None):
        if not self.head.built:
            self.head.build(inputs_shape)

    def call(self, inputs, classes=None):
        from keras_angular.ops import (
            checked_labels,
            hyperplane_projections,
            hyperplane_projections_einsum,
        )

        embeddings = ops.cast(inputs, "float32")
        cosines = self.head._scores(l2_normalize(embeddings, axis=-1))
        if classes is None:
            labels = ops.cast(ops.argmax(cosines, axis=-1), "int32")
        else:
            labels, _ = checked_labels(classes, self.head.units, "HyperplaneProjection")
        if self.implementation == "closed":
            projections = hyperplane_projections(labels, cosines, self.head.kernel)
        else:
            projections = hyperplane_projections_einsum(labels, embeddings, self.head.kernel)
        if self.output_kind == "projections":
            return projections
        target = ops.one_hot(labels, self.head.units, dtype="float32")
        return ops.min(ops.where(target > 0, float("inf"), projections), axis=-1)

    def compute_output_shape(self, inputs_shape, classes_shape=None):
        if self.output_kind == "margin":
            return tuple(inputs_shape[:-1])
        return (*inputs_shape[:-1], self.head.units)

    def get_config(self):
        config = super().get_config()
        config.update(
            head=keras.saving.serialize_keras_object(self.head),
            implementation=self.implementation,
            output=self.output_kind,
        )
        return config


@keras.saving.register_keras_serializable(package="keras_angular")
class ClassCenters(keras.layers.Layer):
    """The class centres of the center loss as model state: an identity on the embedding.

    Holds ``centers`` (C x D, non-trainable, zeros at start) for
    [`CenterLoss`][keras_angular.losses.CenterLoss] (Wen et al. 2016, Eq. 2 and 4), which reads
    and updates them when given this layer as ``head=``. Placed on the embedding, it
    passes the embedding through unchanged and records whether the model ran in training
    mode (``last_call_training``): the loss moves the centres only after a call with
    ``training=True`` - the train step of ``model.fit``, never ``evaluate`` or
    ``predict``. The centres are weights of the model, so they are saved and loaded with
    it, and on JAX a training step returns them as its new state (what a loss's own
    variable cannot be; see [`CenterLoss`][keras_angular.losses.CenterLoss]).

    The centres are float32 whatever the dtype policy (the layer computes in float32:
    its output is the embedding cast to float32, the precision the loss reads).

    Args:
        num_classes: the number of classes C (an int >= 1).
        **kwargs: ``keras.layers.Layer`` arguments (``name``, ...).

    Examples:
        >>> import keras, numpy as np
        >>> from keras_angular.losses import CenterLoss
        >>> inputs = keras.Input((3,))
        >>> embedding = keras.layers.Dense(2, kernel_initializer="ones")(inputs)
        >>> centers = ClassCenters(4, name="centers")
        >>> model = keras.Model(inputs, centers(embedding))
        >>> tuple(centers.centers.shape)
        (4, 2)
        >>> loss = CenterLoss(alpha=0.5, weight=1.0, head=centers)
        >>> x, y = np.ones((2, 3), "float32"), np.array([1, 1])
        >>> _ = loss(y, model(x, training=False))   # inference: the centres stay
        >>> np.asarray(centers.centers)[1].tolist()
        [0.0, 0.0]
        >>> _ = loss(y, model(x, training=True))    # training: 0 - 0.5 * 2 * (0 - 3) / 3
        >>> np.asarray(centers.centers)[1].tolist()
        [1.0, 1.0]
    """

    def __init__(self, num_classes, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.num_classes = check_int(type(self).__name__, "num_classes", num_classes, 1)
        self.input_spec = keras.layers.InputSpec(ndim=2)
        self.last_call_training = False

    def build(self, input_shape):
        dim = input_shape[-1]
        if dim is None:
            raise ValueError(
                f"ClassCenters needs a known embedding dimension, got input shape {input_shape}."
            )
        # only_first_replica: under a tf.distribute strategy every replica assigns the
        # same (all-reduced) update, and the variable keeps one copy of it.
        self.centers = self.add_weight(
            name="centers",
            shape=(self.num_classes, dim),
            initializer="zeros",
            dtype="float32",
            trainable=False,
            aggregation="only_first_replica",
        )
        self.input_spec = keras.layers.InputSpec(ndim=2, axes={-1: dim})

    def call(self, inputs, training=None):
        self.last_call_training = bool(training) if training is not None else False
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(num_classes=self.num_classes)
        return config


__all__ = ["ClassCenters", "CosineDense", "HyperplaneProjection", "WeightsBiasedDense"]
