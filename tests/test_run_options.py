"""The run settings past the defaults reach Keras as asked: the optimizer and its settings,
the mixed-precision policy, steps per epoch, and their refusals (one sentence naming the
flag, exit 2, nothing written); a run record of 0.2.0 (without these fields) still matches a
run with their defaults, and a changed one is refused on resume."""

import json
import os

import keras
import numpy as np
import pytest

from keras_angular.cli import main
from keras_angular.data import load_dataset
from keras_angular.run_config import (
    RunConfig,
    RunSettingsError,
    check_resume,
    run_record,
    write_record,
)
from keras_angular.training import run_method, training_phases


@pytest.fixture(scope="module")
def small_digits(digit_splits):
    """400 training images: a run of a few steps."""
    return digit_splits.__class__(
        digit_splits.x_train[:400],
        digit_splits.y_train[:400],
        digit_splits.x_test,
        digit_splits.y_test,
        digit_splits.num_classes,
        digit_splits.class_names,
        digit_splits.name,
    )


def _run(splits, **settings):
    settings = {"epochs": 1, "figures": False, "verbose": 0, "precise_bn": False, **settings}
    return run_method("softmax", splits, **settings)


@pytest.mark.parametrize(
    "settings, expected",
    [
        ({}, ("Adam", {"weight_decay": None})),
        ({"optimizer": "adamw"}, ("AdamW", {"weight_decay": 0.004})),
        ({"optimizer": "adamw", "weight_decay": 0.01}, ("AdamW", {"weight_decay": 0.01})),
        (
            {"optimizer": "sgd"},
            ("SGD", {"momentum": 0.9, "nesterov": False, "weight_decay": None}),
        ),
        (
            {"optimizer": "sgd", "momentum": 0.5, "nesterov": True, "weight_decay": 5e-4},
            ("SGD", {"momentum": 0.5, "nesterov": True, "weight_decay": 5e-4}),
        ),
    ],
    ids=["adam", "adamw", "adamw-decay", "sgd", "sgd-nesterov-decay"],
)
def test_the_optimizer_keras_receives(small_digits, settings, expected):
    model = _run(small_digits, learning_rate=0.05, steps_per_epoch=2, **settings).model
    kind, values = expected
    optimizer = model.optimizer
    assert type(optimizer).__name__ == kind
    for name, value in values.items():
        assert getattr(optimizer, name) == value, name
    assert int(optimizer.iterations.numpy()) == 2


@pytest.mark.parametrize("momentum, nesterov", [(0.0, False), (0.9, False), (0.9, True)])
def test_sgd_weight_decay_is_decoupled(momentum, nesterov):
    """One step from w with gradient g (Loshchilov & Hutter's SGDW, Keras' SGD): the weight
    decays by lr * d * w beside the momentum step, which for the first step is
    -lr * g (heavy ball) or -lr * g * (1 + momentum) (Nesterov); written here in NumPy."""
    from keras_angular.optimizers import build_optimizer

    lr, decay = 0.1, 0.01
    w = np.array([1.0, -2.0, 3.0], np.float32)
    g = np.array([0.5, 0.25, -1.0], np.float32)
    config = RunConfig(
        epochs=1, optimizer="sgd", momentum=momentum, nesterov=nesterov, weight_decay=decay
    )
    optimizer = build_optimizer(config, lr)
    variable = keras.Variable(w)
    optimizer.apply([keras.ops.convert_to_tensor(g)], [variable])
    step = -lr * g * (1 + momentum if nesterov else 1)
    expected = w - lr * decay * w + step
    np.testing.assert_allclose(keras.ops.convert_to_numpy(variable), expected, rtol=1e-6)


