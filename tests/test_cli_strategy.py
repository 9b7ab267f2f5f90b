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
