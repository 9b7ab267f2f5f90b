"""The claim verdicts of a reproduced experiment, and the per-run keys every one compares.

``verdict`` judges one claim from per-seed numbers: held / did not hold / inconclusive
against the seed-to-seed spread (two-sided Welch t-test,
[`keras_angular.report.welch_p_value`][]).
"""

import math

import numpy as np

from keras_angular.report import welch_p_value

ALPHA = 0.05
"""Significance level of the claim verdicts (two-sided Welch t-test)."""

VERDICTS = ("held", "did not hold", "inconclusive")


def derived_metrics(result):
    """The per-run keys every experiment can compare besides
    [`run_method`][keras_angular.training.run_method]'s own: ``test_accuracy_pct``
    (``100 * test_accuracy``) and ``test_error_pct`` (``100 - test_accuracy_pct``), the units the
    papers print.

    Examples:
        >>> derived_metrics({"test_accuracy": 0.9})["test_error_pct"]
        10.0
    """
    accuracy = 100.0 * float(result["test_accuracy"])
    return {"test_accuracy_pct": accuracy, "test_error_pct": round(100.0 - accuracy, 10)}


def verdict(values, reference, direction, alpha=ALPHA):
    """Judge the claim "``values`` are ``direction`` (``"higher"``/``"lower"``) than
    ``reference``" from per-seed numbers.

    ``effect`` is ``mean(values) - mean(reference)``, negated for ``"lower"`` so that a
    positive effect is the claimed direction; ``sd`` the seed-to-seed SD pooled over both
    sides (``sqrt((s1^2 + s2^2) / 2)``, ``ddof=1``); ``effect_over_sd`` their ratio;
    ``p`` the two-sided Welch t-test p-value ([`keras_angular.report.welch_p_value`][]).

    * ``"held"``: ``p < alpha`` and ``effect > 0``;
    * ``"did not hold"``: ``p < alpha`` and ``effect < 0`` (the opposite direction, beyond
      the seed-to-seed spread);
    * ``"inconclusive"``: otherwise - also when either side has fewer than 2 seeds,
      where no spread is measured.

    Returns:
        A dict: ``verdict``, ``effect``, ``sd``, ``effect_over_sd``, ``p``, ``n``
        (seeds per side), ``mean``, ``reference_mean``.

    Examples:
        >>> verdict([0.90, 0.91, 0.92], [0.80, 0.81, 0.82], "higher")["verdict"]
        'held'
    """
    if direction not in ("higher", "lower"):
        raise ValueError(f"verdict: direction must be 'higher' or 'lower', got {direction!r}.")
    a, b = np.asarray(values, float), np.asarray(reference, float)
    if a.ndim != 1 or b.ndim != 1 or not len(a) or not len(b):
        raise ValueError("verdict: values and reference must be non-empty 1-d sequences.")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("verdict: values and reference must be finite (no NaN or Inf).")
    sign = 1.0 if direction == "higher" else -1.0
    effect = sign * float(a.mean() - b.mean())
    if len(a) < 2 or len(b) < 2:
        sd = p = ratio = math.nan
        label = "inconclusive"
    else:
        sd = float(math.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2.0))
        p = welch_p_value(a, b)
        if sd > 0:
            ratio = effect / sd
        else:
            ratio = 0.0 if effect == 0 else math.copysign(math.inf, effect)
        if p < alpha and effect > 0:
            label = "held"
        elif p < alpha and effect < 0:
            label = "did not hold"
        else:
            label = "inconclusive"
    return {
        "verdict": label,
        "effect": effect,
        "sd": sd,
        "effect_over_sd": ratio,
        "p": p,
        "n": [len(a), len(b)],
        "mean": float(a.mean()),
        "reference_mean": float(b.mean()),
    }


__all__ = ["ALPHA", "VERDICTS", "derived_metrics", "verdict"]
