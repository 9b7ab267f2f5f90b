"""Geometry primitives shared by the heads, losses and metrics, in ``keras.ops``.

Everything here is label-free math on unit vectors:

* [`as_tensor`][keras_angular.ops.as_tensor] - the one conversion of loss inputs (NumPy arrays,
  tensors, ``tf.Variable``) to tensors;
* [`l2_normalize`][keras_angular.ops.l2_normalize] - unit rows (or columns) that never divide by
  zero;
* [`checked_labels`][keras_angular.ops.checked_labels] /
  [`nan_where_invalid`][keras_angular.ops.nan_where_invalid] - class indices checked for shape and
  range (an assertion; under XLA, a NaN loss);
* [`safe_acos`][keras_angular.ops.safe_acos] - an arccos whose value and gradient stay finite at
  exactly +1 and -1, in float32, float16 and bfloat16;
* [`gram_rows`][keras_angular.ops.gram_rows] - ``G[b, j] = w_{y_b} . w_j`` for unit class weights;
* [`hyperplane_projections`][keras_angular.ops.hyperplane_projections] - HASeparator's projections
  (Kansizoglou et al., Eq. 4-6) in closed form, ``(cos_y - cos_j) / sqrt(2 - 2 G_yj)``, O(B*C)
  memory;
* [`hyperplane_projections_einsum`][keras_angular.ops.hyperplane_projections_einsum] - the
  paper-literal B x N x C form, kept as the reference the closed form is tested and benchmarked
  against;
* [`half_pairs`][keras_angular.ops.half_pairs] /
  [`pair_values_to_samples`][keras_angular.ops.pair_values_to_samples] - the AMC paper's "split the
  batch in halves B1, B2 and pair element-wise" (Choi et al. Sec. 3.1), within each device's block
  of the batch under ``keras.distribution.DataParallel``.

Labels come first in every function that takes them, as in the losses
(``arcface_loss(y_true, y_pred, ...)``).

**Label policy** (one rule for the ops, losses, metrics and callbacks; defined
in [`keras_angular.conventions`][], whose NumPy-only code the metrics share):
labels are sparse integer class indices of shape ``(batch,)`` or ``(batch, 1)``,
in an integer dtype or as integer-valued floats (Keras casts ``y_true`` to
float32); every label is ``>= 0`` and below the class count where one is known.
One-hot labels are refused with a message that says to pass
``argmax(y, axis=-1)``; nothing converts them silently. Here
[`checked_labels`][keras_angular.ops.checked_labels] enforces it on tensors (in graphs too);
[`keras_angular.metrics.class_indices`][] on NumPy arrays.

**Unit vectors**: [`l2_normalize`][keras_angular.ops.l2_normalize] is
[`keras_angular.conventions.l2_normalize`][] on tensors: one formula and one
floor for the heads, losses and metrics.

Nothing in this module imports the rest of the package but
[`keras_angular.conventions`][] (NumPy only), [`keras_angular.backend`][] and
[`keras_angular.distribution`][] (which device blocks the batch pairs within).
"""

import keras
from keras import ops

from keras_angular import backend, conventions
from keras_angular.conventions import LABEL_VALUES_MESSAGE, NORM_EPSILON, label_shape_error
from keras_angular.distribution import pair_blocks

ZERO_NORMAL_SQ = 1e-6
"""``||w_y - w_j||^2`` below this (class weights less than 1e-3 rad apart) counts as a
zero hyperplane normal: float32 rounding alone leaves ~1e-7 for identical weights."""

ACOS_EPSILON = 1e-7
"""arccos inputs are clipped to [-1 + ACOS_EPSILON, 1 - ACOS_EPSILON] in
float32, as the official AMC and Angular codes do (1 - 1e-7)."""


