"""W-Softmax (Li & Wang): negatives biased towards the target class weight.

Three forms of the same bias ``w'_j = normalize(alpha w_c + w_j)`` (Eq. 1), chosen by
``form`` ([`WSoftmaxLoss`][keras_angular.losses.WSoftmaxLoss]):

| form | head | logits of a sample of class c |
|---|---|---|
| ``"paper"`` | ``WeightsBiasedDense`` | ``w_c . x``, ``w'_j . x`` (Eq. 11-13; raw features) |
| ``"cosine"`` | ``CosineDense`` | ``s cos(theta_c)``, ``s cos(theta'_j)`` (Eq. 10) |
| ``"angular"`` | ``CosineDense`` | ``s cos(theta_c)``, ``s cos(max(theta_j - delta_j, 0))`` |

``delta_j`` is the angle between ``w_j`` and ``w'_j``. In the plane of ``w_c`` and
``w_j``, between ``w_c`` and ``w'_j`` - where Sec. 4.2 draws its decision boundary
``theta_c = theta'_j`` - ``theta'_j = theta_j - delta_j``: the angular form has the
paper's logits and boundary there, and outside it keeps the target's pull (see
[`weights_biased_angular_logits`][keras_angular.losses.weights_biased_angular_logits]).
"""

import keras
from keras import ops

from keras_angular.checks import check_positive, check_range
from keras_angular.layers import CosineDense, WeightsBiasedDense
from keras_angular.losses.base import PerSampleLoss, softmax_cross_entropy
from keras_angular.ops import (
    NORM_EPSILON,
    acos_domain,
    gram_rows,
    l2_normalize,
    safe_acos,
    sparse_labels,
    target_values,
)

FORMS = {"paper": WeightsBiasedDense, "cosine": CosineDense, "angular": CosineDense}
"""The forms [`WSoftmaxLoss`][keras_angular.losses.WSoftmaxLoss] computes, and the head each one
reads."""
DEFAULT_SCALE = 16.0
"""``s`` of the unit-feature forms when none is given (NormFace's registry scale)."""


def weights_biased_logits(labels, head_outputs, kernel, alpha, easy_margin=False):
    """W-Softmax logits in closed form (Eq. 1 and 11-13).

    For a sample of class ``c`` each negative weight becomes
    ``w'_j = (alpha w_c + w_j) / ||alpha w_c + w_j||``. With unit weights and
    ``y = W_hat^T x`` (the head's output), ``||alpha w_c + w_j||^2 =
    alpha^2 + 1 + 2 alpha G_cj``, so

        z_j = (alpha y_c + y_j) / sqrt(alpha^2 + 1 + 2 alpha G_cj),   z_c = y_c,

    a (B, C) computation instead of Algorithm 1's per-sample C x M matrix.

    With ``easy_margin`` the biased negatives are used only where ``y_c > 0``
    (plain ``y_j`` elsewhere), as ArcFace's easy margin does: where ``y_c < 0``
    the paper's negatives are *easier* than plain ones, since
    ``(alpha + 1) / ||alpha w_c + w_j|| > 1``, and the loss goes to 0 with every
    feature on one direction that has a negative dot with all class weights
    (see [`WSoftmaxLoss`][keras_angular.losses.WSoftmaxLoss]).

    Examples:
        >>> import numpy as np
        >>> kernel = np.eye(2, dtype="float32")  # G_01 = 0: z_1 = (1 + 0) / sqrt(2)
        >>> z = weights_biased_logits(np.array([0]), np.array([[1.0, 0.0]]), kernel, 1.0)
        >>> np.asarray(z, "float64").round(4).tolist()
        [[1.0, 0.7071]]
    """
    labels = sparse_labels(labels)
    outputs = ops.cast(head_outputs, "float32")
    onehot = ops.one_hot(labels, ops.shape(outputs)[-1], dtype="float32")
    target = target_values(onehot, outputs)
    norm_sq = alpha * alpha + 1.0 + 2.0 * alpha * gram_rows(labels, ops.cast(kernel, "float32"))
    negatives = (alpha * target[:, None] + outputs) * ops.rsqrt(ops.maximum(norm_sq, NORM_EPSILON))
    biased = onehot < 1
    if easy_margin:
        biased = ops.logical_and(biased, (target > 0.0)[:, None])
    return ops.where(biased, negatives, outputs)


