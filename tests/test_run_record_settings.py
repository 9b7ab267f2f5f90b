"""A run's record names every setting that decides its weights.

An interrupted run (``backup/``) is resumed only with the settings it was started with:
changing ``learning_rate`` or ``precise_bn``, or a record that holds a key the new one
lacks, must be refused with a ``RunSettingsError`` naming the setting. Nothing trains.
"""

import json
import os

import pytest

from keras_angular.run_config import (
    RUN_RECORD,
    RunConfig,
    RunSettingsError,
    check_resume,
    run_record,
    write_record,
)


def _interrupted(tmp_path, record):
    out = str(tmp_path / "run")
    write_record(out, record)
    os.makedirs(os.path.join(out, "backup"))
    return out


@pytest.mark.parametrize(
    "change, old_text, new_text",
    [
        ({"learning_rate": 1e-3}, "learning_rate=0.002", "learning_rate=0.001"),
        ({"precise_bn": False}, "precise_bn=True", "precise_bn=False"),
    ],
    ids=["learning_rate", "precise_bn"],
)
def test_resume_refuses_a_changed_setting(digit_splits, tmp_path, change, old_text, new_text):
    config = RunConfig(epochs=2, learning_rate=2e-3, precise_bn=True)
    out = _interrupted(tmp_path, run_record("softmax", digit_splits, config))
    check_resume(out, run_record("softmax", digit_splits, config))  # the same settings resume
    with pytest.raises(RunSettingsError) as caught:
        check_resume(out, run_record("softmax", digit_splits, config.replace(**change)))
    message = str(caught.value)
    assert old_text in message and new_text in message, message
    # the record on disk says what the run was started with
    with open(os.path.join(out, RUN_RECORD)) as f:
        written = json.load(f)
    key = next(iter(change))
    assert written[key] == getattr(config, key)


def test_resume_refuses_a_setting_only_the_old_record_has(digit_splits, tmp_path):
    record = run_record("softmax", digit_splits, RunConfig(epochs=2))
    out = _interrupted(tmp_path, {**record, "label_smoothing": 0.1})
    with pytest.raises(RunSettingsError, match=r"label_smoothing=0\.1.*label_smoothing='unset'"):
        check_resume(out, record)


def test_resume_refuses_a_setting_only_the_new_record_has(digit_splits, tmp_path):
    record = run_record("softmax", digit_splits, RunConfig(epochs=2))
    out = _interrupted(tmp_path, record)
    with pytest.raises(RunSettingsError, match=r"label_smoothing='unset'.*label_smoothing=0\.1"):
        check_resume(out, {**record, "label_smoothing": 0.1})
