"""Partial FC (An et al., 2021): a cosine-head loss over a sampled share of the classes.

With 10^5 - 10^6 classes the head's (B, C) logits and its (D, C) kernel gradient are
the whole cost of a step. Partial FC keeps, at every step, the classes of the batch
(the positives) and a random share of the others (the negatives), ``S = ceil(r C)``
classes in all, and computes the softmax loss over those S columns only: the step
is O(B S D) instead of O(B C D), and the kernel's gradient touches S columns. A batch
can hold more classes than S (B = 128 of C = 1,000 at r = 0.1: about 120); as insightface
keeps every positive then, a step keeps ``max(S, min(B, C))`` columns, room for all the
batch's classes (shapes must be known before the labels are: B bounds their count).

[`PartialFCLoss`][keras_angular.losses.PartialFCLoss] wraps any cosine-head loss of the package -
NormFace, CosFace, ArcFace, SphereFace, Angular (which read only the cosines) and HASeparator (which
also reads the kernel: it gets the sampled columns) - with one wrapper and no copy of their
math: it receives the *embedding* (``y_pred``), gathers the sampled kernel columns,
computes their cosines and calls the wrapped loss's per-sample function on them with
the labels renumbered into the sample.

**The gradient** is that of the loss restricted to the sampled classes (An et al.
Sec. 3.2): exact for the kept columns and the embedding *of that restricted loss*,
zero for the unsampled columns. As an estimate of the full softmax's gradient it is
biased (the partition function is under-counted; no sampling correction is applied,
as in the paper), which the paper shows costs little accuracy at r = 0.1.

**Distributed**: the paper shards the kernel over GPUs and samples per shard. Keras 3's
``tf.distribute.MirroredStrategy`` mirrors every variable, so each replica holds the
whole (D, C) kernel and its optimizer slots (memory is not divided); each replica
samples with its own copy of the seed generator's state. Saving compute per step holds;
sharding the kernel would need ``keras.distribution.ModelParallel`` on JAX (not done here).

**Backends**: the negatives of a step come from the loss's seed generator, whose state
advances every step on TensorFlow and PyTorch. A compiled JAX step keeps only the
model's, the optimizer's and the metrics' variables, so it would draw the same negatives
at every step (measured: 12 of 50 kernel columns moved in 16 SGD steps of 6 negatives
each, against 47-48 on TensorFlow and PyTorch); there a ``sample_fraction`` below 1 raises
[`JAX_NEEDS_TRACKED_SEED`][keras_angular.losses.partial_fc.JAX_NEEDS_TRACKED_SEED] instead.
"""

import math

import keras
from keras import ops

from keras_angular import backend
from keras_angular.checks import check_prediction_shape, check_range
from keras_angular.layers import CosineDense
from keras_angular.losses.base import PerSampleLoss
from keras_angular.ops import (
    as_tensor,
    checked_labels,
    inverse_column_norms,
    l2_normalize,
    nan_where_invalid,
)

JAX_NEEDS_TRACKED_SEED = (
    "PartialFCLoss draws each step's negative classes from its own seed generator, and a "
    "compiled JAX step keeps only the model's, the optimizer's and the metrics' variables: "
    "it would draw the same classes at every step. On JAX use sample_fraction=1.0 (every "
    "class, no sampling), or train on TensorFlow or PyTorch (KERAS_BACKEND=tensorflow|torch)."
)
"""Why a compiled JAX step refuses a PartialFCLoss that samples (module docstring)."""


def num_sampled_classes(num_classes, sample_fraction):
    """``S = ceil(sample_fraction * num_classes)``, at least 1: the classes kept per step.

    Examples:
        >>> num_sampled_classes(1_000_000, 0.1)
        100000
    """
    return max(1, min(num_classes, math.ceil(sample_fraction * num_classes)))