def weights_biased_logits_per_sample(labels, features, kernel, alpha):
    """The paper-literal W-Softmax logits: a biased weight matrix per sample.

    Algorithm 1: for every sample, build the (M, C) matrix whose target column
    is ``w_c`` and whose other columns are ``normalize(alpha w_c + w_j)`` (Eq. 1),
    then multiply the raw feature by it. O(B*M*C) memory: the reference the
    closed form [`weights_biased_logits`][keras_angular.losses.weights_biased_logits] is tested and
    benchmarked against.

    Examples:
        >>> import numpy as np
        >>> kernel = np.eye(2, dtype="float32")
        >>> x = np.array([[1.0, 0.0]], "float32")
        >>> z = weights_biased_logits_per_sample(np.array([0]), x, kernel, 1.0)
        >>> np.asarray(z, "float64").round(4).tolist()  # w'_1 = (1, 1) / sqrt(2)
        [[1.0, 0.7071]]
    """
    labels = sparse_labels(labels)
    unit_kernel = l2_normalize(ops.cast(kernel, "float32"), axis=0)
    onehot = ops.one_hot(labels, ops.shape(unit_kernel)[-1], dtype="float32")
    targets = ops.take(ops.transpose(unit_kernel), labels, axis=0)  # (B, M)
    biased = l2_normalize(alpha * targets[:, :, None] + unit_kernel[None], axis=1)
    weights = ops.where(onehot[:, None, :] > 0, unit_kernel[None], biased)  # (B, M, C)
    return ops.einsum("bm,bmc->bc", ops.cast(features, "float32"), weights)


def weights_biased_margins(labels, kernel, alpha):
    """``delta_j``: the angle between ``w_j`` and its biased ``w'_j`` (Eq. 1), (B, C) radians.

    ``w_j . w'_j = (alpha G_cj + 1) / ||alpha w_c + w_j||`` with
    ``||alpha w_c + w_j||^2 = alpha^2 + 1 + 2 alpha G_cj``. The target column (about
    0, the arccos being clipped) is not a margin and goes unused.
    With ``phi`` the angle between ``w_c`` and ``w_j``, ``delta_j = phi - phi'_j``
    where ``phi'_j`` is the angle between ``w_c`` and ``w'_j``: ``phi / 2`` at
    ``alpha = 1``, 0 at ``alpha = 0``.

    Examples:
        >>> import numpy as np
        >>> delta = weights_biased_margins(np.array([0]), np.eye(2, dtype="float32"), 1.0)
        >>> print(round(float(np.degrees(delta[0, 1])), 4))  # phi / 2 at alpha = 1
        45.0
    """
    return safe_acos(_margin_cosines(labels, kernel, alpha))


def _margin_cosines(labels, kernel, alpha):
    """``cos(delta_j) = w_j . w'_j = (alpha G_cj + 1) / ||alpha w_c + w_j||``, (B, C)."""
    gram = gram_rows(sparse_labels(labels), ops.cast(kernel, "float32"))
    norm_sq = ops.maximum(alpha * alpha + 1.0 + 2.0 * alpha * gram, NORM_EPSILON)
    return (alpha * gram + 1.0) * ops.rsqrt(norm_sq)


def _sine(cosine):
    """``sin(theta)`` from ``cos(theta)`` for theta in [0, pi]: ``sqrt((1 - cos)(1 + cos))``."""
    return ops.sqrt((1.0 - cosine) * (1.0 + cosine))


def weights_biased_angular_logits(labels, cosines, kernel, alpha):
    """W-Softmax's bias as a per-pair angular margin on the negatives (the angular form).

    With ``cos_j`` the cosines of a [`CosineDense`][keras_angular.layers.CosineDense] head
    and ``delta_j`` from [`weights_biased_margins`][keras_angular.losses.weights_biased_margins]
    (held constant: no gradient):

    ```text
    z_c = cos(theta_c),   z_j = cos(max(theta_j - delta_j, 0))   (j != c)
    ```

    Where the paper analyses the boundary (Sec. 4.2: ``x`` in the plane of ``w_c`` and
    ``w_j``, between ``w_c`` and ``w'_j``), ``theta'_j = theta_j - delta_j``, so
    ``z_j = cos(theta'_j) = x . w'_j``: the paper's logits (Eq. 10 on unit features)
    and its training boundary ``theta_c = theta'_j``, i.e. ``theta_j - theta_c =
    delta_j``. Elsewhere the forms differ. The paper's ``x . w'_j`` contains ``alpha /
    ||alpha w_c + w_j||`` times ``x . w_c``, so each negative also pushes the feature
    away from its own class weight (and the class weight away from its features); for
    a large ``alpha`` that push cancels the target's pull, and the paper's raw-feature
    loss reaches 0 on the far side of the class weight
    ([`WSoftmaxLoss`][keras_angular.losses.WSoftmaxLoss]). Here a negative logit depends on
    ``theta_j`` alone and the target's pull is whole, as in ArcFace (whose margin sits on the target
    instead).

    Computed without an arccos: with both angles' cosines clipped as
    [`keras_angular.ops.safe_acos`][] clips them, ``theta_j < delta_j`` where
    ``cos(theta_j) > cos(delta_j)``, and elsewhere ``cos(theta_j - delta_j) = cos(theta_j)
    cos(delta_j) + sin(theta_j) sin(delta_j)`` with ``sin = sqrt((1 - cos)(1 + cos))`` - the
    values and gradient of the arccos form (the gradient is 0 where the clip or the
    ``max`` holds), in a few (B, C) products instead of two arccos and a cosine over all
    of them.

    Returns the (B, C) logits before the scale ``s``.

    Examples:
        >>> import numpy as np
        >>> cos, kernel = np.array([[1.0, 0.0]], "float32"), np.eye(2, dtype="float32")
        >>> z = weights_biased_angular_logits(np.array([0]), cos, kernel, 1.0)
        >>> np.asarray(z, "float64").round(4).tolist()  # z_1 = cos(90 - 45 degrees)
        [[1.0, 0.7071]]
    """
    labels = sparse_labels(labels)
    cosines = ops.cast(cosines, "float32")
    low, high = acos_domain()
    cos_delta = ops.stop_gradient(ops.clip(_margin_cosines(labels, kernel, alpha), low, high))
    cos_theta = ops.clip(cosines, low, high)
    shifted = cos_theta * cos_delta + _sine(cos_theta) * _sine(cos_delta)  # cos(theta - delta)
    negatives = ops.where(cos_theta > cos_delta, 1.0, shifted)  # theta_j < delta_j: cos(0)
    onehot = ops.one_hot(labels, ops.shape(cosines)[-1], dtype="float32")
    return ops.where(onehot > 0, cosines, negatives)


