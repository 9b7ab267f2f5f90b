"""Train one method on one dataset and write everything it did to a folder.

:func:`run_method` is what ``keras-angular train`` runs and what
``keras-angular compare`` runs once per method and seed. It writes to
``out_dir``:

* ``model.keras`` - the trained model (outputs ``logits`` and ``embedding``);
* ``saved_model/`` - a SavedModel export serving both outputs, no label input;
* ``history.json`` - the Keras history (losses, accuracy, ramped values);
* ``metrics.json`` - test accuracy and the feature geometry of the test set
  (:func:`geometry_metrics`);
* ``figures/*.png`` - the geometry figures (:func:`geometry_figures`);
* ``backup/`` - a ``keras.callbacks.BackupAndRestore`` checkpoint while
  training runs: the same command resumes an interrupted run;
* ``run.json`` - the run's settings and a fingerprint of its data
  (:func:`run_record`), written before training starts. When ``backup/`` exists,
  :func:`check_resume` compares it with the new run's and refuses to resume a run
  with other data or settings (:class:`RunSettingsError`, naming what differs).

A folder that holds a finished run (``model.keras``, no ``backup/``) is
overwritten by a new run, whatever its settings: every file listed above is
written again; files the new run does not write (``figures/`` with
``figures=False``) are left as the earlier run wrote them.
"""

import contextlib
import hashlib
import json
import math
import numbers
import os
import time
import types

import keras
import numpy as np
import tensorflow as tf

from keras_angular import metrics, plots
from keras_angular.callbacks import (
    GeometryMetrics,
    PreciseBatchNorm,
    TemporalEnsemblingSchedule,
)
from keras_angular.data import AUGMENTATIONS, test_dataset, train_dataset
from keras_angular.methods import build_method, get_method, method_params, targets
from keras_angular.models import BACKBONES, build_backbone


def default_backbone(input_shape):
    """The backbone used when none is named: ``mlp`` for tiny images (16x16 or less, e.g.
    the 8x8 digits), :func:`keras_angular.models.small_cnn` (128-d embedding) for larger
    images of any size."""
    height, width, _ = input_shape
    return "mlp" if max(height, width) <= 16 else "small_cnn"


def embed(model, dataset):
    """Predict ``(logits, embedding)`` as NumPy arrays over a ``tf.data`` dataset."""
    outputs = model.predict(dataset, verbose=0)
    return np.asarray(outputs["logits"]), np.asarray(outputs["embedding"])


def geometry_metrics(embeddings, labels, kernel, predictions, seed=0):
    """:func:`keras_angular.metrics.feature_geometry` with the per-class mean target
    angles (W-Softmax Eq. 14) as the list ``class_mean_angles_deg``: every angle in
    degrees, under a key ending ``_deg``."""
    return metrics.feature_geometry(
        embeddings, labels, kernel, predictions, seed=seed, class_means=True
    )


def geometry_figures(embeddings, labels, kernel, folder, class_names=None, seed=0):
    """Draw the geometry figures of one model into ``folder``; returns their paths."""
    os.makedirs(folder, exist_ok=True)
    path = lambda name: os.path.join(folder, name)  # noqa: E731
    save = plots.save_figure  # each figure is written before the next is drawn
    if embeddings.shape[-1] in (2, 3):
        features = save(plots.plot_embedding(embeddings, labels), path("embedding.png"))
    else:
        features = save(plots.plot_tsne(embeddings, labels, seed=seed), path("tsne.png"))
    return [
        features,
        save(plots.plot_pair_angle_histograms(embeddings, labels), path("pair_angles.png")),
        save(
            plots.plot_class_mean_angles(embeddings, labels, kernel, class_names=class_names),
            path("class_mean_angles.png"),
        ),
        save(plots.plot_cosine_similarity(embeddings, labels), path("cosine_similarity.png")),
    ]


def _fit(setup, train, test, epochs, initial_epoch, callbacks, verbose):
    return setup.model.fit(
        train,
        validation_data=test,
        epochs=epochs,
        initial_epoch=initial_epoch,
        callbacks=callbacks,
        verbose=verbose,
        shuffle=False,  # train_dataset shuffles, seeded
    )