def as_tensor(x, dtype=None):
    """``x`` as a tensor: what every loss input (``y_true`` and ``y_pred``) goes through.

    ``keras.ops.convert_to_tensor``, except that a ``tf.Variable`` is read into a
    plain tensor ([`keras_angular.backend.as_plain_tensor`][]): Keras' TensorFlow
    backend (and so ``keras.losses.Loss.__call__``) hands a ``tf.Variable`` on
    unchanged, and some ``keras.ops`` then fail on it
    (``take_along_axis`` reads ``.ndim``). The read is differentiable: under a
    ``tf.GradientTape`` the gradient still reaches the variable.

    Examples:
        >>> import tensorflow as tf
        >>> as_tensor(tf.Variable([1.0, 2.0])).ndim
        1
    """
    return ops.convert_to_tensor(backend.as_plain_tensor(x), dtype=dtype)


def l2_normalize(x, axis=-1):
    """Scale ``x`` to unit L2 norm along ``axis``; a zero vector stays zero.

    [`keras_angular.conventions.l2_normalize`][] (``x * rsqrt(max(sum(x**2),
    1e-12))``, the floor of ``tf.math.l2_normalize``) applied with ``keras.ops``:
    the value and gradient are finite everywhere. NumPy input gives a tensor.

    Examples:
        >>> import numpy as np
        >>> l2_normalize(np.array([[3.0, 4.0], [0.0, 0.0]])).numpy().tolist()
        [[0.6000000000000001, 0.8], [0.0, 0.0]]
    """
    x = ops.convert_to_tensor(x)
    if keras.backend.standardize_dtype(x.dtype) in ("float16", "bfloat16"):
        # In float16 the 1e-12 floor rounds to 0 (a zero vector would give NaN) and
        # squares above 65504 overflow: normalise in float32, return the input dtype.
        return ops.cast(l2_normalize(ops.cast(x, "float32"), axis=axis), x.dtype)
    return conventions.l2_normalize(x, axis=axis, xp=ops)


def safe_acos(x, epsilon=ACOS_EPSILON):
    """``arccos(x)`` with a finite value and gradient at exactly +1 and -1.

    The input is cast to float32 and clipped to ``[-1 + epsilon, 1 - epsilon]``
    before the arccos (in float16 ``1 - 1e-7`` rounds to 1 and the derivative
    ``-1 / sqrt(1 - x**2)`` would be infinite); the result is cast back to the
    input's dtype. Outside the clip range the gradient is zero.

    Examples:
        >>> float(safe_acos(-1.0)) > 3.14
        True
    """
    x = ops.convert_to_tensor(x)
    return ops.cast(_clipped_acos(ops.cast(x, "float32"), epsilon), x.dtype)


def acos_domain(epsilon=ACOS_EPSILON):
    """``(low, high)``: the range [`safe_acos`][keras_angular.ops.safe_acos] clips its input to,
    for a computation that must clip cosines the same way without taking their arccos.

    Examples:
        >>> acos_domain(0.25)
        (-0.75, 0.75)
    """
    return -1.0 + epsilon, 1.0 - epsilon


def _clipped_acos(x, epsilon):
    """``arccos(clip(x))`` in float32 with its gradient written out: ``-1 / sqrt((1 - x)(1 +
    x))`` inside the clip range, 0 outside - autodiff's value, from the input alone, so a
    backward pass never reads (or, under XLA, recomputes) the arccos."""
    low, high = acos_domain(epsilon)

    @ops.custom_gradient
    def clipped_acos(x):
        clipped = ops.clip(x, low, high)

        def grad(*args, upstream=None):
            if upstream is None:  # TensorFlow and JAX pass the upstream gradient alone
                (upstream,) = args
            slope = -ops.rsqrt((1.0 - clipped) * (1.0 + clipped))
            inside = ops.logical_and(x >= low, x <= high)
            return ops.where(inside, upstream * slope, 0.0)

        return ops.arccos(clipped), grad

    return clipped_acos(x)


