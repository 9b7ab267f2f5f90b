"""keras_angular.callbacks.ramps and .recipe in real (tiny) model.fit runs.

Expected values come from the AMC paper's formulas (Sec. 3.2) written out here, not
from keras_angular.schedules; Adam's update is re-implemented in NumPy.
"""

import math
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from keras import ops  # noqa: E402

from keras_angular.callbacks import ramps, recipe  # noqa: E402
from keras_angular.callbacks.ramps import (  # noqa: E402
    AdamBeta1Ramp,
    LearningRateRamp,
    LossWeightRamp,
)
from keras_angular.callbacks.recipe import (  # noqa: E402
    TemporalEnsemblingSchedule,
    ema_optimizer,
)


def up(t, length):
    return math.exp(-5 * (1 - t / length) ** 2) if t < length else 1.0


def down(t, total, length):
    return math.exp(-12.5 * (1 - (total - t) / length) ** 2) if t >= total - length else 1.0


class WeightedCE(keras.losses.Loss):
    """Stand-in for AMCLoss & co: ``weight * cross-entropy`` with a scalar weight variable."""

    def __init__(self, weight=0.5, name="weighted_ce", reduction="sum_over_batch_size"):
        super().__init__(name=name, reduction=reduction)
        self.weight = keras.Variable(
            weight, dtype="float32", trainable=False, name=f"{name}_weight"
        )

    def call(self, y_true, y_pred):
        ce = keras.losses.sparse_categorical_crossentropy(y_true, y_pred, from_logits=True)
        return self.weight * ce


class Recorder(keras.callbacks.Callback):
    """Reads values *during* each epoch (at its first batch), after every ramp has run."""

    def __init__(self, read):
        super().__init__()
        self.read, self.seen = read, []

    def on_train_batch_begin(self, batch, logs=None):
        if batch == 0:
            self.seen.append(float(ops.convert_to_numpy(self.read(self.model))))


@pytest.fixture(scope="module")
def small_digits():
    from sklearn.datasets import load_digits

    data = load_digits()
    x = (data.data[:192] / 16.0).astype("float32")
    y = data.target[:192].astype("int32")
    return x, y


def classifier(outputs=None):
    inputs = keras.Input((64,))
    hidden = keras.layers.Dense(16, activation="relu")(inputs)
    if outputs is None:
        return keras.Model(inputs, keras.layers.Dense(10)(hidden))
    return keras.Model(
        inputs, {name: keras.layers.Dense(10, name=name)(hidden) for name in outputs}
    )


# --------------------------------------------------------------------------- LossWeightRamp


@pytest.mark.backends
def test_loss_weight_ramp_drives_the_compiled_loss(small_digits):
    x, y = small_digits
    loss = WeightedCE(weight=0.5)
    model = classifier()
    # A zero learning rate freezes the model: the logged loss is weight(t) * a constant,
    # which proves the compiled train step reads the variable the callback assigns.
    model.compile(keras.optimizers.SGD(0.0), loss=loss)
    ramp = LossWeightRamp(loss, ramp_up=4, ramp_down=2, total_epochs=6)
    recorder = Recorder(lambda m: loss.weight)
    history = model.fit(x, y, batch_size=64, epochs=6, verbose=0, callbacks=[ramp, recorder])

    expected = [0.5 * up(t, 4) * down(t, 6, 2) for t in range(6)]
    np.testing.assert_allclose(recorder.seen, expected, rtol=1e-6)
    np.testing.assert_allclose(history.history["loss_weight"], expected, rtol=1e-6)
    ratio = np.asarray(history.history["loss"]) / np.asarray(expected)
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-4)
    assert ramp.max_weight == 0.5  # the loss's weight at construction


@pytest.mark.backends
def test_loss_weight_ramp_by_name_in_a_dict_compiled_model(small_digits):
    x, y = small_digits
    loss = WeightedCE(weight=0.1, name="amc_like")
    model = classifier(outputs=("logits", "aux"))
    model.compile(
        "adam",
        loss={"logits": keras.losses.SparseCategoricalCrossentropy(from_logits=True), "aux": loss},
    )
    # Made from a config: the loss is only a name, looked up when training starts.
    ramp = LossWeightRamp.from_config(
        LossWeightRamp(loss, ramp_up=3, max_weight=2.0, log_key="amc_weight").get_config()
    )
    assert ramp.loss is None and ramp.get_config()["loss"] == "amc_like"
    history = model.fit(
        x, {"logits": y, "aux": y}, batch_size=96, epochs=4, verbose=0, callbacks=[ramp]
    )
    assert ramp.loss is loss
    np.testing.assert_allclose(
        history.history["amc_weight"], [2.0 * up(t, 3) for t in range(4)], rtol=1e-6
    )
    assert float(ops.convert_to_numpy(loss.weight)) == pytest.approx(2.0)