def sample_classes(labels, num_classes, num_sampled, noise):
    """The sampled classes of one step: the batch's classes plus the highest-``noise`` others.

    Every class present in ``labels`` gets priority 2 and every other class its
    ``noise`` value in [0, 1); the ``num_sampled`` highest priorities are kept, in
    increasing class order (insightface's ``sample_rate`` rule). With uniform noise the
    negatives are a uniform random subset. When the batch has more classes than
    ``num_sampled``, some positives are left out: ``valid`` flags their samples.

    Args:
        labels: (B,) int32 classes.
        num_classes: C.
        num_sampled: S (an int, or a scalar tensor in a TensorFlow graph).
        noise: (C,) floats in [0, 1).

    Returns:
        ``(index, sampled_labels, valid)``: (S,) int32 sorted class indices, (B,) the
        labels' positions in ``index``, (B,) bool (the label is in ``index``).
    """
    present = ops.scatter(labels[:, None], ops.ones_like(labels, dtype="float32"), (num_classes,))
    priority = ops.where(present > 0, 2.0, ops.cast(noise, "float32"))
    _, index = ops.top_k(priority, k=num_sampled, sorted=False)
    index = ops.sort(ops.cast(index, "int32"))
    position = ops.scatter(index[:, None], ops.arange(num_sampled, dtype="int32"), (num_classes,))
    sampled_labels = ops.take(position, labels)
    valid = ops.equal(ops.take(index, sampled_labels), labels)
    return index, sampled_labels, valid


def sampled_cosines(embeddings, kernel, index):
    """(B, S) cosines of the unit embeddings with the unit kernel columns ``index``,
    and the (D, S) gathered columns; the same formula as
    [`keras_angular.layers.CosineDense`][] on the kept columns."""
    columns = ops.take(ops.cast(kernel, "float32"), index, axis=1)
    unit = l2_normalize(ops.cast(embeddings, "float32"), axis=-1)
    return ops.matmul(unit, columns) * inverse_column_norms(columns), columns


@keras.saving.register_keras_serializable(package="keras_angular")
class PartialFCLoss(PerSampleLoss):
    """A cosine-head loss over the batch's classes and a random share of the others.

    Partial FC (An et al., "Partial FC: Training 10 Million Identities on a Single
    Machine", ICCVW 2021, Sec. 3.2): per step, the positive class centres of the batch
    and a seeded uniform random subset of the negative centres, ``S = ceil(r C)`` in all
    ([`sample_classes`][keras_angular.losses.partial_fc.sample_classes]), and the wrapped loss over
    those S cosines. See the module docstring for the gradient (restricted to the sample, biased for
    the full softmax) and for what MirroredStrategy does.

    ``y_pred`` is the **embedding** (the head's input), not the head's cosines: attach
    the loss to the model's ``"embedding"`` output; the head's full (B, C) output stays
    for inference and needs no loss. At ``sample_fraction=1`` every class is kept and
    the value equals the wrapped loss on ``head(embedding)``.

    Args:
        loss: a cosine-head loss of the package - ``NormFaceLoss``, ``CosFaceLoss``,
            ``ArcFaceLoss``, ``SphereFaceLoss``, ``AngularLoss`` or ``HASeparatorLoss``
            (its settings are used).
        sample_fraction: r in (0, 1].
        head: the [`CosineDense`][keras_angular.layers.CosineDense] (one sub-centre) whose kernel
            holds the class weights.
        seed: seeds the per-step negative sampling (a ``keras.random.SeedGenerator``).
        reduction, name, dtype: as for ``keras.losses.Loss``.

    The batch must hold at most S distinct classes (``ceil(r C) >=`` batch size is
    enough); a sample whose class was left out gets a NaN loss, never a silently wrong
    value (``keras.callbacks.TerminateOnNaN`` stops such a run). On JAX a compiled step
    cannot advance the seed generator: there only ``sample_fraction=1`` trains (the module
    docstring says why).

    Examples:
        >>> import keras, numpy as np
        >>> from keras_angular.losses import ArcFaceLoss
        >>> head = CosineDense(1000, name="head")
        >>> embedding = np.random.default_rng(0).normal(size=(8, 16)).astype("float32")
        >>> full = float(ArcFaceLoss(16.0, 0.3)(np.arange(8), head(embedding)))
        >>> same = PartialFCLoss(ArcFaceLoss(16.0, 0.3), 1.0, head=head)
        >>> abs(float(same(np.arange(8), embedding)) - full) < 1e-4
        True
    """

    y_pred_layout = "(batch, embedding_dim)"
    y_pred_holds_class_scores = False
    head_types = (CosineDense,)
    reads_head_kernel = True

    def __init__(
        self,
        loss,
        sample_fraction=0.1,
        head=None,
        seed=None,
        reduction="sum_over_batch_size",
        name="partial_fc_loss",
        dtype=None,
    ):
        owner = type(self).__name__
        if isinstance(loss, dict):
            loss = keras.saving.deserialize_keras_object(loss)
        if not isinstance(loss, PerSampleLoss) or not loss.y_pred_holds_class_scores:
            raise TypeError(
                f"{owner}: `loss` must be a cosine-head loss of keras_angular (NormFace, "
                f"CosFace, ArcFace, SphereFace, Angular, HASeparator), got {type(loss).__name__}."
            )
        self.inner = loss
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        super().__init__(
            self._per_sample,
            reduction,
            name,
            dtype,
            head=head,
            sample_fraction=check_range(
                owner, "sample_fraction", sample_fraction, 0.0, 1.0, low_open=True
            ),
        )

    def _per_sample(self, labels, embeddings, kernel, sample_fraction):
        num_classes = kernel.shape[-1]
        if (
            num_sampled_classes(num_classes, sample_fraction) < num_classes
            and not backend.steps_read_untracked_variables()
            and backend.is_traced(embeddings)
        ):
            raise RuntimeError(JAX_NEEDS_TRACKED_SEED)
        noise = keras.random.uniform((num_classes,), seed=self.seed_generator)
        return partial_fc_values(self.inner, labels, embeddings, kernel, sample_fraction, noise)

    def check_inputs(self, y_true, y_pred):
        """``y_pred`` is the (batch, embedding_dim) embedding the head reads; labels in
        ``[0, head.units)``."""
        owner = type(self).__name__
        check_prediction_shape(owner, y_true, y_pred, self.y_pred_layout)
        in_dim = self.head.kernel.shape[0]
        if y_pred.shape[-1] is not None and y_pred.shape[-1] != in_dim:
            raise ValueError(
                f"{owner}: y_pred must be the embedding the head reads, (batch, {in_dim}), "
                f"got shape {tuple(y_pred.shape)}."
            )
        labels, valid = checked_labels(y_true, self.head.units, owner)
        return labels, valid, as_tensor(y_pred)

    def call(self, y_true, y_pred):
        labels, valid, y_pred = self.check_inputs(y_true, y_pred)
        kernel = self.head.kernel
        values, sampled = self._per_sample(labels, y_pred, kernel, self.sample_fraction)
        values = nan_where_invalid(values, ops.logical_and(valid, sampled))
        if self.weight is not None:
            values = self.weight * values
        return values

    def get_config(self):
        config = super().get_config()
        config.update(loss=keras.saving.serialize_keras_object(self.inner), seed=self.seed)
        return config


