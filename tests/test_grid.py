"""keras_angular.grid: the one rule for reading back a finished run, checked against
run folders built by hand, and the grid's refusal of a folder that holds an interrupted
run of other settings before anything trains."""

import json
import os

import pytest

from keras_angular import grid
from keras_angular.data import load_dataset
from keras_angular.grid import GridRun, finished_result, run_grid
from keras_angular.run_config import RunConfig, RunSettingsError, run_record
from keras_angular.training import RunResult

CONFIG = RunConfig(epochs=2, verbose=0, figures=False)
METRICS = {"method": "softmax", "seed": 0, "test_accuracy": 0.75, "train_seconds": 3.5}
HISTORY = {"loss": [2.0, 1.5]}


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def _finished_folder(folder, record, skip=()):
    """A run folder as a finished run leaves it, written by hand."""
    os.makedirs(folder, exist_ok=True)
    files = {
        "metrics.json": json.dumps(METRICS),
        "history.json": json.dumps(HISTORY),
        "model.keras": "not read by the rule",
        "run.json": json.dumps(record),
    }
    for name, text in files.items():
        if name not in skip:
            with open(os.path.join(folder, name), "w") as f:
                f.write(text)
    return str(folder)


def test_a_finished_run_of_the_same_record_is_read_back(tmp_path, digits):
    record = run_record("softmax", digits, CONFIG)
    folder = _finished_folder(tmp_path / "run", record)
    result = finished_result(folder, record)
    assert result == {**METRICS, "history": HISTORY}
    assert result.out_dir == folder and result.model is None
    assert result.paths["model"] == os.path.join(folder, "model.keras")


@pytest.mark.parametrize("missing", ["metrics.json", "history.json", "model.keras", "run.json"])
def test_a_folder_missing_a_file_is_not_finished(tmp_path, digits, missing):
    record = run_record("softmax", digits, CONFIG)
    folder = _finished_folder(tmp_path / "run", record, skip=(missing,))
    assert finished_result(folder, record) is None


def test_an_interrupted_run_is_not_finished(tmp_path, digits):
    record = run_record("softmax", digits, CONFIG)
    folder = _finished_folder(tmp_path / "run", record)
    os.makedirs(os.path.join(folder, "backup"))
    assert finished_result(folder, record) is None


@pytest.mark.parametrize(
    "change",
    [
        {"epochs": 3},
        {"seed": 1},
        {"overrides": {"margin": 0.3}},
        {"data": {"hash": "0" * 20}},
        {"backbone": "small_cnn"},
    ],
    ids=lambda change: next(iter(change)),
)
def test_a_finished_run_of_another_record_is_not_read_back(tmp_path, digits, change):
    record = run_record("softmax", digits, CONFIG)
    stored = json.loads(json.dumps(record))
    for key, value in change.items():
        stored[key] = {**stored[key], **value} if key == "data" else value
    folder = _finished_folder(tmp_path / "run", stored)
    assert finished_result(folder, record) is None


def test_unreadable_files_are_not_finished(tmp_path, digits):
    record = run_record("softmax", digits, CONFIG)
    folder = _finished_folder(tmp_path / "run", record)
    with open(os.path.join(folder, "run.json"), "w") as f:
        f.write("{not json")
    assert finished_result(folder, record) is None
    folder = _finished_folder(tmp_path / "run2", record)
    with open(os.path.join(folder, "metrics.json"), "w") as f:
        f.write("[1, 2")
    assert finished_result(folder, record) is None


@pytest.fixture
def trained(monkeypatch):
    """Stands in for run_method: records what the grid trains, returns a RunResult."""
    calls = []

    def spy(method, splits, config, *, out_dir, **kwargs):
        calls.append((method, config.seed, out_dir))
        values = {**METRICS, "seed": config.seed, "test_accuracy": 0.5, "history": HISTORY}
        return RunResult(values, model="a model", out_dir=out_dir)

    monkeypatch.setattr(grid, "run_method", spy)
    return calls


def test_grid_reads_back_finished_runs_and_trains_the_rest(tmp_path, digits, trained):
    out = tmp_path / "grid"
    _finished_folder(out / "soft" / "seed_0", run_record("softmax", digits, CONFIG))
    seen = []
    results = run_grid(
        [GridRun("Soft", "softmax", CONFIG, "soft")],
        digits,
        2,
        out_dir=str(out),
        read_back=True,
        on_result=lambda run, seed, result, seconds: seen.append((seed, seconds is None)),
        log=lambda line: None,
    )
    assert trained == [("softmax", 1, str(out / "soft" / "seed_1"))]
    assert [r["test_accuracy"] for r in results["Soft"]] == [0.75, 0.5]
    assert seen == [(0, True), (1, False)]
    assert results["Soft"][1].model == "a model"


def test_grid_without_read_back_trains_every_run(tmp_path, digits, trained):
    out = tmp_path / "grid"
    _finished_folder(out / "softmax" / "seed_0", run_record("softmax", digits, CONFIG))
    lines = []
    run_grid([GridRun("softmax", "softmax", CONFIG, "softmax")], digits, 2, out_dir=str(out),
             log=lines.append)  # fmt: skip
    assert [seed for _, seed, _ in trained] == [0, 1]
    assert lines == ["[1/2] softmax, seed 0", "[2/2] softmax, seed 1"]


def test_grid_refuses_an_interrupted_run_of_other_settings_before_training(
    tmp_path, digits, trained
):
    out = tmp_path / "grid"
    other = run_record("softmax", digits, CONFIG.replace(seed=1, epochs=5))
    folder = _finished_folder(out / "softmax" / "seed_1", other)
    os.makedirs(os.path.join(folder, "backup"))
    with pytest.raises(RunSettingsError, match="with epochs=5; this run asks for epochs=2"):
        run_grid([GridRun("softmax", "softmax", CONFIG, "softmax")], digits, 2,
                 out_dir=str(out), read_back=True, log=lambda line: None)  # fmt: skip
    assert trained == []  # seed 0 was not trained before the refusal