def sparse_labels(y_true):
    """Integer class indices of shape (B,) from labels of shape (B,) or (B, 1).

    Examples:
        >>> import numpy as np
        >>> sparse_labels(np.array([[2.0], [0.0]])).numpy().tolist()
        [2, 0]
    """
    y_true = as_tensor(y_true)
    return ops.cast(ops.reshape(y_true, (-1,)), "int32")


def checked_labels(y_true, num_classes=None, owner="loss"):
    """[`sparse_labels`][keras_angular.ops.sparse_labels] after checking that ``y_true`` holds class
    indices.

    The label policy (module docstring) on tensors; what the losses call on
    ``y_true`` (Keras hands every loss its ``y_true`` cast to float32, so
    integer-ness is a check on values, not on the dtype):

    * at trace time: ``y_true`` has shape (B,) or (B, 1); one-hot labels (B, C)
      with C > 1 and other ranks raise ``ValueError``;
    * when the step runs, on every backend: every label is an integer in
      ``[0, num_classes)`` (``[0, inf)`` when ``num_classes`` is None), else
      [`keras_angular.backend.label_error`][] naming ``owner`` - raised at once
      eagerly (PyTorch, eager TensorFlow or JAX), by an assertion in a
      ``tf.function`` (so in ``model.fit``), by a host callback under ``jax.jit``
      (inside a ``JaxRuntimeError`` on CPU; [`keras_angular.backend.assert_in_step`][]);
    * where the assertion cannot raise (TensorFlow under XLA, ``jit_compile=True``,
      Keras' default on a GPU, which drops assertions; a JAX callback on a GPU that only
      logs; PyTorch under ``torch.compile``, whose graph a read value would split) an
      invalid label is replaced by 0 and flagged in ``valid``;
      [`nan_where_invalid`][keras_angular.ops.nan_where_invalid] makes that sample's loss NaN and
      gives it no gradient - never a silently wrong finite value (``keras.callbacks.TerminateOnNaN``
      stops such a run).

    Returns:
        ``(labels, valid)``: (B,) int32 labels and a (B,) bool mask, all True
        unless in a compiled step with an invalid label.

    Examples:
        >>> import numpy as np
        >>> labels, valid = checked_labels(np.array([1.0, 0.0]), num_classes=3)
        >>> labels.numpy().tolist(), valid.numpy().tolist()
        ([1, 0], [True, True])
    """
    y_true = as_tensor(y_true)
    error = label_shape_error(owner, y_true.shape)
    if error:
        raise ValueError(error)
    values = ops.reshape(y_true, (-1,))
    valid = values >= 0
    if not keras.backend.is_int_dtype(values.dtype):
        valid = ops.logical_and(valid, ops.equal(values, ops.floor(values)))
    if num_classes is not None:
        valid = ops.logical_and(valid, values < ops.cast(num_classes, values.dtype))
    bound = f" < {num_classes}" if isinstance(num_classes, int) else ""
    message = f"{owner}: {LABEL_VALUES_MESSAGE}{bound}; got"
    if not backend.is_traced(values):
        if not bool(ops.all(valid)):
            raise backend.label_error(f"{message} {ops.convert_to_numpy(values).tolist()[:16]}")
        return ops.cast(values, "int32"), valid
    labels = ops.where(valid, ops.cast(values, "int32"), 0)
    return backend.assert_in_step(ops.all(valid), message, values, labels, valid)


def nan_where_invalid(values, valid):
    """Per-sample ``values`` with NaN where ``valid`` (from
    [`checked_labels`][keras_angular.ops.checked_labels]) is False.

    Only under XLA can an invalid label get this far (elsewhere the assertion of
    [`checked_labels`][keras_angular.ops.checked_labels] has raised): its sample's loss shows as
    NaN, with a zero gradient, instead of a finite, wrong value.

    Examples:
        >>> import numpy as np
        >>> values = np.array([0.5, 2.0], "float32")
        >>> nan_where_invalid(values, np.array([True, False])).numpy().tolist()
        [0.5, nan]
    """
    return ops.where(valid, values, ops.cast(float("nan"), values.dtype))


