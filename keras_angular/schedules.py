"""Training schedules of the four papers, as plain Python / NumPy functions.

Nothing here imports TensorFlow or Keras: every function maps a training time
(an epoch index, or any other counter such as an iteration number, as long as
the lengths are given in the same unit) to a multiplier or a learning rate.
``epoch`` may be a Python number or an array (the result is then an array of the
same shape), so a schedule can be plotted with ``np.arange(total)``.

=========================  ===============================================  =========
function                   paper, section                                   shape
=========================  ===============================================  =========
[`gaussian_ramp_up`][keras_angular.schedules.gaussian_ramp_up]   AMC-Loss Sec. 3.2 (after Laine &
Aila 2017)      0 -> 1 [`gaussian_ramp_down`][keras_angular.schedules.gaussian_ramp_down] AMC-Loss
Sec. 3.2 (after Laine & Aila 2017)      1 -> 0 [`one_cycle`][keras_angular.schedules.one_cycle]
Angular loss Sec. 4.1 (Smith 2018's 1cycle)      /\\_
[`step_decay`][keras_angular.schedules.step_decay]         HASeparator Sec. IV-A (/10 at fixed
steps)       staircase [`exponential_decay`][keras_angular.schedules.exponential_decay]  W-Softmax
Sec. 4.1 (rate 0.9 every 6000 steps)   exp =========================
===============================================  =========

Epochs are counted from 0, as Keras passes them to callbacks. To drive a
Keras learning rate with one of them, wrap it in
``keras.callbacks.LearningRateScheduler``:

```python
import functools, keras
from keras_angular.schedules import step_decay
lr = functools.partial(step_decay, initial=0.1, boundaries=(20, 30))
callback = keras.callbacks.LearningRateScheduler(lambda epoch: lr(epoch))
```

The AMC recipe (ramps of the loss weight, the learning rate and Adam's
``beta_1``) has ready callbacks in [`keras_angular.callbacks.ramps`][], and all
of it in one in [`keras_angular.callbacks.recipe`][].
"""

import math

import numpy as np

from keras_angular.checks import check_non_negative, check_positive, check_range

__all__ = [
    "gaussian_ramp_up",
    "gaussian_ramp_down",
    "one_cycle",
    "step_decay",
    "exponential_decay",
]


# ----------------------------------------------------------------------------- checks


def _times(owner, epoch):
    """``epoch`` as a float64 array, checked finite and >= 0."""
    try:
        t = np.asarray(epoch, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"{owner}: `epoch` must be a number or an array of numbers, got {epoch!r}."
        ) from None
    if not np.all(np.isfinite(t)):
        raise ValueError(f"{owner}: `epoch` must be finite, got {epoch!r}.")
    if np.any(t < 0):
        raise ValueError(f"{owner}: `epoch` must be >= 0 (epochs count from 0), got {epoch!r}.")
    return t


def _out(values):
    """A Python float for a scalar input, else the array."""
    values = np.asarray(values, dtype=np.float64)
    return float(values) if values.ndim == 0 else values


# ----------------------------------------------------------------------------- Gaussian ramps


def gaussian_ramp_up(epoch, length):
    """Gaussian ramp-up ``exp(-5 (1 - t / L)^2)`` for ``t < L``, then 1.

    AMC-Loss (Choi et al.), Sec. 3.2: the weight ``w(t)`` of the angular term and
    the learning rate rise over the first ``L = 80`` of 300 epochs as
    ``exp[-5 (1 - t/80)^2]``; the curve is Laine & Aila's ("Temporal ensembling
    for semi-supervised learning", ICLR 2017, Sec. 3 and App. A). It starts at
    ``exp(-5) = 0.0067`` (``t = 0``), reaches 1 at ``t = L`` and stays there.
    ``L = 0`` means no ramp (always 1).

    Args:
        epoch: ``t >= 0``, a number or an array (0-based epoch, or any counter).
        length: ``L >= 0``, the ramp-up length, in the unit of ``epoch``.

    Returns:
        A float in ``[exp(-5), 1]`` (an array for an array ``epoch``).

    Examples:
        >>> round(gaussian_ramp_up(0, 80), 6)      # exp(-5)
        0.006738
        >>> round(gaussian_ramp_up(40, 80), 6)     # exp(-5 / 4)
        0.286505
        >>> gaussian_ramp_up(80, 80), gaussian_ramp_up(5, 0)
        (1.0, 1.0)
    """
    name = "gaussian_ramp_up"
    length = check_non_negative(name, "length", length)
    t = _times(name, epoch)
    if length == 0:
        return _out(np.ones_like(t))
    phase = 1.0 - np.minimum(t, length) / length
    return _out(np.exp(-5.0 * phase * phase))


