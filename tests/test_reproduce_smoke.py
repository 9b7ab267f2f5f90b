"""`keras-angular reproduce EXPERIMENT --scale full --max-steps N`: the smoke run of a scale."""

import time

import numpy as np
import pytest

from keras_angular.cli import main
from keras_angular.reproduce import get_experiment
from keras_angular.reproduce.smoke import graph_groups, smoke_scale, smoke_settings


def _table(text):
    """The rows of the Markdown table in ``text`` as dicts of its header's columns."""
    lines = [line for line in text.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    return [
        dict(zip(header, (cell.strip() for cell in line.strip("|").split("|")), strict=True))
        for line in lines[2:]
    ]


def test_smoke_of_a_full_scale_steps_every_run_of_the_plan(tmp_path, capsys):
    # 200 images 28x28 grey of 10 classes, as x, y (the loader splits them 80 / 20)
    rng = np.random.default_rng(0)
    data = tmp_path / "tiny_mnist.npz"
    np.savez(data, x=rng.integers(0, 256, (200, 28, 28), dtype=np.uint8), y=np.arange(200) % 10)
    out = tmp_path / "smoke"
    args = ["reproduce", "amc-sphere", "--scale", "full", "--max-steps", "1"]
    code = main([*args, "--dataset", str(data), "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert sorted(p.name for p in out.iterdir()) == ["smoke.md"]  # no report, no run folders
    rows = _table((out / "smoke.md").read_text())
    assert rows == _table(printed)
    scale = get_experiment("amc-sphere").scales["full"]
    assert [row["run"] for row in rows] == [run.label for run in scale.runs]
    for row, run in zip(rows, scale.runs, strict=True):
        assert row["method"] == run.method
        assert row["network"] == scale.settings["backbone"] == "amc_mnist_cnn"
        assert int(row["params"].replace(",", "")) > 0
        assert row["data"].startswith("tiny_mnist (160 train, 28x28x1, 10 classes")
        # the scale's batch of 128, at most 32; the AMC recipe's ramp-up, plateau and
        # ramp-down: 3 epochs of one step each
        assert scale.settings["batch_size"] == 128 and row["batch"] == "32"
        assert scale.settings["recipe"] == "paper" and row["epochs"] == "3"
        assert row["steps"] == "1+1+1"
        assert row["loss finite"] == "yes"


def test_smoke_refuses_a_dataset_it_would_download_in_one_sentence(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "no_datasets_here"))
    started = time.perf_counter()
    code = main(
        [
            "reproduce",
            "amc-table1",
            "--scale",
            "full",
            "--max-steps",
            "1",
            "--out",
            str(tmp_path / "out"),
        ]
    )
    seconds = time.perf_counter() - started
    err = capsys.readouterr().err
    assert code == 2
    assert seconds < 60  # no download attempt and its minutes of retries
    (line,) = err.strip().splitlines()
    assert line.startswith("keras-angular: amc-table1 --scale full: ")
    assert "'mnist', 'cifar10', 'svhn_cropped', 'cifar100'" in line
    assert "would download" in line and "--dataset" in line
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "name, label, epochs, pretrain",
    [
        ("amc-table1", "CE+AMC", 3, None),  # the recipe's three phases
        ("arc-angles", "Arc", 2, None),  # the one-cycle callback: up and down
        ("wsoftmax-alpha", "Softmax", 2, None),  # the scale's learning-rate callback
        ("wsoftmax-alpha", "Paper a=0.5", 2, 1),  # 1 epoch of pretraining, 1 of refining
        ("haseparator-sweep", "ArcFace s=3 m=0.5", 2, None),  # the step decay's boundary
    ],
)
def test_smoke_settings_pass_every_phase_in_the_fewest_epochs(name, label, epochs, pretrain):
    scale = get_experiment(name).scales["full"]
    (run,) = [run for run in scale.runs if run.label == label]
    settings = smoke_settings(scale, run, steps=2)
    assert settings["epochs"] == epochs and settings["steps_per_epoch"] == 2
    assert (settings.get("overrides") or {}).get("pretrain_epochs") == pretrain
    assert settings["batch_size"] == 32 and settings["figures"] is False
    for key in ("backbone", "backbone_kwargs", "learning_rate", "recipe", "lr_schedule"):
        assert settings.get(key) == {**scale.settings, **run.settings}.get(key), key


def test_a_sweep_steps_one_run_per_graph():
    scale = smoke_scale(get_experiment("haseparator-sweep").scales["full"], steps=1)
    groups = graph_groups(scale)
    # per network (ResNet-18, ResNet-50 + 64-d): softmax, and each method's 10 x 10 grid
    assert [len(group) for group in groups] == [1, 100, 100] * 2
    assert sorted(run.label for group in groups for run in group) == sorted(
        run.label for run in scale.runs
    )
    for group in groups:
        assert len({(run.method, run.settings["backbone"]) for run in group}) == 1