def run_method(
    method,
    splits,
    *,
    epochs,
    batch_size=128,
    seed=0,
    backbone=None,
    backbone_kwargs=None,
    learning_rate=2e-3,
    lr_schedule="cosine",
    overrides=None,
    out_dir=None,
    augment=False,
    figures=True,
    verbose=1,
    jit_compile="auto",
    strategy=None,
    extra_callbacks=(),
    recipe=None,
    geometry_every=None,
    precise_bn=True,
):
    """Train ``method`` on ``splits`` and evaluate it on the test split.

    Args:
        method: a name in :data:`keras_angular.methods.METHODS`.
        splits: a :class:`keras_angular.data.DatasetSplits`.
        epochs: number of epochs.
        batch_size: global batch size.
        seed: seeds Keras, NumPy, TensorFlow and the data order.
        backbone: a name for :func:`keras_angular.models.build_backbone`
            (default :func:`default_backbone`).
        backbone_kwargs: extra arguments for the backbone builder.
        learning_rate: Adam's (peak) learning rate.
        lr_schedule: ``"cosine"`` (default): decay it to 0 over the run's steps,
            ``0.5 * (1 + cos(pi * step / total_steps))`` (Loshchilov & Hutter, SGDR, 2017,
            without restarts); ``"constant"``: keep it. Measured on 6,000 Fashion-MNIST
            images with the default backbone (4 epochs): constant 1e-3 gave 79.1, 82.5,
            84.3, 83.1 % test accuracy per epoch, cosine from 2e-3 79.1, 83.6, 85.6, 85.8 %.
            Two-phase methods (``pretrain_epochs``) keep one optimizer, so the schedule
            runs on across the phases.
        overrides: the method's hyper-parameters to change (``{"margin": 0.3}``).
        out_dir: where to write the files listed in the module docstring;
            None writes nothing.
        augment: passed to :func:`keras_angular.data.train_dataset`.
        figures: draw the geometry figures (needs ``out_dir``).
        verbose: Keras' progress-bar verbosity.
        jit_compile: passed to ``model.compile``.
        strategy: a ``tf.distribute.Strategy`` to build and train under.
        extra_callbacks: more Keras callbacks.
        geometry_every: also log the test set's feature geometry every this many
            epochs (:class:`keras_angular.callbacks.GeometryMetrics`, keys ``val_w_inter_deg``
            ...) into the history; None does not.
        recipe: None, or ``"paper"`` / ``"official"``: train with the AMC paper's whole
            temporal-ensembling recipe (:class:`keras_angular.callbacks.TemporalEnsemblingSchedule`:
            ramped learning rate, Adam beta_1 and feature-loss weight, EMA weights for the
            official code's variant) in place of ``learning_rate`` and the method's own ramp.

        precise_bn: before every evaluation and at the end of training, set the batch
            norms' statistics to the population statistics of the current weights over
            (up to 4,096 of) the training images
            (:class:`keras_angular.callbacks.PreciseBatchNorm`); without it, inference
            reads Keras' moving averages, which lag far behind the weights in short runs.
            No effect on a backbone without batch norm.

    Returns:
        A dict: ``method``, ``seed``, ``params``, ``test_accuracy``, the
        :func:`geometry_metrics`, ``train_seconds`` and ``history``.

    Raises:
        RunSettingsError: (a ``ValueError``) before anything is built or written: a bad
            argument (``epochs < 1``, ``batch_size < 1``, ``learning_rate <= 0``, an unknown
            method, parameter or backbone...), or ``out_dir`` holds an interrupted run
            with other data or settings (:func:`check_resume`).
    """
    settings = dict(
        seed=seed,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        lr_schedule=lr_schedule,
        backbone=backbone,
        backbone_kwargs=backbone_kwargs,
        overrides=overrides,
        augment=augment,
        recipe=recipe,
        precise_bn=precise_bn,
    )
    check_run_arguments(method, geometry_every=geometry_every, **settings)
    if out_dir is not None:
        record = run_record(method, splits, **settings)
        check_resume(out_dir, record)
        _write_record(out_dir, record)
    keras.utils.set_random_seed(seed)
    backbone = backbone or default_backbone(splits.input_shape)
    scope = strategy.scope() if strategy is not None else contextlib.nullcontext()
    with scope:
        net = build_backbone(backbone, splits.input_shape, **(backbone_kwargs or {}))
        setup = build_method(method, net, splits.num_classes, epochs, **dict(overrides or {}))
        if recipe is None:
            steps = epochs * math.ceil(len(splits.x_train) / batch_size)
            optimizer = keras.optimizers.Adam(
                learning_rate_schedule(lr_schedule, learning_rate, steps)
            )
            make_optimizer = lambda: optimizer  # noqa: E731 - a second phase continues it
        else:
            schedule = TemporalEnsemblingSchedule(
                loss=setup.loss.get("embedding"), total_epochs=epochs, recipe=recipe
            )
            make_optimizer = schedule.make_optimizer
            setup.callbacks = [schedule]
        setup.compile(make_optimizer(), loss=setup.pretrain_loss, jit_compile=jit_compile)

    epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
    train = train_dataset(splits, batch_size, augment=augment, seed=seed, epoch=epoch).map(
        lambda x, y: (x, targets(y))
    )
    test = test_dataset(splits, batch_size).map(lambda x, y: (x, targets(y)))
    callbacks = [_EpochCounter(epoch), *setup.callbacks, *extra_callbacks]
    if precise_bn:
        callbacks.insert(1, PreciseBatchNorm(splits.x_train, seed=seed))
    if geometry_every:
        callbacks.append(
            GeometryMetrics(splits.x_test, splits.y_test, every=geometry_every, prefix="val_")
        )
    if out_dir is not None:
        os.makedirs(out_dir, exist_ok=True)
        callbacks.append(keras.callbacks.BackupAndRestore(os.path.join(out_dir, "backup")))

    started = time.perf_counter()
    history = {}
    first_epochs = 0
    if setup.pretrain_loss is not None:
        first_epochs = min(int(setup.params["pretrain_epochs"]), epochs)
        phase = _fit(setup, train, test, first_epochs, 0, callbacks, verbose)
        history = dict(phase.history)
        with scope:
            setup.compile(make_optimizer(), jit_compile=jit_compile)
    phase = _fit(setup, train, test, epochs, first_epochs, callbacks, verbose)
    for key, values in phase.history.items():
        history.setdefault(key, []).extend(values)
    train_seconds = time.perf_counter() - started

    logits, embeddings = embed(setup.model, test_dataset(splits, batch_size))
    predictions = np.argmax(logits, axis=-1)
    kernel = keras.ops.convert_to_numpy(setup.head.kernel)
    result = {
        "method": method,
        "seed": seed,
        "backbone": backbone,
        "params": setup.params,
        "test_accuracy": float(np.mean(predictions == splits.y_test)),
        **geometry_metrics(embeddings, splits.y_test, kernel, predictions, seed=seed),
        "train_seconds": train_seconds,
        "history": {k: [float(v) for v in vals] for k, vals in history.items()},
    }
    if out_dir is not None:
        _write_outputs(setup.model, result, out_dir)
        if figures:
            result["figures"] = geometry_figures(
                embeddings,
                splits.y_test,
                kernel,
                os.path.join(out_dir, "figures"),
                class_names=splits.class_names,
                seed=seed,
            )
    return result