def gaussian_ramp_down(epoch, total, length):
    """Gaussian ramp-down ``exp(-12.5 (1 - (T - t) / L)^2)`` in the last ``L`` epochs, else 1.

    AMC-Loss (Choi et al.), Sec. 3.2: the learning rate and Adam's ``beta_1``
    are ramped down during the last ``L = 50`` of ``T = 300`` epochs with
    ``exp[-12.5 (1 - (300 - t)/50)^2]`` (the curve of Laine & Aila 2017, as in
    the mean-teacher code the AMC authors built on). The ramp is 1 up to and at
    ``t = T - L`` and falls to ``exp(-12.5) = 3.7e-6`` at ``t = T``; with 0-based
    epochs the last epoch ``T - 1`` gets ``exp(-12.5 (1 - 1/L)^2)``. Past ``T``
    the same formula keeps falling. ``L = 0`` means no ramp (always 1).

    Args:
        epoch: ``t >= 0``, a number or an array.
        total: ``T >= 0``, the number of training epochs.
        length: ``0 <= L <= T``, the ramp-down length.

    Returns:
        A float in ``(0, 1]`` (an array for an array ``epoch``).

    Examples:
        >>> gaussian_ramp_down(250, 300, 50)       # t = T - L: the ramp starts at 1
        1.0
        >>> round(gaussian_ramp_down(275, 300, 50), 6)   # exp(-12.5 / 4)
        0.043937
        >>> gaussian_ramp_down(300, 300, 50) == math.exp(-12.5)
        True
    """
    name = "gaussian_ramp_down"
    total = check_non_negative(name, "total", total)
    length = check_non_negative(name, "length", length)
    if length > total:
        raise ValueError(
            f"{name}: `length` ({length:g}) must not exceed `total` ({total:g}): the ramp-down "
            "would start before training does."
        )
    t = _times(name, epoch)
    if length == 0:
        return _out(np.ones_like(t))
    phase = 1.0 - (total - np.maximum(t, total - length)) / length
    return _out(np.exp(-12.5 * phase * phase))


# ----------------------------------------------------------------------------- one cycle


def one_cycle(
    epoch, total, max_lr, *, div_factor=10.0, final_div_factor=1000.0, cycle_fraction=0.9
):
    """Leslie Smith's "1cycle" learning-rate policy, linear form.

    The Angular-loss paper (Wu & Wang, Sec. 4.1, Table 1) trains with Adam and
    "the one cycle policy" of Smith, "A disciplined approach to neural network
    hyper-parameters: Part 1" (2018, Sec. 4.1), without giving its shape. We
    follow Smith's own description: a cycle of two linear steps *of equal
    length*, from ``low = max_lr / div_factor`` up to ``max_lr`` and back to
    ``low`` (he suggests ``low`` = 1/5 to 1/10 of the maximum), and a cycle "a
    little less than the total number of iterations" (``cycle_fraction``); in
    the remaining iterations the rate falls linearly, "several orders of
    magnitude less than the initial", to ``max_lr / final_div_factor``.
    With ``C = cycle_fraction * T`` and ``h = C / 2``:

    ```text
    t in [0, h]:   low + (max_lr - low) * t / h
    t in [h, C]:   max_lr - (max_lr - low) * (t - h) / h
    t in [C, T]:   low + (final - low) * (t - C) / (T - C)
    t >= T:        final
    ```

    (This is not fastai's cosine ``fit_one_cycle``; ``cycle_fraction=1`` gives
    the plain triangle ending at ``low``.)

    Args:
        epoch: ``t >= 0``, a number or an array (epochs or iterations).
        total: ``T > 0``, the training length in the unit of ``epoch``.
        max_lr: the peak learning rate (> 0), from an LR range test.
        div_factor: ``max_lr / low`` (>= 1); Smith: 5 to 10.
        final_div_factor: ``max_lr / final`` (>= ``div_factor``).
        cycle_fraction: ``C / T`` in ``(0, 1]``.

    Returns:
        The learning rate (a float, or an array for an array ``epoch``).

    Examples:
        >>> [round(one_cycle(t, 100, 0.1), 5) for t in (0, 45, 90, 100)]
        [0.01, 0.1, 0.01, 0.0001]
    """
    name = "one_cycle"
    total = check_positive(name, "total", total)
    max_lr = check_positive(name, "max_lr", max_lr)
    div_factor = check_range(name, "div_factor", div_factor, 1.0, math.inf)
    # the rate must end below where it starts
    final_div_factor = check_range(name, "final_div_factor", final_div_factor, div_factor, math.inf)
    cycle_fraction = check_range(name, "cycle_fraction", cycle_fraction, 0.0, 1.0, low_open=True)
    t = _times(name, epoch)
    low, final = max_lr / div_factor, max_lr / final_div_factor
    cycle = cycle_fraction * total
    half = cycle / 2.0
    up = low + (max_lr - low) * t / half
    down = max_lr - (max_lr - low) * (t - half) / half
    tail = total - cycle
    if tail > 0:
        anneal = low + (final - low) * np.minimum(t - cycle, tail) / tail
    else:
        anneal = np.full_like(t, low)
    lr = np.where(t <= half, up, np.where(t <= cycle, down, anneal))
    return _out(lr)