def test_each_dtype_policy_trains_close_to_float32(digit_splits):
    accuracy = {}
    for policy in ["float32", "mixed_bfloat16", "mixed_float16"]:
        result = _run(digit_splits, epochs=3, dtype_policy=policy, seed=1)
        model = result.model
        assert keras.config.dtype_policy().name == "float32"  # the global policy is restored
        assert model.get_layer("embedding").dtype_policy.name == policy
        logits = model.predict(digit_splits.x_test[:8], verbose=0)["logits"]
        assert np.asarray(logits).dtype == np.float32  # the head's output stays float32
        loss = result["history"]["loss"]
        assert np.isfinite(loss).all() and loss[-1] < loss[0], (policy, loss)
        accuracy[policy] = result["test_accuracy"]
    assert accuracy["float32"] > 0.8, accuracy  # 10 classes: chance is 0.1
    for policy in ("mixed_bfloat16", "mixed_float16"):
        assert abs(accuracy[policy] - accuracy["float32"]) < 0.05, accuracy


def test_steps_per_epoch_caps_every_epoch(small_digits):
    result = _run(small_digits, epochs=3, steps_per_epoch=2)
    assert int(result.model.optimizer.iterations.numpy()) == 6  # 3 epochs x 2 batches
    assert len(result["history"]["loss"]) == 3


def test_training_phases_split_at_pretraining_and_release():
    phases = training_phases(10, pretrain_epochs=4, frozen_epochs=2)
    assert [(p.name, p.start, p.end, p.pretraining, p.frozen) for p in phases] == [
        ("pretrain-frozen", 0, 2, True, True),
        ("pretrain", 2, 4, True, False),
        ("refine", 4, 10, False, False),
    ]
    phases = training_phases(10, pretrain_epochs=4, frozen_epochs=6)
    assert [(p.name, p.start, p.end) for p in phases] == [
        ("pretrain-frozen", 0, 4),
        ("refine-frozen", 4, 6),
        ("refine", 6, 10),
    ]
    assert [(p.name, p.start, p.end) for p in training_phases(3)] == [("train", 0, 3)]


BAD_RUN_OPTIONS = [
    (["--momentum", "0.9"], "--momentum is an SGD setting; --optimizer is adam"),
    (["--nesterov"], "--nesterov is an SGD setting; --optimizer is adam."),
    (["--weight-decay", "1e-4"], "--weight-decay needs --optimizer adamw or sgd"),
    (["--optimizer", "sgd", "--momentum", "1.5"], "--momentum must be a number in [0, 1)"),
    (["--optimizer", "adamw", "--weight-decay", "-1"], "--weight-decay must be a finite number"),
    (["--recipe", "paper", "--optimizer", "sgd"], "--optimizer must be adam, got 'sgd'."),
    (["--weights", "nowhere.weights.h5"], "--weights must be imagenet or the path of a"),
    (["--epochs", "2", "--freeze-backbone-epochs", "3"], "--freeze-backbone-epochs (3) exceeds"),
    (["--epochs", "2", "--freeze-backbone-epochs", "1"], "give --weights."),
    (["--steps-per-epoch", "0"], "--steps-per-epoch must be an integer >= 1, got 0."),
    (["--optimizer", "rmsprop"], "invalid choice: 'rmsprop'"),
    (["--dtype-policy", "float16"], "invalid choice: 'float16'"),
]


@pytest.mark.parametrize(("options", "expected"), BAD_RUN_OPTIONS, ids=lambda v: " ".join(v))
def test_bad_run_options_are_one_sentence(options, expected, tmp_path, capsys):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) if "invalid choice" in expected else _no_raise():
        code = main(["train", "--method", "softmax", *options, "--out", str(out)])
        assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("keras-angular: ") and expected in err, err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


class _no_raise:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_a_record_without_the_new_fields_resumes_a_default_run(digit_splits, tmp_path):
    config = RunConfig(epochs=2)
    record = run_record("softmax", digit_splits, config)
    for field in ("optimizer", "dtype_policy", "weights", "steps_per_epoch"):
        assert field not in record  # a 0.2.0 record holds none of them
    out = str(tmp_path / "run")
    write_record(out, record)
    os.makedirs(os.path.join(out, "backup"))
    check_resume(out, run_record("softmax", digit_splits, config))
    weights = tmp_path / "start.weights.h5"
    weights.touch()  # RunConfig checks that the file exists; nothing loads it here
    for change, text in [
        ({"optimizer": "sgd"}, "optimizer='sgd'"),
        ({"dtype_policy": "mixed_bfloat16"}, "dtype_policy='mixed_bfloat16'"),
        ({"steps_per_epoch": 3}, "steps_per_epoch=3"),
        ({"freeze_backbone_epochs": 1, "weights": str(weights)}, "freeze_backbone_epochs=1"),
    ]:
        with pytest.raises(RunSettingsError, match="unset") as caught:
            check_resume(out, run_record("softmax", digit_splits, config.replace(**change)))
        assert text in str(caught.value)
    with open(os.path.join(out, "run.json")) as f:
        assert "optimizer" not in json.load(f)


