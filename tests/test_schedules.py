"""keras_angular.schedules against the papers' formulas, written out independently here."""

import math

import numpy as np
import pytest

from keras_angular import schedules as S

# --------------------------------------------------------------------------- Gaussian ramp-up
# AMC Sec. 3.2: w(t) = exp[-5 (1 - t/80)^2] during the first 80 epochs, then 1.


def test_ramp_up_hand_values():
    assert S.gaussian_ramp_up(0, 80) == pytest.approx(math.exp(-5.0), rel=1e-12)
    assert S.gaussian_ramp_up(40, 80) == pytest.approx(math.exp(-1.25), rel=1e-12)
    assert S.gaussian_ramp_up(60, 80) == pytest.approx(math.exp(-5 / 16), rel=1e-12)
    assert S.gaussian_ramp_up(80, 80) == 1.0
    assert S.gaussian_ramp_up(299, 80) == 1.0


@pytest.mark.parametrize("length", [1, 5, 80, 12.5])
def test_ramp_up_matches_formula_everywhere(length):
    for t in np.arange(0, 2 * length + 3, 0.5):
        expected = math.exp(-5 * (1 - t / length) ** 2) if t < length else 1.0
        assert S.gaussian_ramp_up(t, length) == pytest.approx(expected, rel=1e-12, abs=0)


def test_ramp_up_zero_length_is_one():
    assert S.gaussian_ramp_up(0, 0) == 1.0
    assert S.gaussian_ramp_up(7, 0) == 1.0


def test_ramp_up_is_monotone_and_continuous():
    t = np.linspace(0, 100, 2001)
    values = S.gaussian_ramp_up(t, 80)
    assert isinstance(values, np.ndarray) and values.shape == t.shape
    assert np.all(np.diff(values) >= 0)
    assert np.max(np.abs(np.diff(values))) < 1e-2  # no jump at t = L


# --------------------------------------------------------------------------- Gaussian ramp-down
# AMC Sec. 3.2: exp[-12.5 (1 - (300 - t)/50)^2] during the last 50 of 300 epochs.


def test_ramp_down_hand_values():
    assert S.gaussian_ramp_down(0, 300, 50) == 1.0
    assert S.gaussian_ramp_down(249, 300, 50) == 1.0
    # At the boundary t = T - L the paper's formula gives exp(0) = 1 (continuous) ...
    assert S.gaussian_ramp_down(250, 300, 50) == 1.0
    # ... half-way exp(-12.5/4), and exp(-12.5) at t = T.
    assert S.gaussian_ramp_down(275, 300, 50) == pytest.approx(math.exp(-3.125), rel=1e-12)
    assert S.gaussian_ramp_down(300, 300, 50) == pytest.approx(math.exp(-12.5), rel=1e-12)
    # The last 0-based epoch, T - 1.
    assert S.gaussian_ramp_down(299, 300, 50) == pytest.approx(
        math.exp(-12.5 * (1 - 1 / 50) ** 2), rel=1e-12
    )


@pytest.mark.parametrize("total,length", [(300, 50), (10, 3), (20, 20), (7, 2.5)])
def test_ramp_down_matches_formula_everywhere(total, length):
    for t in np.arange(0, total + 1, 0.25):
        expected = math.exp(-12.5 * (1 - (total - t) / length) ** 2) if t >= total - length else 1
        assert S.gaussian_ramp_down(t, total, length) == pytest.approx(expected, rel=1e-12)


def test_ramp_down_zero_length_and_arrays():
    assert S.gaussian_ramp_down(299, 300, 0) == 1.0
    t = np.arange(300)
    values = S.gaussian_ramp_down(t, 300, 50)
    assert values.shape == (300,)
    assert np.all(np.diff(values) <= 0)
    assert np.all(values[:251] == 1.0) and np.all(values[251:] < 1.0)


# --------------------------------------------------------------------------- one cycle


def _smith_one_cycle(t, total, max_lr, div=10.0, final_div=1000.0, frac=0.9):
    low, final = max_lr / div, max_lr / final_div
    cycle = frac * total
    half = cycle / 2
    if t <= half:
        return low + (max_lr - low) * t / half
    if t <= cycle:
        return max_lr - (max_lr - low) * (t - half) / half
    if t >= total:
        return final
    return low + (final - low) * (t - cycle) / (total - cycle)


def test_one_cycle_hand_values():
    # total 100: up 0..45, down 45..90, anneal 90..100.
    assert S.one_cycle(0, 100, 0.1) == pytest.approx(0.01)
    assert S.one_cycle(22.5, 100, 0.1) == pytest.approx(0.055)
    assert S.one_cycle(45, 100, 0.1) == pytest.approx(0.1)
    assert S.one_cycle(90, 100, 0.1) == pytest.approx(0.01)
    assert S.one_cycle(95, 100, 0.1) == pytest.approx((0.01 + 0.0001) / 2)
    assert S.one_cycle(100, 100, 0.1) == pytest.approx(0.0001)
    assert S.one_cycle(130, 100, 0.1) == pytest.approx(0.0001)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"div_factor": 5.0, "final_div_factor": 5e3},
        {"cycle_fraction": 1.0},
        {"cycle_fraction": 0.6},
    ],
)
def test_one_cycle_matches_formula(kwargs):
    mapping = {"div_factor": "div", "final_div_factor": "final_div", "cycle_fraction": "frac"}
    ref_kwargs = {mapping[k]: v for k, v in kwargs.items()}
    t = np.arange(0, 161)
    got = S.one_cycle(t, 160, 0.1, **kwargs)
    expected = [_smith_one_cycle(float(x), 160, 0.1, **ref_kwargs) for x in t]
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert np.argmax(got) == round(0.5 * kwargs.get("cycle_fraction", 0.9) * 160)