@pytest.mark.backends
def test_loss_weight_ramp_errors():
    with pytest.raises(ValueError, match="no scalar `keras.Variable` attribute `weight`"):
        LossWeightRamp(keras.losses.MeanSquaredError())
    with pytest.raises(ValueError, match="ramp_up.*>= 0"):
        LossWeightRamp(WeightedCE(), ramp_up=-1)
    with pytest.raises(ValueError, match="longer than the training"):
        LossWeightRamp(WeightedCE(), ramp_down=20, total_epochs=10)
    with pytest.raises(ValueError, match="max_weight"):
        LossWeightRamp(WeightedCE(), max_weight=-1.0)
    with pytest.raises(ValueError, match="total_epochs"):
        LossWeightRamp(WeightedCE(), total_epochs=0)
    model = classifier()
    model.compile("adam", loss=WeightedCE(name="other"))
    ramp = LossWeightRamp("missing")
    ramp.set_model(model)
    with pytest.raises(ValueError, match="no compiled loss of the model is named 'missing'"):
        ramp.on_train_begin()


# --------------------------------------------------------------------------- LearningRateRamp


@pytest.mark.backends
def test_learning_rate_ramp_sets_the_rate_sgd_really_uses():
    # One weight w, loss (w x - 0)^2 with x = 1: gradient 2 w, so SGD gives
    # w_{t+1} = w_t (1 - 2 lr_t) with one step per epoch.
    model = keras.Sequential(
        [keras.Input((1,)), keras.layers.Dense(1, use_bias=False, kernel_initializer="ones")]
    )
    model.compile(keras.optimizers.SGD(1.0), loss="mse")
    ramp = LearningRateRamp(max_lr=0.2, ramp_up=3, ramp_down=2, total_epochs=6)
    recorder = Recorder(lambda m: m.optimizer.learning_rate)
    history = model.fit(
        np.ones((1, 1)), np.zeros((1, 1)), epochs=6, verbose=0, callbacks=[ramp, recorder]
    )
    lrs = [0.2 * up(t, 3) * down(t, 6, 2) for t in range(6)]
    np.testing.assert_allclose(recorder.seen, lrs, rtol=1e-6)
    np.testing.assert_allclose(history.history["learning_rate"], lrs, rtol=1e-6)
    expected_w = np.prod([1 - 2 * lr for lr in lrs])
    assert float(ops.convert_to_numpy(model.layers[0].kernel)[0, 0]) == pytest.approx(
        expected_w, rel=1e-5
    )


@pytest.mark.backends
def test_learning_rate_ramp_defaults_total_to_fit_epochs_and_rejects_schedules():
    ramp = LearningRateRamp(max_lr=0.003, ramp_up=80, ramp_down=50, total_epochs=300)
    assert ramp.value(0) == pytest.approx(0.003 * math.exp(-5))
    assert ramp.value(299) == pytest.approx(0.003 * down(299, 300, 50))

    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.9)
    model.compile(keras.optimizers.SGD(schedule), loss="mse")
    with pytest.raises(ValueError, match="float `learning_rate`"):
        model.fit(
            np.ones((2, 1)),
            np.ones((2, 1)),
            epochs=1,
            verbose=0,
            callbacks=[LearningRateRamp(max_lr=0.1, ramp_up=1, ramp_down=0)],
        )

    model.compile(keras.optimizers.SGD(0.1), loss="mse")
    ramp = LearningRateRamp(max_lr=0.1, ramp_up=0, ramp_down=2)  # T from fit: 4 epochs
    history = model.fit(np.ones((2, 1)), np.ones((2, 1)), epochs=4, verbose=0, callbacks=[ramp])
    np.testing.assert_allclose(
        history.history["learning_rate"], [0.1 * down(t, 4, 2) for t in range(4)], rtol=1e-6
    )
    with pytest.raises(ValueError, match="max_lr"):
        LearningRateRamp(max_lr=0.0)


# --------------------------------------------------------------------------- AdamBeta1Ramp


def keras_adam_reference(betas, w0=1.0, lr=0.1, beta_2=0.999, eps=1e-7):
    """Keras 3 Adam on f(w) = w^2 (gradient 2w), one step per beta, in float64."""
    w, m, v = w0, 0.0, 0.0
    for k, beta_1 in enumerate(betas, start=1):
        g = 2 * w
        alpha = lr * math.sqrt(1 - beta_2**k) / (1 - beta_1**k)
        m += (g - m) * (1 - beta_1)
        v += (g * g - v) * (1 - beta_2)
        w -= m * alpha / (math.sqrt(v) + eps)
    return w