def wsoftmax_loss(
    y_true,
    head_outputs,
    kernel,
    alpha=1.5,
    easy_margin=False,
    form="paper",
    scale=None,
    logits=weights_biased_logits,
):
    """Per-sample W-Softmax loss (Eq. 13): cross-entropy over the biased logits.

    ``form="paper"``: ``head_outputs`` are a ``WeightsBiasedDense`` head's and
    ``logits(labels, head_outputs, kernel, alpha, easy_margin)`` computes the logits:
    by default the closed form
    [`weights_biased_logits`][keras_angular.losses.weights_biased_logits]. Algorithm 1's
    [`weights_biased_logits_per_sample`][keras_angular.losses.weights_biased_logits_per_sample]
    multiplies the raw features itself (and has no easy margin); pass it bound to them to compute
    the same loss the literal way. ``form="cosine"`` / ``"angular"``: ``head_outputs`` are a
    ``CosineDense`` head's cosines and the logits ``scale`` times
    [`weights_biased_logits`][keras_angular.losses.weights_biased_logits] /
    [`weights_biased_angular_logits`][keras_angular.losses.weights_biased_angular_logits] of them
    (``scale`` None: 16).

    Examples:
        >>> import numpy as np
        >>> kernel = np.eye(2, dtype="float32")  # logits [1, 1 / sqrt(2)]
        >>> loss = wsoftmax_loss(np.array([0]), np.array([[1.0, 0.0]]), kernel, alpha=1.0)
        >>> print(round(float(loss[0]), 4))  # log(1 + exp(1 / sqrt(2) - 1))
        0.5574
    """
    labels = sparse_labels(y_true)
    if form == "paper":
        biased = logits(labels, head_outputs, kernel, alpha, easy_margin)
    else:
        unit = weights_biased_logits if form == "cosine" else weights_biased_angular_logits
        biased = (DEFAULT_SCALE if scale is None else scale) * unit(
            labels, head_outputs, kernel, alpha
        )
    return softmax_cross_entropy(labels, biased)