class _EpochCounter(keras.callbacks.Callback):
    """Keeps the data pipeline's epoch variable on the epoch Keras is running, so the
    batches of epoch ``e`` depend only on ``(seed, e)`` - also after a resume."""

    def __init__(self, variable):
        super().__init__()
        self.variable = variable

    def on_epoch_begin(self, epoch, logs=None):
        self.variable.assign(epoch)


def _write_outputs(model, result, out_dir):
    model.save(os.path.join(out_dir, "model.keras"))
    model.export(os.path.join(out_dir, "saved_model"), verbose=False)
    with open(os.path.join(out_dir, "history.json"), "w") as f:
        json.dump(result["history"], f, indent=1)
    with open(os.path.join(out_dir, "metrics.json"), "w") as f:
        json.dump({k: v for k, v in result.items() if k != "history"}, f, indent=1)


# --------------------------------------------------------------------------- run checks

LR_SCHEDULES = ("cosine", "constant")
"""The ``lr_schedule`` values :func:`run_method` accepts."""


def learning_rate_schedule(kind, learning_rate, total_steps):
    """Adam's learning rate for :func:`run_method`: ``kind`` is one of :data:`LR_SCHEDULES`."""
    if kind == "constant":
        return learning_rate
    return keras.optimizers.schedules.CosineDecay(learning_rate, max(int(total_steps), 1))


