"""Data parallelism with ``keras.distribution`` on the JAX backend, and the pair losses'
per-device pairing.

* The in-batch pair losses (AMC, Euclidean contrastive) under an active
  ``keras.distribution.DataParallel`` of K devices pair rows within each device's
  contiguous block of the global batch; the NumPy reference pairs each block on its own
  (``reference.py``, pairs ``(i, i + b/2)`` of a block of ``b`` rows) and averages the
  blocks. Without a distribution nothing changes.
* Two processes joined on loopback (``jax.distributed``, two CPU devices each: four in
  all) train AMC and CenterLoss (its centres in a ``ClassCenters`` layer) with
  :func:`keras_angular.training.run_method` and end with the weights of one process that
  holds four CPU devices and trains on the same global batches (the same rows reach the
  same device blocks, process 0's first), to 1e-6. CenterLoss's centres, updated once per
  global step from the whole global batch, also equal those of one process with no
  distribution; AMC there pairs the global halves and ends elsewhere. Only process 0
  writes its ``out_dir``, with the validation pass of each epoch in its history.

The processes run this file as a script (``KERAS_BACKEND=jax`` and the CPU device count
must be set before JAX starts).
"""

import importlib.util
import itertools
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest
import reference
from process_tools import free_port, jax_cpu_environment

HAS_JAX = importlib.util.find_spec("jax") is not None
B, K, DIM = 12, 3, 5
GLOBAL_BATCH, TRAIN_SIZE, EPOCHS = 32, 128, 2  # 4 steps per epoch, 8 rows per device
METHODS = ("amc", "center")


# ---------------------------------------------------------------------------------------
# per-device pairing of the pair losses (any backend)
# ---------------------------------------------------------------------------------------
def _fake_data_parallel(devices):
    """A DataParallel over ``devices`` names: what a loss reads of it is the mesh size."""
    import keras

    mesh = keras.distribution.DeviceMesh((devices,), ["batch"], np.array(["cpu:0"] * devices))
    return keras.distribution.DataParallel(device_mesh=mesh)


def _numpy(x):
    import keras

    return np.asarray(keras.ops.convert_to_numpy(x), np.float64)


