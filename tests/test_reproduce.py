"""keras_angular.reproduce: the experiments run at ``tiny`` and report beside the paper;
the claim verdicts and the statistics against hand-computed references."""

import json
import math
import os
import re

import keras
import numpy as np
import pytest
from scipy import stats

from keras_angular.data import subsample
from keras_angular.reproduce import EXPERIMENTS, SCALES, get_experiment, run_experiment
from keras_angular.reproduce.base import Claim, Data, Experiment, PaperValue, Run, Scale
from keras_angular.reproduce.runner import (
    check_plan,
    finished_run,
    load_data,
    match_setting,
    paper_values_for,
    resolve_scale,
    run_settings,
    slug,
    verdict,
)
from keras_angular.run_config import RunConfig


def _welch_reference(a, b):
    """Welch's t-test written out (Welch 1947): t, Welch-Satterthwaite df, two-sided p."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    t = (a.mean() - b.mean()) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    return 2 * stats.t.sf(abs(t), df)


# --------------------------------------------------------------------------- verdicts


def test_verdict_held_on_hand_made_numbers():
    a, b = [0.90, 0.91, 0.92], [0.80, 0.81, 0.82]
    result = verdict(a, b, "higher")
    assert result["verdict"] == "held"
    assert result["effect"] == pytest.approx(0.10)
    assert result["sd"] == pytest.approx(0.01)  # both SDs are 0.01 (ddof=1)
    assert result["effect_over_sd"] == pytest.approx(10.0)
    # t = 0.1 / sqrt(2 * 0.0001 / 3) = 12.25 on 4 degrees of freedom
    assert result["p"] == pytest.approx(_welch_reference(a, b), rel=1e-9)
    assert result["p"] < 1e-3


def test_verdict_did_not_hold_when_the_opposite_direction_is_significant():
    # the claim says "lower error", our errors are clearly higher
    result = verdict([7.0, 7.2, 7.1], [6.0, 6.1, 5.9], "lower")
    assert result["verdict"] == "did not hold"
    assert result["effect"] == pytest.approx(-1.1)
    assert result["effect_over_sd"] == pytest.approx(-1.1 / 0.1)


def test_verdict_inconclusive_within_the_seed_spread_and_with_one_seed():
    spread = verdict([0.80, 0.90, 0.85], [0.84, 0.82, 0.86], "higher")
    assert spread["verdict"] == "inconclusive"
    assert spread["p"] == pytest.approx(
        _welch_reference([0.80, 0.90, 0.85], [0.84, 0.82, 0.86]), rel=1e-9
    )
    assert spread["p"] > 0.05
    one_seed = verdict([0.99], [0.10], "higher")  # a huge difference, but no spread measured
    assert one_seed["verdict"] == "inconclusive"
    assert math.isnan(one_seed["sd"]) and math.isnan(one_seed["p"])
    assert one_seed["effect"] == pytest.approx(0.89)


def test_verdict_rejects_bad_input():
    with pytest.raises(ValueError, match="direction"):
        verdict([1.0, 2.0], [1.0, 2.0], "bigger")
    with pytest.raises(ValueError, match="finite"):
        verdict([1.0, float("nan")], [1.0, 2.0], "higher")
    with pytest.raises(ValueError, match="non-empty"):
        verdict([], [1.0], "higher")


# --------------------------------------------------------------------------- pieces


def test_paper_value_radians_are_shown_in_degrees():
    value = PaperValue("Angular Table 2", "CIFAR10", "Soft", "wc_intra_deg", 0.9089, unit="rad")
    assert value.in_our_units()[0] == pytest.approx(52.077, abs=1e-3)  # 0.9089 * 180 / pi
    with pytest.raises(ValueError, match="unit"):
        PaperValue("T", "S", "r", "m", 1.0, unit="furlongs")


def test_match_setting_names_the_paper_column():
    settings = ["MNIST", "CIFAR10", "CIFAR100", "SVHN", "Fashion-MNIST"]
    assert match_setting("../shared/data/cifar10_test.npz", settings) == "CIFAR10"
    assert match_setting("cifar100", settings) == "CIFAR100"
    assert match_setting("svhn_cropped", settings) == "SVHN"
    assert match_setting("data/fashion_mnist.npz", settings) == "Fashion-MNIST"
    assert match_setting("mnist_test.npz", settings) == "MNIST"
    assert match_setting("digits", settings) is None


def test_subsample_keeps_class_shares(digits):
    from keras_angular.data import DatasetSplits

    x, y = digits
    splits = DatasetSplits(
        x[:1000].reshape(-1, 8, 8, 1),
        y[:1000],
        x[1000:].reshape(-1, 8, 8, 1),
        y[1000:],
        10,
        [str(c) for c in range(10)],
        "digits",
    )
    small = subsample(splits, 200, 100, seed=3)
    assert (len(small.y_train), len(small.y_test)) == (200, 100)
    expected = np.bincount(y[:1000], minlength=10) * 200 / 1000
    assert np.abs(np.bincount(small.y_train, minlength=10) - expected).max() <= 1
    # every kept image is one of the originals, with its own label
    for image, label in zip(small.x_train[:20], small.y_train[:20], strict=True):
        match = np.flatnonzero((splits.x_train == image).all(axis=(1, 2, 3)))
        assert len(match) and label in splits.y_train[match]
    assert subsample(splits, None, None) is splits


def _toy_experiment(**changes):
    runs = (Run("A", "softmax"), Run("B", "amc"))
    scale = Scale(data=(Data("digits"),), runs=runs, seeds=1, settings={"epochs": 1})
    fields = dict(
        name="toy",
        title="toy",
        paper="none",
        scales={s: scale for s in SCALES},
        paper_values=(
            PaperValue("T1", "MNIST", "A", "test_accuracy_pct", 90.0),
            PaperValue("T1", "CIFAR10", "A", "test_accuracy_pct", 80.0),
            PaperValue("T2", "CIFAR10", "A", "wc_intra_deg", 1.0, unit="rad"),
        ),
        claims=(Claim("B beats A", "test_accuracy_pct", "B", "A", "higher", "T1"),),
    )
    fields.update(changes)
    return Experiment(**fields)


def test_paper_values_for_prefers_the_same_dataset():
    experiment = _toy_experiment()
    chosen = paper_values_for(experiment, "MNIST")
    assert [(v.setting, v.metric) for v in chosen] == [
        ("MNIST", "test_accuracy_pct"),
        ("CIFAR10", "wc_intra_deg"),  # given on CIFAR10 only: shown, as another dataset's
    ]


def test_experiment_declarations_are_checked():
    with pytest.raises(ValueError, match="no Scale"):
        _toy_experiment(scales={})
    with pytest.raises(ValueError, match="baseline"):
        _toy_experiment(baseline="Z")
    with pytest.raises(ValueError, match="direction"):
        Claim("x", "m", "A", "B", "up", "T")
    experiment = _toy_experiment()
    with pytest.raises(ValueError, match="scale"):
        resolve_scale(experiment, "huge")
    with pytest.raises(ValueError, match="seeds"):
        resolve_scale(experiment, "tiny", seeds=0)
    resolved = resolve_scale(experiment, "tiny", dataset="x/cifar10_test.npz", seeds=3)
    assert resolved.seeds == 3 and resolved.data[0].setting == "CIFAR10"
    assert [r.label for r in resolve_scale(experiment, "tiny", runs=["B"]).runs] == ["B"]
    with pytest.raises(ValueError, match="runs"):
        resolve_scale(experiment, "tiny", runs=["C"])
    with pytest.raises(ValueError, match="Unknown experiment"):
        get_experiment("no-such-experiment")


@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_every_scale_declares_runs_the_package_accepts(name):
    """The full and small runs are too long for CI: their settings are checked without
    training (RunConfig fields and values, method names and overrides)."""
    experiment = get_experiment(name)
    for scale_name in SCALES:
        check_plan(resolve_scale(experiment, scale_name))


def test_arc_angles_reads_table4_from_the_history():
    from keras_angular.reproduce.arc_angles import derive

    history = {"val_logits_accuracy": [0.5 + 0.02 * e for e in range(20)]}  # 0.50 ... 0.88
    derived = derive({"history": history}, "small")
    assert derived["val_error_curve_pct"][0] == pytest.approx(50.0)
    assert derived["error_at_10_epochs_pct"] == pytest.approx(100 * (1 - 0.68))
    assert derived["error_at_20_epochs_pct"] == pytest.approx(100 * (1 - 0.88))
    assert "error_at_80_epochs_pct" not in derived
    assert derived["val_error_mean_pct"] == pytest.approx(
        100 * (1 - np.mean(history["val_logits_accuracy"]))
    )


# --------------------------------------------------------------------------- tiny runs


def _expected_verdict(claim, per_run):
    """The documented rule, from the per-seed values with scipy's Welch test: "held" /
    "did not hold" when p < 0.05 in / against the claim's direction, "not checked" when
    a row did not run, "inconclusive" otherwise (also under 2 seeds a side)."""
    a, b = (
        np.array([r[claim["metric"]] for r in per_run.get(label, []) if claim["metric"] in r])
        for label in (claim["row"], claim["than"])
    )
    if not len(a) or not len(b):
        return "not checked"
    if len(a) < 2 or len(b) < 2:
        return "inconclusive"
    effect = (1.0 if claim["direction"] == "higher" else -1.0) * (a.mean() - b.mean())
    if a.var() == 0 and b.var() == 0:  # no spread: p is 0 for different means, else 1
        p = 0.0 if a.mean() != b.mean() else 1.0
    else:
        p = stats.ttest_ind(a, b, equal_var=False).pvalue
    if p < 0.05 and effect != 0:
        return "held" if effect > 0 else "did not hold"
    return "inconclusive"


@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_every_experiment_runs_at_tiny_and_reports_beside_the_paper(name, tmp_path):
    experiment = get_experiment(name)
    out = tmp_path / name
    logged = []
    report = run_experiment(name, "tiny", out_dir=str(out), log=logged.append)
    assert (out / "report.md").is_file() and (out / "report.json").is_file()
    # progress: after each trained run, its time and what is left at that pace
    runs_trained = len(experiment.scales["tiny"].runs) * experiment.scales["tiny"].seeds
    assert sum("left at this pace" in line for line in logged) == runs_trained
    with open(out / "report.json") as f:
        written = json.load(f)
    assert written["experiment"] == name and written["scale"] == "tiny"
    text = (out / "report.md").read_text()
    scale = experiment.scales["tiny"]
    (section,) = written["datasets"]
    for run in scale.runs:
        assert f"| {run.label} |" in text
    # the first run's reported accuracy is its saved model's on the same test images
    first = scale.runs[0].label
    splits = load_data(scale.data[0])
    model = keras.saving.load_model(
        os.path.join(section["folder"], slug(first), "seed_0", "model.keras"), compile=False
    )
    logits = model.predict(splits.x_test, verbose=0)["logits"]
    accuracy = 100 * np.mean(np.argmax(logits, axis=-1) == splits.y_test)
    assert section["per_run"][first][0]["test_accuracy_pct"] == pytest.approx(accuracy)
    assert len(splits.y_test) == section["test_images"]
    # run again, that finished run is read back, not trained; with another seed it is not
    run_dir = os.path.join(section["folder"], slug(first), "seed_0")
    config = RunConfig(**run_settings(scale, scale.runs[0]))
    again = finished_run(run_dir, scale.runs[0].method, splits, config.replace(seed=0))
    assert again["test_accuracy"] * 100 == pytest.approx(accuracy)
    assert finished_run(run_dir, scale.runs[0].method, splits, config.replace(seed=1)) is None
    # the paper's figures, as printed, beside ours
    for value in paper_values_for(experiment, section["paper_setting"]):
        if value.row in {r.label for r in scale.runs}:
            assert any(
                e["paper"] == value.value and e["row"] == value.row and e["metric"] == value.metric
                for e in section["paper_comparison"]
            )
            assert f"{value.value:.2f}" in text or f"{value.value:.4f}" in text
    assert len(section["claims"]) == len(experiment.claims)
    for claim in section["claims"]:
        assert claim["verdict"] == _expected_verdict(claim, section["per_run"]), claim
        assert claim["text"] in text
    assert report["datasets"][0]["dataset"] == section["dataset"]
    # every figure the report shows is where its link points (relative to report.md)
    for link in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text):
        assert (out / link).is_file(), link
    # the runs' training time is reported, and kept when a rerun reads every run back
    assert written["train_seconds"] > 0 and "the runs' training took" in text
    logged.clear()
    again_report = run_experiment(name, "tiny", out_dir=str(out), log=logged.append)
    assert again_report["train_seconds"] == pytest.approx(written["train_seconds"])
    assert not any("left at this pace" in line for line in logged)  # nothing trained
