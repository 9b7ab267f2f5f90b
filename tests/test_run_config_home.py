"""RunConfig is the one home of a run's defaults: change one default there and
``train --help``, ``compare`` and ``reproduce`` (its runs and its time estimate) all
follow. Each test stops a run as it would start training (a spy in place of run_method)."""

import dataclasses
import math

import pytest

from keras_angular import grid
from keras_angular.cli import build_parser, main
from keras_angular.data import load_dataset
from keras_angular.reproduce import runner
from keras_angular.reproduce.base import SCALES, Data, Experiment, Run, Scale
from keras_angular.reproduce.estimate import estimate_seconds
from keras_angular.run_config import RunConfig

NEW_BATCH = 48  # not a default anywhere in the package


def _set_default(monkeypatch, name, value):
    """Change RunConfig's default of ``name`` as an edit of the class would: the field
    (what ``dataclasses.fields`` reads) and the constructor's default."""
    with_default = [
        f.name for f in dataclasses.fields(RunConfig) if f.default is not dataclasses.MISSING
    ]
    defaults = list(RunConfig.__init__.__defaults__)
    defaults[with_default.index(name)] = value
    monkeypatch.setattr(RunConfig.__dataclass_fields__[name], "default", value)
    monkeypatch.setattr(RunConfig.__init__, "__defaults__", tuple(defaults))


class _Started(Exception):
    """Raised by the spy where a run would start training."""


@pytest.fixture
def started(monkeypatch):
    """The configs the grid would train, in order; the first one stops the command."""
    configs = []

    def spy(method, splits, config, **kwargs):
        configs.append(config)
        raise _Started

    monkeypatch.setattr(grid, "run_method", spy)
    return configs


def test_the_patch_changes_runconfig_itself(monkeypatch):
    _set_default(monkeypatch, "batch_size", NEW_BATCH)
    assert RunConfig(epochs=1).batch_size == NEW_BATCH


def test_train_help_and_options_follow_runconfig(monkeypatch, capsys):
    _set_default(monkeypatch, "batch_size", NEW_BATCH)
    _set_default(monkeypatch, "learning_rate", 0.0125)
    args = build_parser().parse_args(["train", "--method", "amc"])
    assert (args.batch_size, args.lr) == (NEW_BATCH, 0.0125)
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert f"global batch (default: {NEW_BATCH})" in help_text
    assert "learning rate (default: 0.0125)" in help_text


def test_compare_trains_with_runconfig_default(monkeypatch, tmp_path, started):
    _set_default(monkeypatch, "batch_size", NEW_BATCH)
    argv = ["compare", "--methods", "softmax", "--seeds", "1", "--epochs", "1"]
    with pytest.raises(_Started):
        main([*argv, "--no-figures", "--out", str(tmp_path / "cmp")])
    assert started[0].batch_size == NEW_BATCH


def _experiment():
    """An experiment whose scales set no batch size: the runs take RunConfig's."""
    scale = Scale(data=(Data("digits"),), runs=(Run("CE", "softmax"),), seeds=2,
                  settings={"epochs": 3})  # fmt: skip
    return Experiment("home", "RunConfig's defaults", "none", scales=dict.fromkeys(SCALES, scale))


def test_reproduce_trains_with_runconfig_default(monkeypatch, tmp_path, started):
    _set_default(monkeypatch, "batch_size", NEW_BATCH)
    with pytest.raises(_Started):
        runner.run_experiment(_experiment(), "tiny", out_dir=str(tmp_path), log=lambda line: None)
    assert started[0].batch_size == NEW_BATCH


def test_reproduce_estimate_counts_steps_of_runconfig_batch(monkeypatch):
    _set_default(monkeypatch, "batch_size", NEW_BATCH)
    digits = load_dataset("digits")
    seconds, per_step = estimate_seconds(_experiment().scales["small"], digits, repeats=1)
    steps = 3 * math.ceil(len(digits.x_train) / NEW_BATCH) * 2  # epochs x steps x seeds
    assert seconds / per_step == pytest.approx(steps)
