"""Hyper-parameter checks that fail at construction with one clear sentence."""

import math


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_positive(owner, name, value):
    """Return ``float(value)`` if it is a finite number > 0, else raise ``ValueError``."""
    if not _is_number(value) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{owner}: `{name}` must be a finite number > 0, got {value!r}.")
    return float(value)


def check_range(owner, name, value, low, high, *, low_open=False):
    """Return ``float(value)`` if ``low (<|<=) value <= high``, else raise ``ValueError``."""
    inside = _is_number(value) and not math.isnan(value)
    inside = inside and ((low < value) if low_open else (low <= value)) and value <= high
    if not inside:
        bracket = "(" if low_open else "["
        raise ValueError(f"{owner}: `{name}` must lie in {bracket}{low}, {high}], got {value!r}.")
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