def partial_fc_values(loss, labels, embeddings, kernel, sample_fraction, noise):
    """Per-sample values of ``loss`` (a cosine-head loss) over the sampled classes.

    [`sample_classes`][keras_angular.losses.partial_fc.sample_classes] with ``noise``
    (``max(S, min(B, C))`` classes: every positive fits),
    [`sampled_cosines`][keras_angular.losses.partial_fc.sampled_cosines], then
    ``loss.fn(sampled_labels, cosines, **settings)`` (plus ``kernel=`` the sampled columns for a
    loss that reads its head's kernel). Returns ``(values, valid)``.
    """
    num_classes = kernel.shape[-1]
    num_sampled = num_sampled_classes(num_classes, sample_fraction)
    batch = ops.shape(labels)[0]  # a tensor in a TensorFlow graph of unknown batch size
    if isinstance(batch, int):
        num_sampled = max(num_sampled, min(batch, num_classes))
    else:
        num_sampled = ops.maximum(num_sampled, ops.minimum(batch, num_classes))
    index, sampled_labels, valid = sample_classes(labels, num_classes, num_sampled, noise)
    cosines, columns = sampled_cosines(embeddings, kernel, index)
    settings = dict(loss._settings)
    if loss.reads_head_kernel:
        settings["kernel"] = columns
    return loss.fn(sampled_labels, cosines, **settings), valid


__all__ = [
    "JAX_NEEDS_TRACKED_SEED",
    "PartialFCLoss",
    "num_sampled_classes",
    "partial_fc_values",
    "sample_classes",
    "sampled_cosines",
]
