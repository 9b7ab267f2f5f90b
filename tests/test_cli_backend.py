"""`keras-angular --backend`: the command trains on JAX and PyTorch, records the backend,
and its model loads back on TensorFlow with the accuracy the run reported."""

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from keras_angular import _startup
from keras_angular.cli import main


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--backend", "jax", "train"], "jax"),
        (["train", "--backend=torch", "--epochs", "2"], "torch"),
        (["train", "--epochs", "2"], None),
        (["train", "--", "--backend", "jax"], None),
        (["--backend"], None),
    ],
)
def test_backend_option_is_read_before_keras_is_imported(argv, expected):
    assert _startup.backend_requested(argv) == expected


def test_backend_other_than_the_imported_one_is_refused(tmp_path, capsys):
    # this process imported Keras on TensorFlow (conftest): the option can no longer act
    code = main(["--backend", "jax", "train", "--method", "softmax", "--out", str(tmp_path)])
    assert code == 2
    assert "Keras was imported on 'tensorflow'" in capsys.readouterr().err
    assert not os.listdir(tmp_path)


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_train_on_another_backend_records_it_and_loads_on_tensorflow(backend, tmp_path):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    out = tmp_path / backend
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    script = "import sys; from keras_angular.cli import main; sys.exit(main())"
    done = subprocess.run(
        [sys.executable, "-c", script, "--backend", backend, "train", "--method", "arc"]
        + ["--epochs", "2", "--batch-size", "64", "--out", str(out)],
        env={**env, "KERAS_BACKEND": backend},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["keras_backend"] == backend
    assert json.loads((out / "run.json").read_text())["keras_backend"] == backend
    assert (out / "saved_model").exists() == (backend == "jax")
    # the model, loaded here on TensorFlow, classifies the test split as the run said
    from keras_angular.data import load_dataset
    from keras_angular.saving import load_model

    digits = load_dataset("digits")
    logits = load_model(out / "model.keras").predict(digits.x_test, verbose=0)["logits"]
    accuracy = float(np.mean(np.argmax(logits, axis=-1) == digits.y_test))
    assert accuracy == pytest.approx(metrics["test_accuracy"], abs=1e-9)
    assert accuracy > 0.5  # 10 classes: chance is 0.1