RUN_RECORD = "run.json"
"""The file in ``out_dir`` that says which run the folder holds (:func:`run_record`)."""

_RECORD_FORMAT = 1
_SAMPLED_IMAGES = 64  # images per split that the data fingerprint hashes


class RunSettingsError(ValueError):
    """:func:`run_method` refused its arguments or its ``out_dir`` before building or
    writing anything; the message says what to change."""


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


RUN_DEFAULTS = {
    "seed": 0,
    "batch_size": 128,
    "learning_rate": 2e-3,
    "lr_schedule": "cosine",
    "backbone": None,
    "backbone_kwargs": None,
    "overrides": None,
    "augment": False,
    "recipe": None,
    "precise_bn": True,
    "geometry_every": None,
}
""":func:`run_method`'s defaults for the settings that :func:`check_run_arguments` and
:func:`run_record` read (``epochs`` has none)."""


def _settings(owner, settings):
    """``settings`` over :data:`RUN_DEFAULTS`, as a namespace; ``epochs`` is required."""
    if "epochs" not in settings:
        raise TypeError(f"{owner}() missing the keyword argument 'epochs'.")
    return types.SimpleNamespace(**{**RUN_DEFAULTS, **settings})


def check_run_arguments(method, **settings):
    """Raise :class:`RunSettingsError` with one sentence if :func:`run_method` could not
    train with these keyword arguments (``epochs`` and any of :data:`RUN_DEFAULTS`; the
    other keyword arguments are ignored)."""
    from keras_angular.callbacks.recipe import RECIPES

    run = _settings("check_run_arguments", settings)

    def fail(message):
        raise RunSettingsError(f"run_method: {message}")

    for name, value, low in [("epochs", run.epochs, 1), ("batch_size", run.batch_size, 1)]:
        if not _is_int(value) or value < low:
            fail(f"`{name}` must be an int >= {low}, got {value!r}.")
    if not _is_int(run.seed) or not 0 <= run.seed < 2**32:
        fail(f"`seed` must be an int in [0, 2**32), got {run.seed!r}.")
    if run.geometry_every is not None and (
        not _is_int(run.geometry_every) or run.geometry_every < 1
    ):
        fail(f"`geometry_every` must be None or an int >= 1, got {run.geometry_every!r}.")
    if (
        not isinstance(run.learning_rate, numbers.Real)
        or isinstance(run.learning_rate, bool)
        or not math.isfinite(run.learning_rate)
        or run.learning_rate <= 0
    ):
        fail(f"`learning_rate` must be a finite number > 0, got {run.learning_rate!r}.")
    if run.lr_schedule not in LR_SCHEDULES:
        fail(f"`lr_schedule` must be one of {LR_SCHEDULES}, got {run.lr_schedule!r}.")
    if run.recipe is not None and run.recipe not in RECIPES:
        fail(f"`recipe` must be None or one of {sorted(RECIPES)}, got {run.recipe!r}.")
    if run.augment not in (False, "none", *AUGMENTATIONS):
        fail(f"`augment` must be one of {AUGMENTATIONS}, got {run.augment!r}.")
    if run.backbone is not None and str(run.backbone).lower() not in BACKBONES:
        fail(f"unknown backbone {run.backbone!r}; valid names: {', '.join(BACKBONES)}.")
    if run.backbone_kwargs is not None and not isinstance(run.backbone_kwargs, dict):
        fail(f"`backbone_kwargs` must be None or a dict, got {run.backbone_kwargs!r}.")
    try:
        method_params(get_method(method), dict(run.overrides or {}))
    except (ValueError, TypeError) as error:
        fail(str(error))