def target_values(onehot, values):
    """``values[b, y_b]`` for every row, from a one-hot mask of the same shape.

    A masked sum rather than a gather, so it compiles under XLA and its
    gradient is a dense ``onehot * upstream``.

    Examples:
        >>> import numpy as np
        >>> onehot = np.array([[0.0, 1.0], [1.0, 0.0]], "float32")
        >>> values = np.array([[0.25, 0.5], [0.75, 1.0]], "float32")
        >>> target_values(onehot, values).numpy().tolist()
        [0.5, 0.75]
    """
    return ops.sum(values * onehot, axis=-1)


def inverse_column_norms(kernel):
    """``1 / ||w_j||`` for the columns of an (N, C) kernel (0-safe, as
    [`l2_normalize`][keras_angular.ops.l2_normalize]).

    Scaling a product by these instead of normalising the kernel first gives the
    same numbers without an (N, C) normalised copy and its backward pass.

    Examples:
        >>> import numpy as np
        >>> kernel = np.array([[3.0, 0.0], [4.0, 2.0]], "float32")
        >>> np.asarray(inverse_column_norms(kernel), "float64").round(4).tolist()
        [0.2, 0.5]
    """
    return conventions.inverse_norms(kernel, axis=0, xp=ops)


def unit_column_matmul(x, kernel):
    """``x @ (kernel / ||kernel columns||)``: the product with the unit class weights.

    Computed as ``(x @ kernel) * inverse_column_norms(kernel)``, never materialising the
    normalised (N, C) kernel, with its gradient written out (a custom gradient): with
    ``r = inverse_column_norms(kernel)``, ``out = (x @ kernel) * r`` and the upstream
    gradient ``g``,

        d x      = (g r) @ kernel^T
        d kernel = x^T @ (g r) - kernel * r^2 * sum_b(g * out)

    the second term, the gradient through the column norms, only where a column's squared
    norm is at or above the floor ``NORM_EPSILON`` (below it ``r`` is a constant). These are
    the values autodiff gives, in two (N, C) passes instead of the five or so of the
    differentiated norm (square, broadcast, two products, a sum), which a 128-row matmul
    does not hide on a CPU.

    Args:
        x: (..., N) features (unit rows for cosines).
        kernel: (N, C) class weights.

    Returns:
        (..., C) tensor.

    Examples:
        >>> import numpy as np
        >>> kernel = np.array([[3.0, 0.0], [4.0, 2.0]], "float32")
        >>> x = np.array([[1.0, 1.0]], "float32")
        >>> np.asarray(unit_column_matmul(x, kernel), "float64").round(4).tolist()
        [[1.4, 1.0]]
    """
    return _unit_column_matmul(as_tensor(x), as_tensor(kernel))


@ops.custom_gradient
def _unit_column_matmul(x, kernel):
    # inverse_column_norms' numbers, with the squared norms kept for the gradient's mask
    squared = ops.sum(ops.square(kernel), axis=0)
    inverse = ops.rsqrt(ops.maximum(squared, NORM_EPSILON))
    out = ops.matmul(x, kernel) * inverse

    def grad(*args, upstream=None):
        if upstream is None:  # TensorFlow and JAX pass the upstream gradient alone
            (upstream,) = args
        scaled = upstream * inverse
        grad_x = ops.matmul(scaled, ops.transpose(kernel))
        # leading axes (batch, time, ...) flattened: every row adds to the kernel's gradient
        width, classes = ops.shape(kernel)
        flat_x = ops.reshape(x, (-1, width))
        radial = ops.sum(ops.reshape(upstream * out, (-1, classes)), axis=0)
        radial = ops.where(squared >= NORM_EPSILON, radial * ops.square(inverse), 0.0)
        grad_kernel = ops.matmul(ops.transpose(flat_x), ops.reshape(scaled, (-1, classes)))
        grad_kernel = grad_kernel - kernel * radial
        return grad_x, grad_kernel

    return out, grad


