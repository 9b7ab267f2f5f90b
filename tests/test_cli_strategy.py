"""`keras-angular train --strategy mirrored` on two logical CPU devices (in a subprocess:
logical devices must be configured before TensorFlow starts)."""

import json
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import sys
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
    )
    from keras_angular.cli import main

    sys.exit(main(["train", "--method", sys.argv[2], "--epochs", "2", "--batch-size", "64",
                   "--strategy", "mirrored", "--no-figures", "--out", sys.argv[1]]))
    """
)


def test_train_under_mirrored_strategy_on_two_devices(tmp_path):
    for method in ["amc", "haseparator"]:
        out = tmp_path / method
        done = subprocess.run(
            [sys.executable, "-c", SCRIPT, str(out), method],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
        assert "mirrored strategy, 2 replicas" in done.stderr
        result = json.loads((out / "metrics.json").read_text())
        assert result["test_accuracy"] > 0.3  # two epochs on digits, well above chance (0.1)


RESUME_SCRIPT = textwrap.dedent(
    """
    import json
    import sys

    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
    )
    tf.config.experimental.enable_op_determinism()
    import keras
    import numpy as np

    from keras_angular.data import load_dataset, subsample
    from keras_angular.training import run_method

    out = sys.argv[1]
    digits = subsample(load_dataset("digits"), 256, 64, seed=0)
    kwargs = dict(epochs=3, batch_size=64, figures=False, verbose=0, overrides={"weight": 1.0})


    class Interrupted(Exception):
        pass


    class Stop(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):  # in the second epoch
            if self.model.optimizer.iterations.numpy() == 6:
                raise Interrupted()


    def run(folder, callbacks=()):
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        return run_method("amc", digits, out_dir=folder, strategy=strategy,
                          extra_callbacks=list(callbacks), **kwargs)


    whole = run(out + "/whole")
    try:
        run(out + "/resumed", [Stop()])
        raise SystemExit("the interruption did not happen")
    except Interrupted:
        pass
    resumed = run(out + "/resumed")
    a = keras.saving.load_model(out + "/whole/model.keras", compile=False).get_weights()
    b = keras.saving.load_model(out + "/resumed/model.keras", compile=False).get_weights()
    print(json.dumps({
        "gap": max(float(np.max(np.abs(x - y))) for x, y in zip(a, b)),
        "resumed": resumed["history"], "whole": whole["history"],
    }))
    """
)


def test_an_interrupted_mirrored_run_resumes_to_the_weights_of_an_uninterrupted_one(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", RESUME_SCRIPT, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["gap"] <= 1e-6
    resumed, whole = result["resumed"], result["whole"]
    assert len(resumed["loss"]) == 2  # the first epoch was checkpointed: not run again
    assert len(whole["val_loss"]) == 3 and len(resumed["val_logits_accuracy"]) == 2
    assert resumed["val_logits_accuracy"] == whole["val_logits_accuracy"][1:]
