"""How long a reproduce scale will train on this machine, measured before it starts."""

import math
import time

import numpy as np

from keras_angular.run_config import RunConfig


def estimate_seconds(scale, splits, repeats=3):
    """Measured estimate of a scale's training time on this machine: times ``repeats``
    training steps (after one warm-up) of the scale's backbone with a dense head at its
    batch size on random images of ``splits``' shape, times the steps of every run and
    seed. Feature losses, evaluation and precise BN are not counted (a lower bound).

    Returns ``(seconds, seconds_per_step)``.
    """
    import keras

    from keras_angular.models import build_backbone

    settings = dict(scale.settings)
    config = RunConfig(**settings)  # the run's defaults where the scale sets none
    batch = config.batch_size
    net = build_backbone(
        config.backbone_for(splits.input_shape),
        splits.input_shape,
        **dict(config.backbone_kwargs or {}),
    )
    model = keras.Sequential([net, keras.layers.Dense(splits.num_classes)])
    model.compile(keras.optimizers.Adam(), keras.losses.SparseCategoricalCrossentropy(True))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, *splits.input_shape)).astype("float32")
    y = rng.integers(0, splits.num_classes, batch)
    model.train_on_batch(x, y)
    started = time.perf_counter()
    for _ in range(repeats):
        model.train_on_batch(x, y)
    per_step = (time.perf_counter() - started) / repeats
    steps = 0
    for run in scale.runs:
        epochs = int({**settings, **dict(run.settings)}["epochs"])
        steps += epochs * math.ceil(len(splits.x_train) / batch) * scale.seeds
    return per_step * steps, per_step


def duration(seconds):
    """``seconds`` for a progress line: ``"45 s"``, ``"12 min"``, ``"2.5 h"``.

    Examples:
        >>> duration(45), duration(720), duration(9000)
        ('45 s', '12 min', '2.5 h')
    """
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


__all__ = ["duration", "estimate_seconds"]