def _per_block_pairs(batch, blocks):
    """Index pairs of the per-block pairing, from its definition."""
    rows = batch // blocks
    return [
        (k * rows + i, k * rows + i + rows // 2) for k in range(blocks) for i in range(rows // 2)
    ]


@pytest.mark.parametrize("batch, blocks", [(12, 3), (10, 2), (8, 1)])
def test_half_pairs_pairs_within_each_block(batch, blocks):
    from keras_angular.ops import half_pairs

    rows = np.arange(batch * 2, dtype=np.float32).reshape(batch, 2)
    first, second = half_pairs(rows, blocks=blocks)
    pairs = np.array(_per_block_pairs(batch, blocks))
    np.testing.assert_array_equal(_numpy(first), rows[pairs[:, 0]])
    np.testing.assert_array_equal(_numpy(second), rows[pairs[:, 1]])


@pytest.mark.parametrize(
    "name, reference_fn, margin",
    [
        ("amc_loss", reference.amc, 0.5),
        ("euclidean_contrastive_loss", reference.euclidean_contrastive, 1.0),
    ],
)
def test_pair_losses_pair_within_device_blocks_under_data_parallel(name, reference_fn, margin):
    from keras_angular.losses import contrastive

    fn = getattr(contrastive, name)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(B, DIM)).astype(np.float32)
    labels = rng.integers(0, 2, size=B)
    whole = _numpy(fn(labels, x, margin=margin))  # no distribution: the global halves
    with _fake_data_parallel(K).scope():
        blocked = _numpy(fn(labels, x, margin=margin))
    rows = B // K
    block_means = [
        reference_fn(x[k * rows : (k + 1) * rows], labels[k * rows : (k + 1) * rows], margin, 1.0)
        for k in range(K)
    ]
    # Keras' default reduction (mean over the B samples) is the mean of the block means
    np.testing.assert_allclose(blocked.mean(), np.mean(block_means), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(whole.mean(), reference_fn(x, labels, margin, 1.0), rtol=1e-5)
    # each paired row carries its pair's value times b / (2p); an unpaired row (odd b) 0
    for k in range(K):
        block = blocked[k * rows : (k + 1) * rows]
        half = rows // 2
        np.testing.assert_allclose(block[:half], block[half : 2 * half], rtol=1e-6)
        assert np.all(block[2 * half :] == 0.0)
        np.testing.assert_allclose(block.mean(), block_means[k], rtol=1e-5, atol=1e-6)
    assert not np.allclose(blocked, whole)  # a different set of pairs


def test_a_batch_that_does_not_split_over_the_devices_is_refused():
    from keras_angular.losses.contrastive import amc_loss

    x = np.ones((10, DIM), np.float32)
    with _fake_data_parallel(4).scope(), pytest.raises(ValueError, match="multiple of the device"):
        amc_loss(np.zeros(10), x)


# ---------------------------------------------------------------------------------------
# the command line refuses what cannot run, before anything is trained or written
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "options, message",
    [
        (["--coordinator", "10.0.0.1:1234"], "add it"),
        (
            ["--distribution", "data-parallel", "--coordinator", "10.0.0.1:1234"],
            "missing `num_processes`, `process_id`",
        ),
        (
            ["--distribution", "data-parallel", "--coordinator", "10.0.0.1", "--num-processes"]
            + ["2", "--process-id", "0"],
            "HOST:PORT",
        ),
        (
            ["--distribution", "data-parallel", "--coordinator", "10.0.0.1:1234"]
            + ["--num-processes", "2", "--process-id", "2"],
            "[0, 2)",
        ),
    ],
)
def test_cli_refuses_partial_or_bad_cluster_options(tmp_path, capsys, options, message):
    from keras_angular.cli import main

    out = tmp_path / "run"
    status = main(["train", "--method", "amc", "--epochs", "1", "--out", str(out), *options])
    assert status == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_cli_data_parallel_needs_jax_and_multiworker_points_to_it(tmp_path, capsys):
    import keras

    from keras_angular.cli import main

    if keras.backend.backend() != "tensorflow":
        pytest.skip("checks the messages of a TensorFlow process")
    train = ["train", "--method", "amc", "--epochs", "1", "--out", str(tmp_path / "run")]
    assert main([*train, "--distribution", "data-parallel"]) == 2
    assert "needs the JAX backend" in capsys.readouterr().err
    assert main([*train, "--strategy", "multiworker"]) == 2
    assert "--distribution data-parallel" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


# ---------------------------------------------------------------------------------------
# two processes against one (JAX, CPU devices, loopback)
# ---------------------------------------------------------------------------------------
def _launch(tmp_path, mode, devices, index=0, port=None):
    env = jax_cpu_environment(devices)
    args = [sys.executable, __file__, mode, str(tmp_path), str(index), str(port)]
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _finish(proc, timeout):
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"worker timed out: {err.decode()[-3000:]}")
    assert proc.returncode == 0, err.decode()[-4000:]
    return json.loads(out.decode().strip().splitlines()[-1])