@pytest.mark.backends
def test_adam_beta_1_ramp_changes_the_update_of_a_compiled_step(tmp_path):
    model = keras.Sequential(
        [keras.Input((1,)), keras.layers.Dense(1, use_bias=False, kernel_initializer="ones")]
    )
    model.compile(keras.optimizers.Adam(0.1), loss="mse")
    x, y = np.ones((1, 1)), np.zeros((1, 1))
    # Two epochs without the callback: the train step is traced with beta_1 = 0.9 baked in.
    model.fit(x, y, epochs=2, verbose=0)
    ramp = AdamBeta1Ramp(total_epochs=8, ramp_down=5)
    recorder = Recorder(lambda m: m.optimizer.beta_1)
    history = model.fit(x, y, epochs=8, initial_epoch=2, verbose=0, callbacks=[ramp, recorder])

    betas = [0.9 * down(t, 8, 5) + 0.5 * (1 - down(t, 8, 5)) for t in range(8)]
    np.testing.assert_allclose(recorder.seen, betas[2:], rtol=1e-6)
    np.testing.assert_allclose(history.history["beta_1"], betas[2:], rtol=1e-6)
    assert betas[-1] < 0.51  # the ramp really went to ~0.5

    w = float(ops.convert_to_numpy(model.layers[0].kernel)[0, 0])
    ramped, constant = keras_adam_reference(betas), keras_adam_reference([0.9] * 8)
    assert w == pytest.approx(ramped, rel=1e-4, abs=1e-6)
    assert abs(ramped - constant) > 50 * abs(w - ramped) + 1e-3  # the test can tell them apart

    # The optimizer still saves and reloads as a plain Adam (beta_1 as a float).
    config = model.optimizer.get_config()
    assert isinstance(config["beta_1"], float) and config["beta_1"] == pytest.approx(betas[-1])
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded.optimizer.beta_1, float)
    assert loaded.optimizer.beta_1 == pytest.approx(betas[-1])
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert len(loaded.optimizer.variables) == len(model.optimizer.variables)


@pytest.mark.backends
def test_adam_beta_1_ramp_errors():
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.1), loss="mse")
    with pytest.raises(ValueError, match="Adam family"):
        model.fit(
            np.ones((2, 1)),
            np.ones((2, 1)),
            epochs=1,
            verbose=0,
            callbacks=[AdamBeta1Ramp(total_epochs=1, ramp_down=0)],
        )
    with pytest.raises(ValueError, match=r"start.*\[0, 1\)"):
        AdamBeta1Ramp(total_epochs=10, ramp_down=2, start=1.0)
    with pytest.raises(ValueError, match="ramp_down"):
        AdamBeta1Ramp(total_epochs=10, ramp_down=-2)
    assert AdamBeta1Ramp(total_epochs=300, ramp_down=50).value(275) == pytest.approx(
        0.9 * math.exp(-3.125) + 0.5 * (1 - math.exp(-3.125))
    )


# --------------------------------------------------------------------------- the recipe


@pytest.mark.backends
def test_recipe_plans_scale_with_the_epochs():
    loss = WeightedCE(weight=0.1)
    paper = TemporalEnsemblingSchedule(loss, total_epochs=300, recipe="paper").plan()
    assert (paper["ramp_up"], paper["ramp_down"], paper["max_lr"]) == (80, 50, 0.003)
    assert paper["max_weight"] == pytest.approx(0.1) and paper["ema_momentum"] is None
    official = TemporalEnsemblingSchedule(loss, total_epochs=200, recipe="official").plan()
    assert (official["ramp_up"], official["ramp_down"]) == (50, 30)
    assert official["max_weight"] == pytest.approx(10.0)  # 0.1 x 100
    assert official["ema_momentum"] == 0.999 and official["beta_1"] == (0.9, 0.5)
    scaled = TemporalEnsemblingSchedule(loss, recipe="paper").plan(30)
    assert (scaled["ramp_up"], scaled["ramp_down"]) == (8, 5)
    assert (
        TemporalEnsemblingSchedule(loss, recipe="official", max_weight=3.0).plan(20)["max_weight"]
        == 3.0
    )
    with pytest.raises(ValueError, match="recipe"):
        TemporalEnsemblingSchedule(recipe="mean-teacher")
    with pytest.raises(ValueError, match="ema"):
        TemporalEnsemblingSchedule(ema="yes")
    opt = TemporalEnsemblingSchedule(recipe="official").make_optimizer()
    assert opt.use_ema and opt.ema_momentum == 0.999 and opt.beta_1 == 0.9
    assert float(ops.convert_to_numpy(opt.learning_rate)) == pytest.approx(0.003)
    assert ema_optimizer().use_ema


