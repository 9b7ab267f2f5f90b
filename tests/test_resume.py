"""`train` checkpoints: an interrupted run, started again, ends with the weights of an
uninterrupted one (op determinism on, so this runs in a subprocess); a run with other
data or settings refuses to resume it (run.json)."""

import json
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from keras_angular.cli import main
from keras_angular.data import load_dataset
from keras_angular.run_config import (
    RUN_RECORD,
    RunConfig,
    RunSettingsError,
    check_resume,
    run_record,
)
from keras_angular.training import run_method

SCRIPT = textwrap.dedent(
    """
    import json
    import sys
    import keras
    import numpy as np
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()
    from keras_angular.data import load_dataset
    from keras_angular.training import run_method

    out, method, overrides, stop = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4]
    stop = int(stop)
    splits = load_dataset("digits", seed=0)
    kwargs = dict(epochs=4, batch_size=128, seed=3, augment="translate", figures=False,
                  verbose=0, overrides=overrides)


    class Interrupted(Exception):
        pass


    class Stop(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):  # after epoch stop - 1 was backed up
            if epoch == stop:
                raise Interrupted()


    whole = run_method(method, splits, out_dir=out + "/whole", **kwargs)
    try:
        run_method(method, splits, out_dir=out + "/resumed", extra_callbacks=[Stop()], **kwargs)
        raise SystemExit("the interruption did not happen")
    except Interrupted:
        pass
    resumed = run_method(method, splits, out_dir=out + "/resumed", **kwargs)
    ran = len(resumed["history"]["loss"])
    assert ran == 4 - stop, (ran, resumed["history"])  # only the epochs not backed up ran
    a = keras.saving.load_model(out + "/whole/model.keras", compile=False)
    b = keras.saving.load_model(out + "/resumed/model.keras", compile=False)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    assert whole["test_accuracy"] == resumed["test_accuracy"]
    print("RESUMED-EQUAL")
    """
)


@pytest.mark.parametrize(
    ("method", "overrides", "stop"),
    [
        ("amc", {}, 2),
        # two phases (softmax pretraining, then W-Softmax), interrupted in each
        ("wsoftmax", {"pretrain_epochs": 2}, 1),
        ("wsoftmax", {"pretrain_epochs": 2}, 3),
    ],
    ids=["one-phase", "two-phase-in-pretraining", "two-phase-in-refinement"],
)
def test_interrupted_train_resumes_to_the_same_weights(method, overrides, stop, tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path), method, json.dumps(overrides), str(stop)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert "RESUMED-EQUAL" in done.stdout, done.stdout[-2000:] + done.stderr[-4000:]


# --------------------------------------------------------------------------- refusing to resume


class _Interrupted(Exception):
    pass


class _StopAfterFirstEpoch(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):  # after epoch 0's backup was written
        if epoch == 1:
            raise _Interrupted()


def _tiny_npz(path, seed=0):
    rng = np.random.default_rng(seed)
    np.savez(path, x=rng.random((100, 8, 8), dtype=np.float32), y=np.arange(100) % 10)
    return str(path)


def test_rerun_resumes_only_the_same_run(tmp_path, capsys):
    data = _tiny_npz(tmp_path / "tiny.npz")
    out = tmp_path / "run"
    with pytest.raises(_Interrupted):  # what the CLI would run, interrupted after epoch 0
        run_method(
            "softmax",
            load_dataset(data, seed=0),
            epochs=2,
            seed=0,
            overrides={},
            out_dir=str(out),
            figures=False,
            verbose=0,
            extra_callbacks=[_StopAfterFirstEpoch()],
        )
    assert (out / "backup").is_dir() and (out / RUN_RECORD).is_file()
    train = ["train", "--method", "softmax", "--no-figures", "--out", str(out)]

    assert main([*train, "--dataset", data, "--epochs", "3"]) == 2
    err = capsys.readouterr().err
    assert (
        f"keras-angular: {out} holds an interrupted run with epochs=2; this run asks for "
        f"epochs=3: use another --out (out_dir) or delete {out / 'backup'}." in err
    ), err
    other = _tiny_npz(tmp_path / "other.npz", seed=1)
    assert main([*train, "--dataset", other, "--epochs", "2"]) == 2
    err = capsys.readouterr().err
    assert "data.name='tiny'" in err and "data.name='other'" in err and "data.hash=" in err
    assert main([*train, "--dataset", data, "--epochs", "2", "--seed", "1"]) == 2
    err = capsys.readouterr().err  # --seed also draws another train / test split
    assert "with seed=0, data.hash=" in err and "; this run asks for seed=1, data.hash=" in err
    assert not (out / "model.keras").exists() and (out / "backup").is_dir()

    assert main([*train, "--dataset", data, "--epochs", "2"]) == 0  # the same run: resumes
    history = json.loads((out / "history.json").read_text())
    assert len(history["loss"]) == 1  # only epoch 1 ran again
    assert (out / "model.keras").exists() and not (out / "backup").exists()


def test_check_resume_without_backup_or_without_record(tmp_path):
    splits = load_dataset("digits")
    record = run_record("arc", splits, RunConfig(epochs=3))
    check_resume(str(tmp_path / "new"), record)  # nothing there: nothing to refuse
    (tmp_path / "done" / "saved_model").mkdir(parents=True)  # a finished run: overwritten
    (tmp_path / "done" / RUN_RECORD).write_text(
        json.dumps(run_record("amc", splits, RunConfig(epochs=9)))
    )
    check_resume(str(tmp_path / "done"), record)
    (tmp_path / "old" / "backup").mkdir(parents=True)  # interrupted, but by whom?
    with pytest.raises(RunSettingsError, match="without a readable run.json"):
        check_resume(str(tmp_path / "old"), record)
    (tmp_path / "old" / RUN_RECORD).write_text(json.dumps(record))
    check_resume(str(tmp_path / "old"), record)
    changed = run_record(
        "arc", splits, RunConfig(epochs=3, overrides={"scale": 8.0}, augment="translate")
    )
    with pytest.raises(RunSettingsError) as info:
        check_resume(str(tmp_path / "old"), changed)
    assert "with overrides={}, augment=None; this run asks for overrides={'scale': 8.0}, " in str(
        info.value
    )


def test_compare_refuses_before_training_any_run(tmp_path, capsys):
    out = tmp_path / "cmp"
    interrupted = out / "softmax" / "seed_1"
    (interrupted / "backup").mkdir(parents=True)
    record = run_record("softmax", load_dataset("digits", seed=0), RunConfig(epochs=5, seed=1))
    (interrupted / RUN_RECORD).write_text(json.dumps(record))
    args = ["compare", "--methods", "softmax", "--seeds", "2", "--epochs", "1", "--no-figures"]
    assert main([*args, "--out", str(out)]) == 2
    assert "with epochs=5; this run asks for epochs=1" in capsys.readouterr().err
    assert not (out / "softmax" / "seed_0").exists() and not (out / "report.json").exists()


def test_run_config_is_checked_on_every_change_and_owns_its_dicts():
    overrides = {"margin": 0.3}
    config = RunConfig(epochs=2, overrides=overrides, augment="none")
    overrides["margin"] = 0.9  # the caller's dict changes later: the run does not
    assert config.overrides == {"margin": 0.3} and config.augment is None
    assert config.replace(seed=4).seed == 4 and config.seed == 0
    with pytest.raises(RunSettingsError, match="`epochs` must be an int >= 1, got 0"):
        config.replace(epochs=0)
    with pytest.raises(TypeError, match="epochs"):
        RunConfig()
