"""A run of two processes (JAX, ``keras.distribution``, loopback, CPU devices) that loses a
process in the middle of an epoch: the other stops at once with one sentence and a
non-zero exit status (``keras_angular.supervisor``); both started again with the same
command resume from the last epoch's checkpoint (``keras_angular.checkpointing``, written by
process 0 alone) and end with the weights of a run that was never interrupted. The history
holds the validation pass of each epoch (on a copy of the model in each process,
``keras_angular.local_evaluation``, whose precise batch norm ``test_local_evaluation.py``
checks).

The processes run this file as a script (``KERAS_BACKEND=jax`` and the CPU device count
must be set before JAX starts).
"""

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from process_tools import free_port, jax_cpu_environment

HAS_JAX = importlib.util.find_spec("jax") is not None
EPOCHS, KILL_EPOCH, KILL_STEP = 3, 1, 2  # process 1 dies before step 2 of the second epoch
SETTINGS = dict(
    epochs=EPOCHS,
    batch_size=32,  # 4 steps per epoch over 128 images, 16 rows per process
    backbone="mlp",
    figures=False,
    verbose=0,
)


def _launch(folder, tag, index, port, kill=False):
    env = jax_cpu_environment(devices=1)
    args = [sys.executable, __file__, str(folder), tag, str(index), str(port), str(int(kill))]
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait(proc, timeout=400):
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"a worker hung: {err.decode()[-3000:]}")
    return proc.returncode, out.decode(), err.decode()


def _pair(folder, tag, kill=False):
    port = free_port()
    return [_launch(folder, tag, index, port, kill) for index in (0, 1)]


@pytest.mark.skipif(not HAS_JAX, reason="jax is not installed (pip install jax): no JAX backend")
def test_a_dead_process_stops_the_run_and_the_restarted_run_ends_as_an_uninterrupted_one(
    tmp_path,
):
    started = time.perf_counter()
    whole = _pair(tmp_path, "whole")
    interrupted = _pair(tmp_path, "resumed", kill=True)
    status, _, err = _wait(interrupted[0])
    stopped = time.time()
    assert status != 0
    last = [line for line in err.splitlines() if line.strip()][-1]
    assert last.startswith("keras-angular: process 0 of 2 stopped ("), err[-3000:]
    assert "start the same command again in every process to resume." in last
    killed_at = float((tmp_path / "killed_at").read_text())
    assert stopped - killed_at < 60, stopped - killed_at
    assert _wait(interrupted[1])[0] != 0
    backup = tmp_path / "resumed0" / "backup"
    assert json.loads((backup / "training_metadata.json").read_text())["epoch"] == KILL_EPOCH
    assert not (tmp_path / "resumed1").exists()  # process 1 writes nothing

    for proc in [*whole, *_pair(tmp_path, "resumed")]:
        status, _, err = _wait(proc)
        assert status == 0, err[-4000:]
    print(f"four runs of two processes: {time.perf_counter() - started:.1f} s")
    reference = np.load(tmp_path / "whole0.npz")
    for index in (0, 1):
        got = np.load(tmp_path / f"resumed{index}.npz")
        for key in reference.files:
            np.testing.assert_allclose(got[key], reference[key], rtol=0, atol=1e-6)
    history = json.loads((tmp_path / "resumed0" / "history.json").read_text())
    assert len(history["loss"]) == EPOCHS - KILL_EPOCH  # only the epochs not checkpointed
    whole_history = json.loads((tmp_path / "whole0" / "history.json").read_text())
    for key, values in history.items():
        np.testing.assert_allclose(values, whole_history[key][KILL_EPOCH:], rtol=1e-5)
    assert {"val_loss", "val_logits_accuracy"} <= set(history)
    assert not backup.exists()


def _worker(folder, tag, index, port, kill):  # pragma: no cover - runs in a subprocess
    """Process ``index`` of a two-process run: supervised (the child trains)."""
    from keras_angular import supervisor

    if not supervisor.is_supervised():
        command = [sys.executable, __file__, folder, tag, str(index), port, str(int(kill))]
        backup = os.path.join(folder, f"{tag}0", "backup")
        sys.exit(
            supervisor.run_supervised(command, process_id=index, num_processes=2, backup=backup)
        )
    import keras

    from keras_angular import distribution
    from keras_angular.data import load_dataset, subsample
    from keras_angular.training import run_method

    dist = distribution.data_parallel(f"127.0.0.1:{port}", 2, index)
    digits = subsample(load_dataset("digits"), 128, 64, seed=0)

    class Kill(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_begin(self, batch, logs=None):
            if self.epoch == KILL_EPOCH and batch == KILL_STEP:
                with open(os.path.join(folder, "killed_at"), "w") as f:
                    f.write(str(time.time()))
                os.kill(os.getpid(), signal.SIGKILL)

    trained = keras.callbacks.Callback()  # its model: the trained model's local copy
    run_method(
        "center",
        digits,
        out_dir=os.path.join(folder, f"{tag}{index}"),
        distribution=dist,
        extra_callbacks=[trained, *([Kill()] if kill and index == 1 else [])],
        **SETTINGS,
    )
    weights = {str(i): w for i, w in enumerate(trained.model.get_weights())}
    np.savez(os.path.join(folder, f"{tag}{index}.npz"), **weights)


if __name__ == "__main__":
    _worker(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5] == "1")
