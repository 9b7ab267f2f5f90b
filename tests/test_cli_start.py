"""`keras-angular` reads and checks its options before it imports TensorFlow, Keras or
JAX: its help and its input errors answer at once. `import keras_angular` writes nothing
on a machine without a GPU (TensorFlow's start-up lines hidden)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("tensorflow", "keras", "jax")


def _console_script():
    script = shutil.which("keras-angular", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "keras_angular.cli"]


def _run_command(args):
    """Run the console script with Python's import log on; returns the finished process and
    the top-level names of every module it imported."""
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1"}
    done = subprocess.run(
        [*_console_script(), *args], capture_output=True, text=True, env=env, timeout=600
    )
    imported, other = set(), []
    for line in done.stderr.splitlines():
        if line.startswith("import time:"):
            imported.add(line.rsplit("|", 1)[-1].strip().split(".")[0])
        else:
            other.append(line)
    return done, imported, other


@pytest.mark.parametrize("command", [[], ["train"], ["compare"], ["explain"], ["reproduce"]])
def test_help_answers_without_keras(command):
    done, imported, _ = _run_command([*command, "--help"])
    assert done.returncode == 0 and "usage: keras-angular" in done.stdout, done.stderr[-3000:]
    assert "keras_angular" in imported  # the import log was read
    assert not [name for name in HEAVY if name in imported], sorted(imported)


BAD = [
    ["train", "--method", "arc", "--epochs", "-3"],
    ["train", "--method", "nope"],
    ["train", "--method", "arc", "--set", "scale"],
    ["train", "--method", "arc", "--set", "nope=1"],
    ["train", "--method", "arc", "--lr-schedule", "step"],
    ["train", "--method", "arc", "--epochs", "abc"],
    ["compare", "--methods", "arc,nope"],
    ["reproduce", "no-such-experiment"],
    ["explain", "--models", "no/such/run"],
]


@pytest.mark.parametrize("args", BAD, ids=" ".join)
def test_input_errors_answer_without_keras(args, tmp_path):
    out = tmp_path / "out"
    done, imported, stderr = _run_command([*args, "--out", str(out)])
    assert done.returncode == 2, done.stderr[-3000:]
    assert len(stderr) == 1 and stderr[0].startswith("keras-angular: "), stderr
    assert not [name for name in HEAVY if name in imported], sorted(imported)
    assert not out.exists()


def test_import_keras_angular_writes_nothing():
    """Without a GPU TensorFlow logs 6 lines at import and `failed call to cuInit` at its
    first operation, unless told otherwise (TF_CPP_MIN_LOG_LEVEL unset here)."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["TF_ENABLE_ONEDNN_OPTS"] = "1"  # oneDNN on (and its notice) on any x86 CPU
    script = "import keras_angular, keras; keras.ops.convert_to_numpy(keras.ops.ones(2))"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (done.stdout, done.stderr) == ("", "")


def test_light_names_are_the_registries_keys():
    from keras_angular import registry_names
    from keras_angular.callbacks.recipe import RECIPES
    from keras_angular.models import BACKBONES
    from keras_angular.reproduce import EXPERIMENTS

    assert registry_names.BACKBONE_NAMES == tuple(BACKBONES)
    assert registry_names.RECIPE_NAMES == tuple(RECIPES)
    assert registry_names.EXPERIMENT_NAMES == tuple(sorted(EXPERIMENTS))