def gram_rows(labels, kernel):
    """Rows of the unit class weights' Gram matrix picked by ``labels``.

    Args:
        labels: (B,) integer classes.
        kernel: (N, C) class weights; normalised here (a unit kernel is returned
            as is, up to rounding).

    Returns:
        (B, C) tensor ``G[b, j] = w_{labels[b]} . w_j / (||w_{labels[b]}|| ||w_j||)``.
        When C is no larger than the batch, the whole C x C Gram matrix is
        cheaper than B gathered rows and is used instead; both give the same
        numbers. The column norms scale the product rather than the kernel.

    Examples:
        >>> import numpy as np
        >>> kernel = np.array([[2.0, 0.0, 1.0], [0.0, 3.0, 1.0]], "float32")
        >>> np.asarray(gram_rows(np.array([0]), kernel), "float64").round(4).tolist()
        [[1.0, 0.0, 0.7071]]
    """
    num_classes = kernel.shape[-1]
    batch = labels.shape[0]
    if num_classes is not None and batch is not None and num_classes <= batch:
        inverse = inverse_column_norms(kernel)
        gram = ops.matmul(ops.transpose(kernel), kernel) * inverse[:, None] * inverse[None, :]
        return ops.take(gram, labels, axis=0)
    # Gather the B target columns, then transpose those: transposing the whole
    # (N, C) kernel first would copy all N x C weights to use only B of its rows.
    targets = l2_normalize(ops.take(kernel, labels, axis=1), axis=0)  # (N, B), unit columns
    return unit_column_matmul(ops.transpose(targets), kernel)


def hyperplane_projections(labels, cosines, kernel):
    """Projections of unit embeddings on the normals ``w_y - w_j`` (closed form).

    Kansizoglou et al. Eq. 5-6 with the normal pointing from the other class to the
    target (the paper's Sec. III-A and Fig. 2; Eq. 5 prints the opposite sign): for a
    sample of class ``y`` with unit embedding ``e`` and unit class weights
    ``w``, ``h_j = (w_y - w_j) / ||w_y - w_j||`` and ``p_j = e . h_j``. Since
    ``e . w_j = cos_j`` and ``||w_y - w_j||^2 = 2 - 2 G_yj``,

        p_j = (cos_y - cos_j) / sqrt(2 - 2 G_yj),

    which needs only the (B, C) cosines and Gram rows - never the B x N x C
    tensor of normals. The target column (a zero normal) is returned as 0; a
    zero normal off the target (two identical class weights) also gives 0, as
    ``tf.math.l2_normalize`` of a zero vector does in the literal form, but with
    a zero gradient instead of the literal form's 1e6-amplified one.

    Args:
        labels: (B,) integer classes.
        cosines: (B, C) cosines between unit embeddings and unit class weights
            (the output of [`keras_angular.layers.CosineDense`][]).
        kernel: (N, C) class weights (normalised here).

    Returns:
        (B, C) float32 projections.

    Examples:
        >>> import numpy as np
        >>> cosines = np.array([[1.0, 0.0]], "float32")
        >>> kernel = np.eye(2, dtype="float32")
        >>> p = hyperplane_projections(np.array([0]), cosines, kernel)
        >>> np.asarray(p, "float64").round(4).tolist()
        [[0.0, 0.7071]]
    """
    cosines = ops.cast(cosines, "float32")
    labels = sparse_labels(labels)
    onehot = ops.one_hot(labels, ops.shape(cosines)[-1], dtype="float32")
    cos_target = target_values(onehot, cosines)
    normal_sq = 2.0 - 2.0 * gram_rows(labels, ops.cast(kernel, "float32"))
    projections = (cos_target[:, None] - cosines) * ops.rsqrt(ops.maximum(normal_sq, NORM_EPSILON))
    # A zero normal (the target column, or two identical class weights: 2 - 2G is then
    # float32 rounding noise, ~1e-7) projects to 0 with no gradient, where normalising
    # the noise would amplify the gradient by up to 1e6.
    return ops.where(ops.logical_and(onehot < 1, normal_sq > ZERO_NORMAL_SQ), projections, 0.0)