def data_fingerprint(splits):
    """A cheap fingerprint of a :class:`~keras_angular.data.DatasetSplits`: its name,
    shapes, classes, preprocessing and a SHA-256 of every label plus up to 64 evenly
    strided images per split (kilobytes hashed, never a copy of the whole set)."""
    digest = hashlib.sha256()
    for x, y in [(splits.x_train, splits.y_train), (splits.x_test, splits.y_test)]:
        step = max(1, len(x) // _SAMPLED_IMAGES)
        digest.update(repr(x.shape).encode())
        digest.update(np.ascontiguousarray(x[::step][:_SAMPLED_IMAGES]).tobytes())
        digest.update(np.ascontiguousarray(y, dtype=np.int32).tobytes())
    return {
        "name": splits.name,
        "x_train": list(splits.x_train.shape),
        "x_test": list(splits.x_test.shape),
        "num_classes": splits.num_classes,
        "standardize": splits.standardize,
        "hash": digest.hexdigest()[:20],
    }


def run_record(method, splits, **settings):
    """What :func:`run_method` writes to ``out_dir/run.json``: the settings that decide
    the trained weights (method, seed, epochs, batch size, learning rate and its schedule,
    backbone and its kwargs, overrides, augmentation, recipe, precise BN) and
    :func:`data_fingerprint`, as plain JSON values. ``settings``: ``epochs`` and any of
    :data:`RUN_DEFAULTS`; the other keyword arguments are ignored."""
    run = _settings("run_record", settings)
    record = {
        "format": _RECORD_FORMAT,
        "method": method,
        "seed": run.seed,
        "epochs": run.epochs,
        "batch_size": run.batch_size,
        "learning_rate": run.learning_rate,
        "lr_schedule": run.lr_schedule,
        "backbone": run.backbone or default_backbone(splits.input_shape),
        "backbone_kwargs": dict(run.backbone_kwargs or {}),
        "overrides": dict(run.overrides or {}),
        "augment": run.augment if run.augment not in (False, "none") else None,
        "recipe": run.recipe,
        "precise_bn": bool(run.precise_bn),
        "data": data_fingerprint(splits),
    }
    return json.loads(json.dumps(record, default=repr))


def _differences(old, new, prefix=""):
    """``(old_parts, new_parts)``: ``"key=value"`` for each key whose value differs."""
    old_parts, new_parts = [], []
    for key in [*new, *(k for k in old if k not in new)]:
        a, b = old.get(key, "unset"), new.get(key, "unset")
        if a == b:
            continue
        if key == "data" and isinstance(a, dict) and isinstance(b, dict):
            more_old, more_new = _differences(a, b, prefix="data.")
            old_parts += more_old
            new_parts += more_new
        else:
            old_parts.append(f"{prefix}{key}={a!r}")
            new_parts.append(f"{prefix}{key}={b!r}")
    return old_parts, new_parts


def check_resume(out_dir, record):
    """Refuse to resume someone else's run: when ``out_dir/backup/`` holds an interrupted
    run, raise :class:`RunSettingsError` unless ``out_dir/run.json`` says it had the data
    and settings of ``record`` (:func:`run_record`); the message names each setting that
    differs. Without ``backup/`` (a new folder, or a finished run that will be
    overwritten) there is nothing to resume and nothing to refuse. Reads only."""
    backup = os.path.join(out_dir, "backup")
    if not os.path.isdir(backup):
        return
    try:
        with open(os.path.join(out_dir, RUN_RECORD)) as f:
            old = json.load(f)
    except (OSError, ValueError):
        old = None
    if not isinstance(old, dict):
        raise RunSettingsError(
            f"{out_dir} holds an interrupted run (backup/) without a readable {RUN_RECORD} "
            f"to say what it was: use another --out (out_dir) or delete {backup}."
        )
    old_parts, new_parts = _differences(old, record)
    if old_parts:
        raise RunSettingsError(
            f"{out_dir} holds an interrupted run with {', '.join(old_parts)}; this run asks "
            f"for {', '.join(new_parts)}: use another --out (out_dir) or delete {backup}."
        )


def _write_record(out_dir, record):
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, RUN_RECORD)
    with open(path + ".tmp", "w") as f:
        json.dump(record, f, indent=1)
    os.replace(path + ".tmp", path)


__all__ = [
    "RUN_RECORD",
    "RunSettingsError",
    "check_resume",
    "RUN_DEFAULTS",
    "check_run_arguments",
    "data_fingerprint",
    "default_backbone",
    "embed",
    "geometry_figures",
    "geometry_metrics",
    "run_method",
    "run_record",
]