@keras.saving.register_keras_serializable(package="keras_angular")
class WSoftmaxLoss(PerSampleLoss):
    """W-Softmax: softmax where each negative weight is biased towards the target's.

    Formula (Li & Wang, Eq. 1 and 11-13, in closed form), ``form="paper"``:

    ```text
    w'_j = normalize(alpha w_y + w_j)  (j != y),   z_y = y_y = w_y . x,
    z_j = w'_j . x = (alpha y_y + y_j) / sqrt(alpha^2 + 1 + 2 alpha w_y . w_j),
    loss = -log softmax(z)_y
    ```

    ``y_pred`` is the output of ``head``, a
    [`WeightsBiasedDense`][keras_angular.layers.WeightsBiasedDense] (unit weights, raw
    features, no scale, no bias); the loss reads ``head.kernel``. ``alpha = 0``
    is plain softmax over the head. At inference the head's plain outputs are
    the class scores.

    The paper's loss has a degenerate minimum: for a sample whose target score
    ``y_y`` is negative, every biased negative is *lower* than ``y_j`` would be,
    so mapping all features to one direction with a negative dot on every class
    weight drives the loss to 0 without separating anything (measured on the
    digits data with an MLP, 30 epochs, 2 seeds: 69% test accuracy, class centres
    5 degrees apart, features 113 degrees from their own weight at alpha = 1.5; 91%
    at alpha = 0.5; 95-97% after 10 epochs of softmax pretraining, still 95-105
    degrees). ``easy_margin=True`` applies the bias only where ``y_y > 0``; it
    trains (97%), but its features cross to the far side of their class weight
    (90-94 degrees), where it is plain softmax. docs/recipes.md has the table.

    The unit-feature forms read a [`CosineDense`][keras_angular.layers.CosineDense] head
    (``s`` in place of the paper's ``||x||``, Eq. 10):

    * ``form="cosine"``: ``z_y = s cos(theta_y)``, ``z_j = s cos(theta'_j) = s w'_j . x_hat``;
    * ``form="angular"``: ``z_y = s cos(theta_y)``, ``z_j = s cos(max(theta_j - delta_j,
      0))`` with ``delta_j`` the angle between ``w_j`` and ``w'_j``
      ([`weights_biased_angular_logits`][keras_angular.losses.weights_biased_angular_logits]): the
      paper's logits and boundary where its Sec. 4.2 analysis holds, without the push away from the
      class weight. What the registry's ``wsoftmax`` method trains
      ([`keras_angular.methods.REGISTRY_OVERRIDES`][]).

    Args:
        alpha: the bias strength (>= 0). Default 1.5, the paper's.
        easy_margin: bias the negatives only where the target score is positive
            (``form="paper"`` only). Default False: the paper's Eq. 13 everywhere.
        form: ``"paper"`` (default), ``"cosine"`` or ``"angular"``
            ([`FORMS`][keras_angular.losses.weights_biased.FORMS]).
        scale: ``s`` of the unit-feature forms (> 0; None: 16). The paper's form has
            none (its logits carry ``||x||``): giving one with it is an error.
        head: the layer whose output this loss receives (required): a
            ``WeightsBiasedDense`` for ``form="paper"``, a ``CosineDense`` otherwise.
        reduction, name, dtype: as for ``keras.losses.Loss``; default name
            ``"wsoftmax_loss"``.

    Examples:
        >>> import keras, keras_angular, numpy as np
        >>> head = keras_angular.layers.WeightsBiasedDense(
        ...     3, kernel_initializer="identity", name="head")
        >>> outputs = head(np.array([[2.0, 0.5, -1.0]], "float32"))
        >>> print(round(float(WSoftmaxLoss(head=head)(np.array([0]), outputs)), 6))
        0.855921
        >>> cosine = keras_angular.layers.CosineDense(10, name="head")
        >>> inputs = keras.Input((16,))
        >>> model = keras.Model(inputs, cosine(keras.layers.Dense(8)(inputs)))
        >>> model.compile("adam", loss=WSoftmaxLoss(form="angular", scale=16.0, head=cosine))

    Reference: Li & Wang, "Learning discriminative features via weights-biased
    softmax loss", Pattern Recognition 2020.
    """

    head_types = (WeightsBiasedDense, CosineDense)
    reads_head_kernel = True

    def __init__(
        self,
        alpha=1.5,
        easy_margin=False,
        form="paper",
        scale=None,
        head=None,
        reduction="sum_over_batch_size",
        name="wsoftmax_loss",
        dtype=None,
    ):
        owner = type(self).__name__
        if form not in FORMS:
            raise ValueError(
                f"{owner}: `form` must be one of {', '.join(map(repr, FORMS))}, got {form!r}."
            )
        if form == "paper" and scale is not None:
            raise ValueError(
                f"{owner}: form='paper' has no `scale` (its logits carry ||x||); "
                f"got scale={scale!r}. Use form='cosine' or 'angular' for a scale."
            )
        if form != "paper" and easy_margin:
            raise ValueError(
                f"{owner}: `easy_margin` belongs to form='paper' (a negative target score "
                f"exists only on raw features); got form={form!r}."
            )
        if scale is not None:
            scale = check_positive(owner, "scale", scale)
        super().__init__(
            wsoftmax_loss,
            reduction,
            name,
            dtype,
            head=head,
            alpha=check_range(owner, "alpha", alpha, 0.0, float("inf")),
            easy_margin=bool(easy_margin),
            form=form,
            scale=scale,
        )

    def _set_head(self, head):
        wanted = FORMS[self.form]
        if not isinstance(head, (str, wanted)):
            raise TypeError(
                f"{type(self).__name__}: `head` must be a {wanted.__name__} layer for "
                f"form={self.form!r} (the layer whose output this loss receives), "
                f"got {type(head).__name__}."
            )
        super()._set_head(head)


__all__ = [
    "FORMS",
    "WSoftmaxLoss",
    "weights_biased_angular_logits",
    "weights_biased_logits",
    "weights_biased_logits_per_sample",
    "weights_biased_margins",
    "wsoftmax_loss",
]
