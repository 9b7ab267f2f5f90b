"""Hyper-parameter checks that fail at construction with one clear sentence."""

import math
import numbers


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_positive(owner, name, value):
    """Return ``float(value)`` if it is a finite number > 0, else raise ``ValueError``."""
    if not _is_number(value) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{owner}: `{name}` must be a finite number > 0, got {value!r}.")
    return float(value)


def check_non_negative(owner, name, value):
    """Return ``float(value)`` if it is a finite number >= 0, else raise ``ValueError``."""
    if not _is_number(value) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{owner}: `{name}` must be a finite number >= 0, got {value!r}.")
    return float(value)


def check_range(owner, name, value, low, high, *, low_open=False, high_open=False):
    """Return ``float(value)`` if ``low (<|<=) value (<|<=) high``, else raise ``ValueError``."""
    inside = _is_number(value) and not math.isnan(value)
    inside = inside and ((low < value) if low_open else (low <= value))
    inside = inside and ((value < high) if high_open else (value <= high))
    if not inside:
        bracket = ("(" if low_open else "[", ")" if high_open else "]")
        raise ValueError(
            f"{owner}: `{name}` must lie in {bracket[0]}{low}, {high}{bracket[1]}, got {value!r}."
        )
    return float(value)


def check_int(owner, name, value, low, high=None):
    """Return ``value`` if it is an int in ``[low, high]``, else raise ``ValueError``."""
    if (
        not isinstance(value, int)
        or isinstance(value, bool)
        or value < low
        or (high is not None and value > high)
    ):
        bound = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"{owner}: `{name}` must be an int {bound}, got {value!r}.")
    return value


def check_prediction_shape(owner, y_true, y_pred, layout="(batch, num_classes)", units=None):
    """Static (trace-time) checks of ``y_pred``; raise ``ValueError`` naming ``owner``.

    ``y_pred`` must have rank 2 (``layout`` says what its axes are); when ``units``
    is given its last axis must equal it (the head the loss was given), and when
    both batch sizes are known they must agree with ``y_true``'s.
    """
    shape = tuple(y_pred.shape)
    if len(shape) != 2:
        raise ValueError(f"{owner}: y_pred must have shape {layout}, got shape {shape}.")
    if units is not None and shape[-1] is not None and shape[-1] != units:
        raise ValueError(
            f"{owner}: y_pred has {shape[-1]} classes but the head given to the loss has "
            f"{units} units; y_pred must be that head's output."
        )
    true_shape = tuple(getattr(y_true, "shape", ()))
    if true_shape and None not in (true_shape[0], shape[0]) and true_shape[0] != shape[0]:
        raise ValueError(f"{owner}: y_true has {true_shape[0]} samples but y_pred has {shape[0]}.")