# ----------------------------------------------------------------------------- decays


def step_decay(epoch, initial, boundaries, factor=0.1):
    """Piecewise-constant decay: ``initial * factor ** (number of boundaries <= t)``.

    HASeparator (Kansizoglou et al.), Sec. IV-A: SGD from 0.1, "decreased by 10 at
    32k and 48k iterations" on CIFAR (``boundaries=(32000, 48000)`` with an
    iteration counter) and "at epochs 20 and 30" of 40 on the other sets
    (``boundaries=(20, 30)``). The rate changes at the start of each boundary
    epoch: with 0-based epochs, epochs 0-19 use ``initial``, 20-29
    ``initial * factor``, 30 onward ``initial * factor**2``.

    Args:
        epoch: ``t >= 0``, a number or an array.
        initial: the starting learning rate (> 0).
        boundaries: increasing, non-negative times at which the rate is multiplied
            by ``factor`` (a sequence; may be empty).
        factor: the multiplier at each boundary, in ``(0, 1]`` (0.1 = "divide by 10").

    Returns:
        The learning rate (a float, or an array for an array ``epoch``).

    Examples:
        >>> [round(step_decay(t, 0.1, (20, 30)), 6) for t in (0, 19, 20, 30, 39)]
        [0.1, 0.1, 0.01, 0.001, 0.001]
    """
    name = "step_decay"
    initial = check_positive(name, "initial", initial)
    factor = check_range(name, "factor", factor, 0.0, 1.0, low_open=True)
    if isinstance(boundaries, (str, bytes)) or not hasattr(boundaries, "__iter__"):
        raise ValueError(f"{name}: `boundaries` must be a sequence of numbers, got {boundaries!r}.")
    bounds = [check_non_negative(name, "boundaries[i]", b) for b in boundaries]
    if any(b2 <= b1 for b1, b2 in zip(bounds, bounds[1:], strict=False)):
        raise ValueError(
            f"{name}: `boundaries` must be strictly increasing, got {list(boundaries)!r}."
        )
    t = _times(name, epoch)
    drops = np.searchsorted(np.asarray(bounds, dtype=np.float64), t, side="right")
    return _out(initial * factor**drops)


def exponential_decay(epoch, initial, rate, decay_steps=1, staircase=False):
    """Exponential decay ``initial * rate ** (t / decay_steps)``.

    W-Softmax (Li & Wang), Sec. 4.1: momentum SGD from 0.01 (MNIST, CIFAR) with
    "exponential decay rate 0.9 and decay step 6000", i.e. TensorFlow's
    ``exponential_decay(0.01, global_step, 6000, 0.9)``: with an iteration
    counter, ``exponential_decay(step, 0.01, 0.9, decay_steps=6000)``.
    ``staircase=True`` uses ``floor(t / decay_steps)``, so the rate changes in
    steps, as TensorFlow's option of the same name.

    Args:
        epoch: ``t >= 0``, a number or an array (epochs or iterations).
        initial: the learning rate at ``t = 0`` (> 0).
        rate: the decay per ``decay_steps``, in ``(0, 1]``.
        decay_steps: ``> 0``, in the unit of ``epoch``.
        staircase: decay in whole steps of ``decay_steps``.

    Returns:
        The learning rate (a float, or an array for an array ``epoch``).

    Examples:
        >>> round(exponential_decay(6000, 0.01, 0.9, decay_steps=6000), 6)
        0.009
        >>> exponential_decay(5999, 0.01, 0.9, decay_steps=6000, staircase=True)
        0.01
    """
    name = "exponential_decay"
    initial = check_positive(name, "initial", initial)
    rate = check_range(name, "rate", rate, 0.0, 1.0, low_open=True)
    decay_steps = check_positive(name, "decay_steps", decay_steps)
    t = _times(name, epoch)
    exponent = t / decay_steps
    if staircase:
        exponent = np.floor(exponent)
    return _out(initial * rate**exponent)