# --------------------------------------------------------------------------- step / exponential


def test_step_decay_haseparator():
    # "initial learning rate of 0.1 that decreases by 10 at epochs 20 and 30" (40 epochs).
    expected = [0.1] * 20 + [0.01] * 10 + [0.001] * 10
    got = S.step_decay(np.arange(40), 0.1, (20, 30))
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert S.step_decay(47999, 0.1, [32000, 48000]) == pytest.approx(0.01)
    assert S.step_decay(48000, 0.1, [32000, 48000]) == pytest.approx(0.001)
    assert S.step_decay(5, 0.3, []) == 0.3
    assert S.step_decay(5, 1.0, [1, 2], factor=0.5) == 0.25


def test_exponential_decay_w_softmax():
    # lr 0.01, decay rate 0.9 per 6000 steps (TensorFlow's exponential_decay).
    for step in (0, 1, 3000, 6000, 11999, 12345, 60000):  # 11999: floor 1, round 2
        assert S.exponential_decay(step, 0.01, 0.9, decay_steps=6000) == pytest.approx(
            0.01 * 0.9 ** (step / 6000), rel=1e-12
        )
        assert S.exponential_decay(step, 0.01, 0.9, 6000, staircase=True) == pytest.approx(
            0.01 * 0.9 ** (step // 6000), rel=1e-12
        )
    assert S.exponential_decay(3, 1.0, 0.5) == 0.125


def test_scalar_in_float_out_array_in_array_out():
    for fn, args in [
        (S.gaussian_ramp_up, (10,)),
        (S.gaussian_ramp_down, (10, 3)),
        (S.one_cycle, (10, 0.1)),
        (S.step_decay, (0.1, (3,))),
        (S.exponential_decay, (0.1, 0.9)),
    ]:
        assert type(fn(2, *args)) is float
        out = fn(np.array([[0, 1], [2, 3]]), *args)
        assert isinstance(out, np.ndarray) and out.shape == (2, 2)


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: S.gaussian_ramp_up(0, -1), "length.*>= 0"),
        (lambda: S.gaussian_ramp_up(-1, 10), "epoch.*>= 0"),
        (lambda: S.gaussian_ramp_up(float("nan"), 10), "epoch.*finite"),
        (lambda: S.gaussian_ramp_up(0, float("inf")), "finite"),
        (lambda: S.gaussian_ramp_up(0, "80"), "length.*finite number"),
        (lambda: S.gaussian_ramp_up("a", 80), "epoch"),
        (lambda: S.gaussian_ramp_down(0, 300, -5), "length.*>= 0"),
        (lambda: S.gaussian_ramp_down(0, -300, 5), "total.*>= 0"),
        (lambda: S.gaussian_ramp_down(0, 10, 20), "must not exceed"),
        (lambda: S.one_cycle(0, 0, 0.1), "total.*> 0"),
        (lambda: S.one_cycle(0, 10, -0.1), "max_lr.*> 0"),
        (lambda: S.one_cycle(0, 10, 0.1, div_factor=0.5), "div_factor"),
        (lambda: S.one_cycle(0, 10, 0.1, div_factor=10, final_div_factor=2), "final_div_factor"),
        (lambda: S.one_cycle(0, 10, 0.1, cycle_fraction=0), "cycle_fraction"),
        (lambda: S.one_cycle(0, 10, 0.1, cycle_fraction=1.5), "cycle_fraction"),
        (lambda: S.step_decay(0, 0.1, (30, 20)), "strictly increasing"),
        (lambda: S.step_decay(0, 0.1, (-1, 20)), ">= 0"),
        (lambda: S.step_decay(0, 0.1, 20), "sequence"),
        (lambda: S.step_decay(0, 0.1, (20,), factor=0), "factor"),
        (lambda: S.step_decay(0, 0.0, (20,)), "initial.*> 0"),
        (lambda: S.exponential_decay(0, 0.1, 1.5), "rate"),
        (lambda: S.exponential_decay(0, 0.1, 0.9, decay_steps=0), "decay_steps"),
        (lambda: S.exponential_decay(-2, 0.1, 0.9), "epoch"),
    ],
)
def test_bad_arguments_raise_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_schedules_module_imports_only_numpy():
    import ast

    tree = ast.parse(open(S.__file__).read())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module.split(".")[0])
    assert imported <= {"math", "numpy", "keras_angular"}, imported
    # and keras_angular.checks imports nothing beyond the standard library
    checks = ast.parse(open(S.__file__.replace("schedules.py", "checks.py")).read())
    modules = {a.name for n in ast.walk(checks) if isinstance(n, ast.Import) for a in n.names}
    assert modules <= {"math", "numbers"}, modules