def hyperplane_projections_einsum(labels, embeddings, kernel):
    """The paper-literal HASeparator projections (Kansizoglou et al. Eq. 4-6).

    Builds the B x N x C tensor of normals ``H = T+ - W+`` (target minus other, as
    [`hyperplane_projections`][keras_angular.ops.hyperplane_projections]), normalises it over N and
    contracts it with the unit embeddings by ``einsum``. O(B*N*C) memory: a reference for tests and
    benchmarks, not for training.

    Args:
        labels: (B,) integer classes.
        embeddings: (B, N) raw embeddings.
        kernel: (N, C) class weights.

    Examples:
        >>> import numpy as np
        >>> embeddings = np.array([[2.0, 0.0]], "float32")
        >>> kernel = np.eye(2, dtype="float32")
        >>> p = hyperplane_projections_einsum(np.array([0]), embeddings, kernel)
        >>> np.asarray(p, "float64").round(4).tolist()
        [[0.0, 0.7071]]
    """
    unit_embeddings = l2_normalize(ops.cast(embeddings, "float32"), axis=-1)
    unit_kernel = l2_normalize(ops.cast(kernel, "float32"), axis=0)
    targets = ops.take(ops.transpose(unit_kernel), sparse_labels(labels), axis=0)
    normals = targets[:, :, None] - unit_kernel[None, :, :]  # (B, N, C)
    unit_normals = l2_normalize(normals, axis=1)
    return ops.einsum("bn,bnc->bc", unit_embeddings, unit_normals)


def _blocks(blocks):
    if blocks is None:
        return pair_blocks()
    if isinstance(blocks, bool) or not isinstance(blocks, int) or blocks < 1:
        raise ValueError(f"`blocks` must be None or an int >= 1, got {blocks!r}.")
    return blocks


def _block_rows(batch_size, blocks, what):
    if batch_size % blocks:
        raise ValueError(
            f"{what}: a batch of {batch_size} rows does not split into {blocks} equal device "
            "blocks; under keras.distribution.DataParallel the global batch must be a "
            f"multiple of the device count {blocks}."
        )
    return batch_size // blocks


def half_pairs(x, blocks=None):
    """Split a batch into halves and pair them element-wise (Choi et al. Sec. 3.1).

    Row ``i`` is paired with row ``i + P`` for ``i < P = floor(B / 2)``; with an
    odd batch the last row is left unpaired.

    With ``blocks = K > 1`` the batch is ``K`` contiguous blocks of ``b = B / K`` rows
    and each block pairs its own halves: row ``k b + i`` with row ``k b + i + floor(b/2)``.
    That is what each device does with its share of a global batch:
    ``tf.distribute.MirroredStrategy`` hands each replica its own ``b`` rows, and under
    ``keras.distribution.DataParallel`` (JAX, GSPMD) the loss sees the global batch, of
    which device ``k`` holds block ``k``.

    Args:
        x: (B, ...) rows.
        blocks: None (default): the device count of the active
            ``keras.distribution.DataParallel``, 1 when none is active
            ([`keras_angular.distribution.pair_blocks`][]); or an int ``K >= 1``
            that divides ``B``.

    Returns:
        ``(first, second)``, each of shape (K * floor(b / 2), ...), block by block.

    Raises:
        ValueError: ``B`` is not a multiple of ``K``.

    Examples:
        >>> import numpy as np
        >>> first, second = half_pairs(np.arange(5))
        >>> first.tolist(), second.tolist()
        ([0, 1], [2, 3])
        >>> first, second = half_pairs(np.arange(8), blocks=2)   # blocks 0-3 and 4-7
        >>> np.asarray(first).tolist(), np.asarray(second).tolist()
        ([0, 1, 4, 5], [2, 3, 6, 7])
    """
    blocks = _blocks(blocks)
    if blocks == 1:
        half = ops.shape(x)[0] // 2
        return x[:half], x[half : 2 * half]
    x = ops.convert_to_tensor(x)
    shape = tuple(ops.shape(x))
    rows = _block_rows(shape[0], blocks, "half_pairs")
    half = rows // 2
    grouped = ops.reshape(x, (blocks, rows, *shape[1:]))
    flat = (blocks * half, *shape[1:])
    first = ops.reshape(grouped[:, :half], flat)
    second = ops.reshape(grouped[:, half : 2 * half], flat)
    return first, second


