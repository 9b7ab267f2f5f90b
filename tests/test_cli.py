"""`keras-angular train` / `compare` end to end on the bundled digits, at tiny scale."""

import json
import math
import os

import keras
import numpy as np
import pytest
from scipy import stats

from keras_angular.cli import main
from keras_angular.metrics import GEOMETRY_KEYS
from keras_angular.report import welch_p_value


def test_welch_p_value_matches_the_textbook_formula():
    a, b = np.array([0.91, 0.93, 0.92, 0.95]), np.array([0.89, 0.90, 0.88])
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    t = (a.mean() - b.mean()) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    assert welch_p_value(a, b) == pytest.approx(2 * stats.t.sf(abs(t), df), rel=1e-9)
    assert math.isnan(welch_p_value([0.9], b))


def test_train_writes_model_export_history_and_metrics(tmp_path):
    out = tmp_path / "amc"
    code = main(
        ["train", "--method", "amc", "--epochs", "2", "--batch-size", "64", "--out", str(out)]
    )
    assert code == 0
    for name in [
        "model.keras",
        "history.json",
        "metrics.json",
        "saved_model/saved_model.pb",
        "figures/tsne.png",
        "figures/pair_angles.png",
    ]:
        assert (out / name).exists(), name
    result = json.loads((out / "metrics.json").read_text())
    history = json.loads((out / "history.json").read_text())
    assert len(history["loss"]) == 2 and "loss_weight" in history
    # the reported accuracy is the saved model's on the default data's test images
    from keras_angular.data import load_dataset

    splits = load_dataset("digits")
    model = keras.saving.load_model(out / "model.keras", compile=False)
    logits = model.predict(splits.x_test, verbose=0)["logits"]
    assert result["test_accuracy"] == pytest.approx(np.mean(logits.argmax(-1) == splits.y_test))
    for key in GEOMETRY_KEYS:
        assert math.isfinite(result[key]), key
    # one unit, named in the key: no angle in radians under a bare name
    assert not {"w_inter", "c_inter", "cw_inter", "wc_intra", "emd"} & set(result)
    for key in ["w_inter_deg", "c_inter_deg", "cw_inter_deg", "wc_intra_deg", "emd_deg"]:
        assert 0.0 <= result[key] <= 180.0, key
    assert len(result["class_mean_angles_deg"]) == 10

    # the saved model predicts what the metrics say it does
    from keras_angular.data import load_dataset

    splits = load_dataset("digits", seed=0)
    model = keras.saving.load_model(out / "model.keras", compile=False)
    logits = model.predict(splits.x_test, verbose=0)["logits"]
    accuracy = np.mean(np.argmax(logits, -1) == splits.y_test)
    assert accuracy == pytest.approx(result["test_accuracy"])


def test_compare_writes_a_report_with_a_row_per_method(tmp_path, capsys):
    out = tmp_path / "cmp"
    code = main(
        [
            "compare",
            "--methods",
            "softmax,arc,haseparator",
            "--seeds",
            "2",
            "--epochs",
            "2",
            "--batch-size",
            "128",
            "--no-figures",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    assert [row["method"] for row in report["rows"]] == ["softmax", "arc", "haseparator"]
    for row in report["rows"]:
        assert row["runs"] == 2 and len(row["accuracies"]) == 2
        assert row["accuracy_mean"] == pytest.approx(np.mean(row["accuracies"]))
    arc = report["rows"][1]
    baseline = report["rows"][0]["accuracies"]
    assert arc["p_value"] == pytest.approx(welch_p_value(arc["accuracies"], baseline), nan_ok=True)
    # report.json's geometry is the mean of the runs' metrics.json, same keys, same units
    for row in report["rows"]:
        runs = [
            json.loads((out / row["method"] / f"seed_{seed}" / "metrics.json").read_text())
            for seed in range(2)
        ]
        for key in GEOMETRY_KEYS:
            assert row[key] == pytest.approx(np.mean([r[key] for r in runs]), rel=1e-12), key
    text = (out / "report.md").read_text()
    assert "| haseparator |" in text and "p vs softmax" in text
    # report.md shows report.json's degrees as they are (one decimal)
    softmax_line = next(line for line in text.splitlines() if line.startswith("| softmax |"))
    w_inter_deg = report["rows"][0]["w_inter_deg"]
    assert f"| {w_inter_deg:.1f} |" in softmax_line
    assert os.path.exists(out / "kl_emd.png")
    assert "| arc |" in capsys.readouterr().out


def test_unknown_names_fail_with_one_clear_sentence(capsys):
    assert main(["train", "--method", "nope"]) == 2
    assert "Unknown method 'nope'" in capsys.readouterr().err
    assert main(["compare", "--methods", "softmax,nope"]) == 2
    assert main(["train", "--method", "arc", "--set", "margin=0.3"]) == 2
    assert "no parameter margin" in capsys.readouterr().err
    assert main(["train", "--method", "arc", "--strategy", "multiworker"]) == 2
    assert "keras-team/keras#20585" in capsys.readouterr().err
    assert (
        main(
            [
                "train",
                "--method",
                "arc",
                "--dataset",
                "no_such_dataset_xyz",
                "--data-dir",
                "/nonexistent",
            ]
        )
        == 2
    )
    assert "no_such_dataset_xyz" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["train", "compare", "bench"])
def test_every_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert "--" in capsys.readouterr().out


def test_train_with_the_amc_paper_recipe_ramps_lr_and_weight(tmp_path):
    out = tmp_path / "recipe"
    args = ["train", "--method", "amc", "--recipe", "paper", "--epochs", "6", "--no-figures"]
    assert main([*args, "--out", str(out)]) == 0
    history = json.loads((out / "history.json").read_text())
    # AMC Sec. 3.2 scaled to 6 epochs: ramp-up round(80/300 * 6) = 2 epochs, max lr 0.003,
    # lambda 0.1; exp(-5 (1 - t/2)^2) for t < 2
    ramp = [math.exp(-5.0), math.exp(-1.25), 1.0, 1.0, 1.0, 1.0]
    np.testing.assert_allclose(history["learning_rate"], [0.003 * r for r in ramp], rtol=1e-5)
    np.testing.assert_allclose(history["loss_weight"], [0.1 * r for r in ramp], rtol=1e-5)


def test_train_logs_the_geometry_per_epoch(tmp_path):
    out = tmp_path / "geometry"
    args = ["train", "--method", "arc", "--epochs", "2", "--geometry-every", "1", "--no-figures"]
    assert main([*args, "--out", str(out)]) == 0
    history = json.loads((out / "history.json").read_text())
    final = json.loads((out / "metrics.json").read_text())
    for key in ["val_w_inter_deg", "val_c_inter_deg", "val_wc_intra_deg", "val_kl", "val_emd_deg"]:
        assert len(history[key]) == 2 and all(math.isfinite(v) for v in history[key]), key
    # the last epoch's logged geometry is the geometry of the final model on the test set,
    # under the same key and in the same unit (degrees) as metrics.json
    assert history["val_wc_intra_deg"][-1] == pytest.approx(final["wc_intra_deg"], rel=1e-5)
