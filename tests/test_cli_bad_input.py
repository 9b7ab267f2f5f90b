"""Bad data and nonsense options stop `keras-angular` before training: one sentence on
stderr naming the file, what is wrong and where, exit status 2, nothing written to --out.
The same checks reach Python users as ValueError. And the command starts quietly."""

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from keras_angular import _startup
from keras_angular.cli import main
from keras_angular.data import DatasetSplits, load_dataset
from keras_angular.run_config import RunSettingsError
from keras_angular.training import run_method


def _images(n=100):
    return np.random.default_rng(0).random((n, 8, 8), dtype=np.float32)


def _bad_x(value, index):
    x = _images()
    x[index, 2, 5] = value
    return x


# (file contents, what the message must say)
BAD_FILES = {
    "all_nan": (
        {"x": np.full((100, 8, 8), np.nan, np.float32), "y": np.arange(100) % 10},
        "x[0] holds NaN (not finite: 100 of 100 images in x)",
    ),
    "nan_in_train": (
        {
            "x_train": _bad_x(np.nan, 3)[:80],
            "y_train": np.arange(80) % 10,
            "x_test": _images(20),
            "y_test": np.arange(20) % 10,
        },
        "x_train[3] holds NaN (not finite: 1 of 80 images in x_train)",
    ),
    "inf_in_test": (
        {
            "x_train": _images(80),
            "y_train": np.arange(80) % 10,
            "x_test": _bad_x(np.inf, 17)[:20],
            "y_test": np.arange(20) % 10,
        },
        "x_test[17] holds +Inf",
    ),
    "minus_inf": ({"x": _bad_x(-np.inf, 42), "y": np.arange(100) % 10}, "x[42] holds -Inf"),
    "one_class": (
        {"x": _images(), "y": np.full(100, 7)},
        "y_train (the training split) holds one class only ('7', 80 images)",
    ),
    "nan_label": (
        {"x": _images(), "y": np.where(np.arange(100) == 5, np.nan, np.arange(100) % 3)},
        "y[5] is nan",
    ),
    "label_count": ({"x": _images(), "y": np.arange(99) % 10}, "x has 100 images but y 99"),
    "text_images": ({"x": np.array(["a"] * 100), "y": np.arange(100) % 10}, "has dtype <U1"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_npz_stops_before_training(case, tmp_path, capsys):
    arrays, expected = BAD_FILES[case]
    path = tmp_path / f"{case}.npz"
    np.savez(path, **arrays)
    out = tmp_path / "out"
    args = ["train", "--method", "softmax", "--dataset", str(path), "--epochs", "1"]
    assert main([*args, "--no-figures", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == err.splitlines()[0]  # one line
    assert err.startswith(f"keras-angular: {path}: ") and expected in err, err
    assert not out.exists()
    # the same sentence for Python users
    with pytest.raises(ValueError) as info:
        load_dataset(path)
    assert f"keras-angular: {info.value}" == err


def test_unreadable_npz_says_so(tmp_path, capsys):
    path = tmp_path / "notes.npz"
    path.write_text("not an archive")
    out = tmp_path / "out"
    assert main(["train", "--method", "softmax", "--dataset", str(path), "--out", str(out)]) == 2
    assert f"{path}: not a readable .npz archive" in capsys.readouterr().err
    assert not out.exists()


def test_string_and_integer_labels_are_still_reindexed(tmp_path):
    path = tmp_path / "labels.npz"
    np.savez(path, x=_images(), y=np.array(["cat", "dog"] * 50))
    assert load_dataset(path).class_names == ["cat", "dog"]
    np.savez(path, x=_images(), y=(np.arange(100) % 2) * 7 - 3)  # -3, 4
    assert load_dataset(path).class_names == ["-3", "4"]


def test_splits_check_nan_in_chunks_naming_the_first_image():
    x = np.zeros((9000, 2, 2, 1), np.float32)  # 3 chunks of 4096
    x[8500, 1, 0, 0] = np.nan
    x[8999] = np.inf
    y = np.arange(9000) % 2
    with pytest.raises(
        ValueError, match=r"dataset 'toy': x_train\[8500\] holds NaN \(not finite: 2"
    ):
        DatasetSplits(x, y, x[:10], y[:10], 2, ["a", "b"], "toy")
    with pytest.raises(ValueError, match=r"mine.npz: x_test\[3\] holds -Inf"):
        DatasetSplits(x[:10], y[:10], -x[8996:], y[:4], 2, ["a", "b"], "toy", source="mine.npz")


BAD_OPTIONS = [
    (["train", "--epochs", "0"], "--epochs must be an integer >= 1, got 0."),
    (["train", "--epochs", "-1"], "--epochs must be an integer >= 1, got -1."),
    (["train", "--batch-size", "-8"], "--batch-size must be an integer >= 1, got -8."),
    (["train", "--geometry-every", "0"], "--geometry-every must be an integer >= 1, got 0."),
    (["train", "--embedding-dim", "0"], "--embedding-dim must be an integer >= 1, got 0."),
    (["train", "--seed", "-1"], "--seed must be an integer >= 0, got -1."),
    (["train", "--lr", "0"], "--lr must be a finite number > 0, got 0.0."),
    (["train", "--lr", "nan"], "--lr must be a finite number > 0, got nan."),
    (["train", "--test-fraction", "1"], "--test-fraction must lie strictly between 0 and 1"),
    (["train", "--backbone", "vgg"], "Unknown --backbone 'vgg'; valid names: amc_cnn"),
    (["compare", "--seeds", "0"], "--seeds must be an integer >= 1, got 0."),
    (["compare", "--methods", " , "], "--methods names no method."),
    (["compare", "--baseline", "amc"], "--baseline 'amc' is not among --methods ['softmax']."),
]


@pytest.mark.parametrize(("options", "expected"), BAD_OPTIONS, ids=lambda v: " ".join(v))
def test_nonsense_options_stop_before_anything(options, expected, tmp_path, capsys):
    command, *rest = options
    method = ["--method", "softmax"] if command == "train" else []
    if command == "compare" and "--methods" not in rest:
        method = ["--methods", "softmax"]
    out = tmp_path / "out"
    assert main([command, *method, *rest, "--no-figures", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("keras-angular: ") and expected in err, err
    assert not out.exists()


@pytest.mark.parametrize(
    ("argument", "value", "expected"),
    [
        ("epochs", 0, "`epochs` must be an int >= 1, got 0."),
        ("batch_size", -1, "`batch_size` must be an int >= 1, got -1."),
        ("learning_rate", float("inf"), "`learning_rate` must be a finite number > 0"),
        ("geometry_every", 0, "`geometry_every` must be None or an int >= 1"),
        ("backbone", "vgg", "unknown backbone 'vgg'"),
        ("overrides", {"nope": 1}, "has no parameter nope"),
    ],
)
def test_run_method_refuses_bad_arguments_before_writing(argument, value, expected, tmp_path):
    splits = load_dataset("digits")
    kwargs = {"epochs": 1, argument: value}
    out = tmp_path / "out"
    with pytest.raises(RunSettingsError, match="^(RunConfig|run_method): ") as info:
        run_method("softmax", splits, out_dir=str(out), **kwargs)
    assert expected in str(info.value) and isinstance(info.value, ValueError)
    assert not out.exists()


# --------------------------------------------------------------------------- quiet start


def test_verbose_flag_and_command_detection(monkeypatch):
    assert _startup.verbose_requested(["train", "--verbose"])
    assert _startup.verbose_requested(["--verbose", "train"])
    assert not _startup.verbose_requested(["train", "--", "--verbose"])
    monkeypatch.setattr(sys, "argv", ["/venv/bin/keras-angular", "train"])
    assert _startup.is_command()
    monkeypatch.setattr(sys, "argv", ["my_script.py"])
    monkeypatch.setattr(sys, "orig_argv", ["python", "my_script.py"])
    assert not _startup.is_command()
    # the parser takes --verbose before or after the subcommand
    from keras_angular.cli import build_parser

    assert build_parser().parse_args(["--verbose", "train", "--method", "arc"]).verbose
    assert build_parser().parse_args(["train", "--method", "arc", "--verbose"]).verbose
    assert not build_parser().parse_args(["train", "--method", "arc"]).verbose


def test_filtered_stderr_drops_only_tensorflow_notices(capfd):
    with _startup.filtered_stderr():
        os.write(
            2,
            b"WARNING: All log messages before absl::InitializeLog() is called are written"
            b" to STDERR\nI0000 00:00:1796168740.737595    3343 cudart_stub.cc:31] Could not"
            b" find cuda drivers\nE0000 00:00:1796168755.558654    3343 x.cc:52] a real error\n",
        )
        print("a Python warning", file=sys.stderr)
    err = capfd.readouterr().err
    assert "cudart" not in err and "InitializeLog" not in err
    assert "a real error" in err and "a Python warning" in err


def _console_script():
    script = shutil.which("keras-angular", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "keras_angular.cli"]


def test_console_script_starts_quietly(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["TF_ENABLE_ONEDNN_OPTS"] = "1"  # oneDNN on (and its notice) on any x86 CPU
    args = ["train", "--method", "softmax", "--epochs", "1", "--no-figures"]
    done = subprocess.run(
        [*_console_script(), *args, "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "test accuracy" in done.stdout
    noisy = [
        line
        for line in done.stderr.splitlines()
        if any(word in line for word in ("oneDNN", "cudart", "cuInit", "InitializeLog"))
    ]
    assert not noisy, done.stderr


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_console_script_starts_quietly_on_other_backends(backend):
    """Keras imports no TensorFlow on JAX or PyTorch, but the command's tf.data pipelines
    do: the package imports it inside its quiet start there too."""
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    drop = ("TF_CPP_MIN_LOG_LEVEL", "KERAS_BACKEND")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["TF_ENABLE_ONEDNN_OPTS"] = "1"  # oneDNN on (and its notice) on any x86 CPU
    done = subprocess.run(
        [*_console_script(), "--backend", backend, "train", "--help"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0 and "--method" in done.stdout, done.stderr[-3000:]
    assert not done.stderr, done.stderr


# ------------------------------------------------------- one path for every input error


def _npz_with_wrong_keys(tmp_path):
    path = tmp_path / "wrong_keys.npz"
    np.savez(path, images=_images(), labels=np.arange(100) % 10)
    return path


ONE_SENTENCE = [
    (["--method", "arc", "--set", "scale=big"], "AngularLoss: `scale` must be a finite number"),
    (["--method", "arcface", "--set", "margin=abc"], "ArcFaceLoss: `margin` must lie in"),
    (["--method", "arc", "--set", "scale"], "--set expects KEY=VALUE, got 'scale'."),
    (["--method", "arc", "--set", "nope=1"], "Method 'arc' has no parameter nope"),
    (["--method", "arc", "--epochs", "-3"], "--epochs must be an integer >= 1, got -3."),
    (["--method", "nope"], "Unknown method 'nope'; choose one of: amc, arc,"),
    (["--method", "sphereface", "--set", "margin=2.5"], "`margin` must be an int in [1, 8]"),
    (["--method", "wsoftmax", "--set", "pretrain_epochs=x"], "`pretrain_epochs` must be an int"),
    (["--method", "arc", "--dataset", "MISSING"], "No such .npz file"),
    (["--method", "arc", "--dataset", "WRONG_KEYS"], "wrong_keys.npz"),
]


@pytest.mark.parametrize(
    ("options", "expected"), ONE_SENTENCE, ids=[" ".join(o) for o, _ in ONE_SENTENCE]
)
def test_every_input_error_is_one_sentence_and_writes_nothing(options, expected, tmp_path, capsys):
    """The settings, --set values included, are checked before any folder or record is
    written (`--set scale=big` used to leave run.json behind and end in a traceback)."""
    data = {
        "MISSING": str(tmp_path / "missing.npz"),
        "WRONG_KEYS": str(_npz_with_wrong_keys(tmp_path)),
    }
    options = [data.get(option, option) for option in options]
    out = tmp_path / "out"
    argv = ["train", "--epochs", "1", *options, "--no-figures", "--out", str(out)]  # last wins
    try:
        code = main(argv)
    except SystemExit as error:  # argparse's path would exit here
        code = error.code
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.splitlines()) == 1 and err.startswith("keras-angular: "), err
    assert expected in err, err
    assert not out.exists()


def test_compare_checks_every_methods_values_before_writing(tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["compare", "--methods", "arcface,cosface", "--set", "margin=abc", "--seeds", "1"]
    assert main([*argv, "--epochs", "1", "--no-figures", "--out", str(out)]) == 2
    assert "ArcFaceLoss: `margin` must lie in" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize(
    ("method", "overrides", "expected"),
    [
        ("arc", {"scale": "big"}, "AngularLoss: `scale` must be a finite number > 0, got 'big'."),
        ("center", {"alpha": -1}, "CenterLoss: `alpha` must lie in [0.0, 1.0], got -1."),
        ("wsoftmax", {"form": "nope"}, "WSoftmaxLoss: `form` must be one of"),
    ],
)
def test_run_method_checks_override_values_before_writing(method, overrides, expected, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(RunSettingsError) as info:
        run_method(method, load_dataset("digits"), epochs=1, overrides=overrides, out_dir=str(out))
    assert str(info.value).startswith("run_method: ") and expected in str(info.value)
    assert not out.exists()