@pytest.mark.backends
def test_official_recipe_in_fit_logs_everything_and_validates_on_ema_weights(small_digits):
    x, y = small_digits
    loss = WeightedCE(weight=0.1)
    schedule = TemporalEnsemblingSchedule(loss, recipe="official")  # T = fit's epochs (8)
    model = classifier()
    model.compile(schedule.make_optimizer(), loss=loss)
    history = model.fit(
        x,
        y,
        batch_size=64,
        epochs=8,
        verbose=0,
        callbacks=[schedule],
        validation_data=(x[:64], y[:64]),
    )
    # 8 epochs: ramp-up round(50 * 8/200) = 2, ramp-down round(30 * 8/200) = 1.
    assert (schedule.applied_plan["ramp_up"], schedule.applied_plan["ramp_down"]) == (2, 1)
    h = history.history
    np.testing.assert_allclose(h["loss_weight"], [10.0 * up(t, 2) for t in range(8)], rtol=1e-6)
    np.testing.assert_allclose(
        h["learning_rate"], [0.003 * up(t, 2) * down(t, 8, 1) for t in range(8)], rtol=1e-6
    )
    np.testing.assert_allclose(
        h["beta_1"], [0.9 * down(t, 8, 1) + 0.5 * (1 - down(t, 8, 1)) for t in range(8)], rtol=1e-6
    )
    # Validation ran on the EMA weights, and fit() leaves the EMA weights in the model:
    # evaluating now reproduces the last val_loss exactly ...
    ema_val = model.evaluate(x[:64], y[:64], batch_size=64, verbose=0)
    assert h["val_loss"][-1] == pytest.approx(ema_val, rel=1e-5)
    # ... while the raw weights (kept nowhere after fit) differ: check the EMA differs
    # from what training alone gives, with the same schedule and no averaging.
    keras.utils.set_random_seed(1234)
    raw_model = classifier()
    raw_loss = WeightedCE(weight=0.1)
    raw_schedule = TemporalEnsemblingSchedule(raw_loss, recipe="official", ema=False)
    raw_model.compile(raw_schedule.make_optimizer(), loss=raw_loss)
    raw = raw_model.fit(
        x,
        y,
        batch_size=64,
        epochs=8,
        verbose=0,
        callbacks=[raw_schedule],
        validation_data=(x[:64], y[:64]),
    ).history
    assert abs(raw["val_loss"][-1] - h["val_loss"][-1]) > 1e-3


@pytest.mark.backends
def test_official_recipe_needs_an_ema_optimizer_and_paper_baseline_needs_no_loss(small_digits):
    x, y = small_digits
    model = classifier()
    model.compile(
        keras.optimizers.Adam(0.003),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    with pytest.raises(ValueError, match="use_ema=False.*make_optimizer"):
        model.fit(
            x, y, epochs=1, verbose=0, callbacks=[TemporalEnsemblingSchedule(recipe="official")]
        )
    # The cross-entropy baseline of the paper: same lr / beta_1 schedule, no loss to ramp.
    schedule = TemporalEnsemblingSchedule(None, total_epochs=3, recipe="paper")
    history = model.fit(x, y, batch_size=96, epochs=3, verbose=0, callbacks=[schedule]).history
    assert "loss_weight" not in history
    lengths = schedule.plan()
    assert (lengths["ramp_up"], lengths["ramp_down"]) == (1, 1)
    np.testing.assert_allclose(
        history["learning_rate"], [0.003 * up(t, 1) * down(t, 3, 1) for t in range(3)], rtol=1e-6
    )
    with pytest.warns(UserWarning, match="scaled to total_epochs=5"):
        model.fit(
            x,
            y,
            batch_size=96,
            epochs=1,
            verbose=0,
            callbacks=[TemporalEnsemblingSchedule(total_epochs=5)],
        )


# --------------------------------------------------------------------------- serialization


@pytest.mark.backends
@pytest.mark.parametrize(
    "make",
    [
        lambda: LossWeightRamp(WeightedCE(weight=0.3), ramp_up=7, ramp_down=2, total_epochs=20),
        lambda: LearningRateRamp(max_lr=0.01, ramp_up=5, ramp_down=3, total_epochs=None),
        lambda: AdamBeta1Ramp(total_epochs=40, ramp_down=10, start=0.95, end=0.4),
        lambda: TemporalEnsemblingSchedule(
            "amc", total_epochs=50, recipe="official", max_lr=0.001, ema=False
        ),
    ],
)
def test_get_config_round_trip(make):
    callback = make()
    config = callback.get_config()
    assert type(callback).from_config(config).get_config() == config
    serialized = keras.saving.serialize_keras_object(callback)
    assert serialized["registered_name"] == f"keras_angular>{type(callback).__name__}"
    rebuilt = keras.saving.deserialize_keras_object(serialized)
    assert type(rebuilt) is type(callback) and rebuilt.get_config() == config


@pytest.mark.backends
def test_public_names_are_exported():
    import keras_angular.callbacks as callbacks

    for module in (ramps, recipe):
        for name in module.__all__:
            assert getattr(callbacks, name) is getattr(module, name)