@pytest.mark.skipif(not HAS_JAX, reason="jax is not installed (pip install jax): no JAX backend")
def test_two_processes_train_the_weights_of_one_process_with_the_same_global_batch(tmp_path):
    port = free_port()
    started = time.perf_counter()
    workers = [_launch(tmp_path, "two", 2, index, port) for index in (0, 1)]
    single = _launch(tmp_path, "one", 4)
    two = [_finish(proc, timeout=300) for proc in workers]
    one = _finish(single, timeout=300)
    print(f"three workers: {time.perf_counter() - started:.1f} s")
    for index, result in enumerate(two):
        assert result["process"] == index
        record = result["distribution"]
        assert (record["devices"], record["processes"], record["per_device_batch"]) == (4, 2, 8)
    assert one["distribution"]["processes"] == 1
    for method in METHODS:
        reference_weights = _weights(tmp_path, f"one_{method}")
        references = [reference_weights]
        if method == "center":  # one device, the global batch: the same centres and weights
            references.append(_weights(tmp_path, f"plain_{method}"))
        for index in (0, 1):
            got = _weights(tmp_path, f"two{index}_{method}")
            for reference_weights in references:
                assert [w.shape for w in got] == [w.shape for w in reference_weights]
                for a, b in zip(got, reference_weights, strict=True):
                    np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
                gap = max(
                    np.max(np.abs(a - b)) for a, b in zip(got, reference_weights, strict=True)
                )
                print(f"{method}, process {index}: largest weight difference {gap:.2e}")
    # the centres moved (the ClassCenters layer's weight, after the head's kernel and bias)
    model = json.loads((tmp_path / "center_layout.json").read_text())
    assert np.max(np.abs(_weights(tmp_path, "two0_center")[model["centers"]])) > 1e-2
    # both processes evaluate the same trained model on the whole test set
    assert two[0]["test_accuracy"] == two[1]["test_accuracy"] == one["test_accuracy"]
    # AMC pairs within each device's 8 rows, not the global halves (i, i + 16)
    differs = [
        np.max(np.abs(a - b))
        for a, b in zip(_weights(tmp_path, "one_amc"), _weights(tmp_path, "plain_amc"), strict=True)
    ]
    assert max(differs) > 1e-3
    # only process 0 writes its out_dir
    written = tmp_path / "out0"
    assert (written / "model.keras").is_file()
    metrics = json.loads((written / "metrics.json").read_text())
    run = json.loads((written / "run.json").read_text())
    assert metrics["distribution"]["processes"] == run["distribution"]["processes"] == 2
    history = json.loads((written / "history.json").read_text())
    assert len(history["val_loss"]) == len(history["val_logits_accuracy"]) == EPOCHS
    assert not (tmp_path / "out1").exists()


def _weights(tmp_path, tag):
    with np.load(tmp_path / f"{tag}.npz") as f:
        return [f[key] for key in sorted(f.files, key=int)]


def _worker(mode, folder, index, port):
    """Train AMC under a DataParallel (and, for ``one``, with none); save the weights."""
    import keras

    from keras_angular import distribution
    from keras_angular.data import load_dataset, subsample
    from keras_angular.training import run_method

    if mode == "two":
        dist = distribution.data_parallel(f"127.0.0.1:{port}", 2, index)
        runs = [(dist, f"two{index}", os.path.join(folder, f"out{index}"))]
    else:
        dist = distribution.data_parallel()
        runs = [(dist, "one", None), (None, "plain", None)]
    assert distribution.device_count(dist) == 4
    digits = subsample(load_dataset("digits"), TRAIN_SIZE, 64, seed=0)
    summary = {"process": distribution.process_index()}
    for (run_distribution, tag, out), method in itertools.product(runs, METHODS):
        trained = keras.callbacks.Callback()  # its model: the trained model's local copy
        result = run_method(
            method,
            digits,
            epochs=EPOCHS,
            batch_size=GLOBAL_BATCH,
            backbone="mlp",
            overrides={"weight": 1.0},
            figures=False,
            verbose=0,
            out_dir=out if method == "amc" else None,
            distribution=run_distribution,
            extra_callbacks=[trained],
        )
        weights = trained.model.get_weights()
        path = os.path.join(folder, f"{tag}_{method}.npz")
        np.savez(path, **{str(i): w for i, w in enumerate(weights)})
        if method == "center" and tag == "one":
            names = [w.path for w in trained.model.weights]
            layout = {"centers": next(i for i, n in enumerate(names) if "centers" in n)}
            with open(os.path.join(folder, "center_layout.json"), "w") as f:
                json.dump(layout, f)
        if run_distribution is not None and method == "amc":
            summary.update(
                test_accuracy=result["test_accuracy"],
                distribution=result["distribution"],
                train_seconds=result["train_seconds"],
            )
    print(json.dumps(summary))


if __name__ == "__main__":
    _worker(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])