def test_train_projector_writes_the_test_embeddings(digit_splits, tmp_path):
    """``train --projector``: OUT/projector holds every test image's embedding, the one
    the saved model computes, with its label."""
    out = tmp_path / "run"
    options = ["--method", "softmax", "--epochs", "1", "--no-figures", "--projector"]
    assert main(["train", *options, "--out", str(out)]) == 0
    folder = out / "projector"
    config = (folder / "projector_config.pbtxt").read_text()
    tensors = [line.split('"')[1] for line in config.splitlines() if "tensor_path" in line]
    vectors = np.loadtxt(folder / tensors[0], delimiter="\t")
    model = keras.models.load_model(out / "model.keras")
    expected = model.predict(digit_splits.x_test, verbose=0)["embedding"]
    assert vectors.shape == expected.shape
    np.testing.assert_allclose(vectors, expected, rtol=1e-3, atol=1e-4)


class _WeightsAtEpochEnd(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seen = []

    def on_train_begin(self, logs=None):
        if not self.seen:
            self.seen.append(self._weights())

    def on_epoch_end(self, epoch, logs=None):
        self.seen.append(self._weights())

    def _weights(self):
        return {
            name: self.model.get_layer(name).kernel.numpy().copy()
            for name in ("hidden", "embedding")
        }


def test_freeze_backbone_epochs_trains_the_head_first(small_digits, tmp_path):
    """Epoch 1 of 3 with the body (of starting weights) frozen: the mlp's hidden layer keeps
    its starting kernel while the embedding layer learns; from epoch 2 both learn, and the
    learning-rate schedule runs on (the optimizer counts every step of the run)."""
    from keras_angular.models import build_backbone

    weights = str(tmp_path / "start.weights.h5")
    build_backbone("mlp", small_digits.input_shape).save_weights(weights)
    watch = _WeightsAtEpochEnd()
    result = run_method(
        "softmax",
        small_digits,
        epochs=3,
        freeze_backbone_epochs=1,
        weights=weights,
        steps_per_epoch=3,
        learning_rate=0.01,
        figures=False,
        verbose=0,
        precise_bn=False,
        extra_callbacks=[watch],
    )
    start, frozen, *released = watch.seen
    np.testing.assert_array_equal(frozen["hidden"], start["hidden"])
    assert np.abs(frozen["embedding"] - start["embedding"]).max() > 1e-4
    for after in released:
        assert np.abs(after["hidden"] - start["hidden"]).max() > 1e-4
    assert int(result.model.optimizer.iterations.numpy()) == 9
    assert all(layer.trainable for layer in result.model.layers)


def test_an_application_backbone_sees_the_pixels_under_channel_z_scores(tmp_path):
    """The data are channel z-scored; a keras.applications backbone's own preprocessing
    expects pixels, so the run hands it the statistics to map them back: its "to_pixels"
    layer gives the original 0..255 pixels of a test image."""
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (48, 32, 32, 3), dtype=np.uint8)
    path = tmp_path / "toy.npz"
    np.savez(
        path,
        x_train=pixels[:32],
        y_train=np.arange(32) % 2,
        x_test=pixels[32:],
        y_test=np.arange(16) % 2,
    )
    splits = load_dataset(str(path), verbose=False)
    assert splits.standardize == "channel"
    model = _run(splits, backbone="mobilenetv3small", steps_per_epoch=1, batch_size=16).model
    to_pixels = keras.Model(model.input, model.get_layer("to_pixels").output)
    seen = keras.ops.convert_to_numpy(to_pixels(splits.x_test[:2]))
    np.testing.assert_allclose(seen, pixels[32:34].astype(np.float32), atol=0.05)