def pair_values_to_samples(pair_values, batch_size, blocks=None):
    """Give each pair's value to both its members, so the batch mean is the pair mean.

    Keras reduces per-sample losses by ``sum / B``. Each paired row gets its
    pair's value times ``B / (2P)`` and an unpaired row (odd B) gets 0, so the
    default reduction equals the mean over the P pairs exactly; with no pair
    at all (B = 1) every value is 0.

    With ``blocks = K > 1`` (pairs from [`half_pairs`][keras_angular.ops.half_pairs] with the same
    ``K``) each block of ``b = B / K`` rows does this with its own ``p = floor(b / 2)`` pairs (a
    paired row gets ``b / (2p)`` times its pair's value), so the batch mean is the mean
    over blocks of each block's pair mean: the loss ``MirroredStrategy`` reports, the
    mean of its replicas' losses.

    Args:
        pair_values: (P,) values, one per pair from [`half_pairs`][keras_angular.ops.half_pairs].
        batch_size: B, the number of rows the pairs were drawn from.
        blocks: as for [`half_pairs`][keras_angular.ops.half_pairs].

    Returns:
        (B,) per-sample values.

    Examples:
        >>> import numpy as np
        >>> values = pair_values_to_samples(np.array([1.0, 3.0], "float32"), 5)
        >>> np.asarray(values).tolist()
        [1.25, 3.75, 1.25, 3.75, 0.0]
        >>> values = pair_values_to_samples(np.array([1.0, 3.0], "float32"), 6, blocks=2)
        >>> np.asarray(values).tolist()   # blocks of 3 rows: one pair each, one row unpaired
        [1.5, 1.5, 0.0, 4.5, 4.5, 0.0]
    """
    blocks = _blocks(blocks)
    pair_values = ops.convert_to_tensor(pair_values)
    if blocks == 1:
        pairs = ops.shape(pair_values)[0]
        scale = ops.cast(batch_size, pair_values.dtype) / ops.cast(
            ops.maximum(2 * pairs, 1), pair_values.dtype
        )
        unpaired = ops.zeros((batch_size - 2 * pairs,), dtype=pair_values.dtype)
        return ops.concatenate([pair_values * scale, pair_values * scale, unpaired], axis=0)
    rows = _block_rows(batch_size, blocks, "pair_values_to_samples")
    half = rows // 2
    values = ops.reshape(pair_values, (blocks, half)) * (rows / max(2 * half, 1))
    unpaired = ops.zeros((blocks, rows - 2 * half), dtype=pair_values.dtype)
    return ops.reshape(ops.concatenate([values, values, unpaired], axis=1), (batch_size,))


__all__ = [
    "ACOS_EPSILON",
    "NORM_EPSILON",
    "ZERO_NORMAL_SQ",
    "acos_domain",
    "as_tensor",
    "checked_labels",
    "nan_where_invalid",
    "gram_rows",
    "inverse_column_norms",
    "half_pairs",
    "hyperplane_projections",
    "hyperplane_projections_einsum",
    "l2_normalize",
    "pair_values_to_samples",
    "safe_acos",
    "sparse_labels",
    "target_values",
    "unit_column_matmul",
]
