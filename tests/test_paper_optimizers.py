"""The full-scale reproductions train with the papers' own optimizers, through the run's
settings: HASeparator's SGD (momentum 0.9, 0.1 divided by 10 at 32k and 48k of 64k
iterations, Sec. IV-A) and W-Softmax's momentum SGD (0.01 times 0.9 every 6,000 steps,
weight decay 5e-4, Sec. 5.1). Values by hand from the papers' numbers."""

import keras
import pytest

from keras_angular.optimizers import build_optimizer
from keras_angular.reproduce import haseparator_sweep, wsoftmax_alpha
from keras_angular.run_config import RunConfig


def _full(module):
    return module.EXPERIMENT.scales["full"]


def test_haseparator_full_scale_is_sgd_with_the_papers_step_decay():
    scale = _full(haseparator_sweep)
    settings = scale.settings
    config = RunConfig(**{k: v for k, v in settings.items() if k != "figures"})
    optimizer = build_optimizer(config, config.learning_rate)
    assert type(optimizer).__name__ == "SGD" and optimizer.momentum == 0.9
    (scheduler,) = scale.callbacks(scale.runs[0], settings)
    rates = {epoch: scheduler.schedule(epoch, None) for epoch in (0, 81, 82, 122, 123, 163)}
    assert rates == pytest.approx({0: 0.1, 81: 0.1, 82: 0.01, 122: 0.01, 123: 0.001, 163: 0.001})
    # the smoke run's 2 epochs (and a 1-epoch run): one boundary, after the first epoch
    for epochs in (2, 1):
        (short,) = scale.callbacks(scale.runs[0], {**settings, "epochs": epochs})
        assert [short.schedule(epoch, None) for epoch in (0, 1)] == pytest.approx([0.1, 0.01])


def test_wsoftmax_full_scale_decays_the_rate_before_every_step():
    scale = _full(wsoftmax_alpha)
    settings = scale.settings
    assert settings["optimizer"] == "sgd" and settings["momentum"] == 0.9
    assert settings["backbone_kwargs"] == {"weight_decay": 5e-4}
    (callback,) = scale.callbacks(scale.runs[0], settings)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.01, momentum=0.9), loss="mse")
    callback.set_model(model)
    for step, expected in [(0, 0.01), (6000, 0.009), (12000, 0.0081), (3000, 0.01 * 0.9**0.5)]:
        model.optimizer.iterations.assign(step)
        callback.on_train_batch_begin(0)
        assert float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)) == pytest.approx(
            expected, rel=1e-6
        )


def test_every_scales_callbacks_serve_short_runs():
    """A smoke run (``reproduce --max-steps``) trains a scale's runs for 1 to 3 epochs: every
    scale's callbacks build for such runs and their learning-rate schedules give a finite
    positive rate at each epoch (the full haseparator-sweep's step decay once refused two
    boundaries that fell together)."""
    from keras_angular.reproduce import EXPERIMENTS

    checked = 0
    for name, module in EXPERIMENTS.items():
        for scale_name, scale in module.EXPERIMENT.scales.items():
            if scale.callbacks is None:
                continue
            for epochs in (1, 2, 3):
                for run in scale.runs[:2]:
                    settings = {"learning_rate": 2e-3, **scale.settings, **run.settings}
                    settings["epochs"] = epochs
                    for callback in scale.callbacks(run, settings):
                        schedule = getattr(callback, "schedule", None)
                        for epoch in range(epochs) if schedule else ():
                            rate = float(schedule(epoch, settings["learning_rate"]))
                            assert 0 < rate < 10, (name, scale_name, epochs, epoch, rate)
                    checked += 1
    assert checked >= 3 * 2 * 2  # arc-angles and the two full scales at least
