"""Train one method on one dataset and write everything it did to a folder.

[`run_method`][keras_angular.training.run_method] is what ``keras-angular train`` runs and what
``keras-angular compare`` runs once per method and seed, with the settings of a
[`keras_angular.run_config.RunConfig`][]. It writes to ``out_dir``:

* ``model.keras`` - the trained model (outputs ``logits`` and ``embedding``);
* ``saved_model/`` - a SavedModel export serving both outputs, no label input (on the
  TensorFlow and JAX backends: [`keras_angular.backend.exports_saved_model`][]);
* ``history.json`` - the Keras history (losses, accuracy, ramped values);
* ``metrics.json`` - test accuracy and the feature geometry of the test set
  ([`geometry_metrics`][keras_angular.training.geometry_metrics]);
* ``figures/*.png`` - the geometry figures
  ([`geometry_figures`][keras_angular.training.geometry_figures]);
* ``projector/`` - with ``projector=True``, the test embeddings for TensorBoard's
  Embedding Projector ([`keras_angular.projector.write_projector`][]);
* ``backup/`` - a ``keras.callbacks.BackupAndRestore`` checkpoint while
  training runs: the same command resumes an interrupted run;
* ``run.json`` - the run's settings and a fingerprint of its data
  ([`keras_angular.run_config.run_record`][]), written before training starts. When
  ``backup/`` exists, [`keras_angular.run_config.check_resume`][] compares it with the
  new run's and refuses to resume a run with other data or settings
  ([`keras_angular.run_config.RunSettingsError`][], naming what differs).

A folder that holds a finished run (``model.keras``, no ``backup/``) is
overwritten by a new run, whatever its settings: every file listed above is
written again; files the new run does not write (``figures/`` with
``figures=False``) are left as the earlier run wrote them.

With ``distribution=`` (a ``keras.distribution.DataParallel`` from
[`keras_angular.distribution.data_parallel`][], JAX backend) the model is built,
compiled and trained under it, on one process or on several: every process calls
``run_method`` with the same arguments, each feeds its share of every global batch
(Keras shards the ``tf.data`` input per process), and the weights after each step are
those of one process training on the same global batches. Every batch holds the full
global batch (the last, partial one of an epoch is dropped, as it could not be split
over the devices). At the end of each epoch every process evaluates a copy of the
model of its own, after giving its batch norms their precise statistics
([`keras_angular.local_evaluation.LocalValidation`][]), and process 0 writes ``backup/``
([`keras_angular.checkpointing.DistributedBackup`][]), which every process restores when
the same command runs again. After training each process evaluates a local copy of the
trained model (saved and reloaded, the [`keras_angular.saving`][] round trip) on the whole
test set; only process 0 writes ``out_dir``. ``run.json`` and ``metrics.json`` record the
distribution ([`keras_angular.distribution.describe`][]).
"""

import contextlib
import itertools
import json
import math
import os
import time
import typing
import warnings

import keras
import numpy as np
import tensorflow as tf

from keras_angular import backend, metrics, plots
from keras_angular import distribution as distribution_lib
from keras_angular.callbacks import (
    GeometryMetrics,
    PreciseBatchNorm,
    TemporalEnsemblingSchedule,
)
from keras_angular.callbacks.geometry import class_weights
from keras_angular.checkpointing import DistributedBackup
from keras_angular.data import test_dataset, train_dataset
from keras_angular.local_evaluation import LocalValidation, local_copy
from keras_angular.methods import build_method, targets
from keras_angular.models import (
    APPLICATIONS,
    build_backbone,
    default_backbone,
    feature_extractor_layers,
)
from keras_angular.optimizers import build_optimizer
from keras_angular.projector import write_projector
from keras_angular.run_config import (
    RUN_RECORD,
    RunConfig,
    RunSettingsError,
    check_distribution,
    check_resume,
    check_run,
    run_record,
    write_record,
)


def embed(model, dataset):
    """Predict ``(logits, embedding)`` as NumPy arrays over a ``tf.data`` dataset.

    Examples:
        >>> from keras_angular.data import load_dataset
        >>> from keras_angular.models import mlp
        >>> digits = load_dataset("digits")
        >>> setup = build_method("softmax", mlp((8, 8, 1), embedding_dim=16), 10, epochs=1)
        >>> logits, embedding = embed(setup.model, test_dataset(digits, 128))
        >>> logits.shape, embedding.shape
        ((360, 10), (360, 16))
    """
    outputs = model.predict(dataset, verbose=0)
    return np.asarray(outputs["logits"]), np.asarray(outputs["embedding"])


def geometry_metrics(embeddings, labels, kernel, predictions, seed=0):
    """[`keras_angular.metrics.feature_geometry`][] with the per-class mean target
    angles (W-Softmax Eq. 14) as the list ``class_mean_angles_deg`` and the retrieval and
    verification scores of the test set ([`keras_angular.metrics.RETRIEVAL_KEYS`][]):
    every angle in degrees, under a key ending ``_deg``.

    Examples:
        >>> features = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 0.0], [0.0, 3.0]])
        >>> labels = np.array([0, 1, 0, 1])   # each class along its own weight, w = I
        >>> m = geometry_metrics(features, labels, np.eye(2), predictions=labels)
        >>> m["w_inter_deg"], m["wc_intra_deg"], m["class_mean_angles_deg"], m["precision_at_1"]
        (90.0, 0.0, [0.0, 0.0], 1.0)
    """
    return metrics.feature_geometry(
        embeddings, labels, kernel, predictions, seed=seed, class_means=True, retrieval=True
    )


def geometry_figures(embeddings, labels, kernel, folder, class_names=None, seed=0):
    """Draw the geometry figures of one model into ``folder``; returns their paths.

    Examples:
        >>> import tempfile
        >>> features = np.random.default_rng(0).normal(size=(20, 2))   # 2-d: no t-SNE
        >>> paths = geometry_figures(features, np.arange(20) % 2, np.eye(2), tempfile.mkdtemp())
        >>> [os.path.basename(path) for path in paths]
        ['embedding.png', 'pair_angles.png', 'class_mean_angles.png', 'cosine_similarity.png']
    """
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


class RunResult(dict):
    """What [`run_method`][keras_angular.training.run_method] returns: a dict of the run's numbers,
    as written to ``metrics.json`` plus ``history`` (``result["test_accuracy"]`` reads as it always
    did), that also holds the trained model and where the run's files are.

    Attributes:
        model: the trained Keras model (None for a run read back from its folder).
        out_dir: the run's folder, or None when it wrote nothing.

    Examples:
        >>> result = RunResult({"test_accuracy": 0.9, "history": {"loss": [1.0]}}, out_dir="r")
        >>> result["test_accuracy"], result.metrics, result.history
        (0.9, {'test_accuracy': 0.9}, {'loss': [1.0]})
        >>> result.paths["metrics"]
        'r/metrics.json'
    """

    def __init__(self, values=(), *, model=None, out_dir=None):
        super().__init__(values)
        self.model = model
        self.out_dir = out_dir

    @property
    def metrics(self):
        """The numbers of ``metrics.json``: every key but ``history``."""
        return {k: v for k, v in self.items() if k != "history"}

    @property
    def history(self):
        """The Keras history: ``{key: [value per epoch]}``."""
        return self["history"]

    @property
    def paths(self):
        """``{"model", "history", "metrics", "record", "figures"}``: the run's files and
        figures folder under ``out_dir`` (empty without one)."""
        if self.out_dir is None:
            return {}
        names = {
            "model": "model.keras",
            "history": "history.json",
            "metrics": "metrics.json",
            "record": RUN_RECORD,
            "figures": "figures",
        }
        return {key: os.path.join(self.out_dir, name) for key, name in names.items()}


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
    config=None,
    *,
    out_dir=None,
    strategy=None,
    distribution=None,
    extra_callbacks=(),
    **settings,
):
    """Train ``method`` on ``splits`` with ``config`` and evaluate it on the test split.

    Args:
        method: a name in [`keras_angular.methods.METHODS`][].
        splits: a [`keras_angular.data.DatasetSplits`][].
        config: a [`keras_angular.run_config.RunConfig`][].
        out_dir: where to write the files listed in the module docstring;
            None writes nothing.
        strategy: a ``tf.distribute.Strategy`` to build and train under (TensorFlow).
        distribution: a ``keras.distribution.DataParallel`` to build and train under
            (JAX; one or several processes, see the module docstring and
            [`keras_angular.distribution.data_parallel`][]); not with ``strategy``.
        extra_callbacks: more Keras callbacks. With ``distribution`` their ``model``
            is the local copy of the trained model once training has ended.
        **settings: [`RunConfig`][keras_angular.run_config.RunConfig] fields: without
            ``config``, the run's config is ``RunConfig(**settings)``
            (``run_method("amc", splits, epochs=3)``); with it, they replace its fields.

    Returns:
        A [`RunResult`][keras_angular.training.RunResult]: a dict (``method``, ``seed``,
        ``backbone``, ``params``, ``test_accuracy``, the
        [`geometry_metrics`][keras_angular.training.geometry_metrics], ``train_seconds`` and
        ``history``, as before) that also holds the trained ``model`` and the run's ``out_dir``.

    Raises:
        RunSettingsError: (a ``ValueError``) before anything is built or written: a bad
            setting (``epochs < 1``, ``batch_size < 1``, ``learning_rate <= 0``, an unknown
            method, parameter or backbone...), or ``out_dir`` holds an interrupted run
            with other data or settings ([`keras_angular.run_config.check_resume`][]);
            with ``distribution``: ``strategy`` too, a global batch that does not split
            evenly over the devices or exceeds the training set, ``geometry_every``.
        RuntimeError: ``distribution`` on a backend other than JAX.
        TypeError: a keyword that is no ``RunConfig`` field, or neither ``config`` nor
            ``epochs``.

    Examples:
        >>> from keras_angular.data import load_dataset
        >>> digits = load_dataset("digits")
        >>> result = run_method("amc", digits, epochs=3, out_dir="runs/amc")  # doctest: +SKIP
        >>> try:   # the settings are checked before anything is built
        ...     run_method("amc", digits, epochs=0)
        ... except ValueError as error:
        ...     print(type(error).__name__, error)
        RunSettingsError RunConfig: `epochs` must be an int >= 1, got 0.
    """
    config = RunConfig(**settings) if config is None else config.replace(**settings)
    check_run(method, config)
    distributed = check_distribution(
        config, distribution, strategy=strategy, train_images=len(splits.x_train)
    )
    writes = out_dir is not None and distribution_lib.process_index() == 0
    if out_dir is not None:
        record = run_record(method, splits, config, distribution=distributed)
        check_resume(out_dir, record)
    seed, epochs, batch_size = config.seed, config.epochs, config.batch_size
    jit_compile, verbose = config.jit_compile, config.verbose
    keras.utils.set_random_seed(seed)
    backbone = config.backbone_for(splits.input_shape)
    if strategy is not None:
        scope = strategy.scope
    elif distribution is not None:
        scope = distribution.scope
    else:
        scope = contextlib.nullcontext
    batches = len(splits.x_train) / batch_size
    batches = math.floor(batches) if distributed else math.ceil(batches)
    if config.steps_per_epoch is not None:
        batches = min(batches, config.steps_per_epoch)
    with scope(), _dtype_policy(config.dtype_policy):
        net = build_backbone(
            backbone,
            splits.input_shape,
            weights=config.weights,
            **_backbone_arguments(backbone, splits, config),
        )
        setup = build_method(method, net, splits.num_classes, epochs, **(config.overrides or {}))
    if writes:  # after the backbone's weights were found
        write_record(out_dir, record)
    with scope():
        if config.recipe is None:
            learning_rate = learning_rate_schedule(
                config.lr_schedule, config.learning_rate, epochs * batches
            )
            optimizer = build_optimizer(config, learning_rate)
            make_optimizer = lambda: optimizer  # noqa: E731 - a second phase continues it
            new_optimizer = lambda: build_optimizer(config, learning_rate)  # noqa: E731
        else:
            schedule = TemporalEnsemblingSchedule(
                loss=setup.loss.get("embedding"), total_epochs=epochs, recipe=config.recipe
            )
            make_optimizer = new_optimizer = schedule.make_optimizer
            setup.callbacks = [schedule]
        setup.compile(make_optimizer(), loss=setup.pretrain_loss, jit_compile=jit_compile)

    epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
    train = train_dataset(
        splits,
        batch_size,
        augment=config.augment,
        seed=seed,
        epoch=epoch,
        drop_remainder=bool(distributed),  # every step's batch splits over the devices
    ).map(lambda x, y: (x, targets(y)))
    if config.steps_per_epoch is not None:
        train = train.take(config.steps_per_epoch)  # the first batches of each epoch's order
    test = test_dataset(splits, batch_size).map(lambda x, y: (x, targets(y)))
    callbacks = [_EpochCounter(epoch), *setup.callbacks, *extra_callbacks]
    precise_bn = PreciseBatchNorm(splits.x_train, seed=seed) if config.precise_bn else None
    if distributed:  # validation and precise BN on a copy that lives on this process
        callbacks.insert(1, LocalValidation(setup, test, precise_bn))
        test = None
    elif precise_bn is not None:
        callbacks.insert(1, precise_bn)
    if config.geometry_every:
        callbacks.append(
            GeometryMetrics(
                splits.x_test, splits.y_test, every=config.geometry_every, prefix="val_"
            )
        )
    backup = None if out_dir is None else os.path.join(out_dir, "backup")
    # under a keras.distribution only process 0 writes (and reads) backup/
    make_backup = DistributedBackup if distributed else keras.callbacks.BackupAndRestore
    two_phases = setup.pretrain_loss is not None
    phases = training_phases(
        epochs,
        pretrain_epochs=int(setup.params["pretrain_epochs"]) if two_phases else 0,
        frozen_epochs=config.freeze_backbone_epochs,
    )
    frozen_layers = feature_extractor_layers(net) if config.freeze_backbone_epochs else []

    def with_backup(phase):
        """The callbacks of one ``fit``, with its own ``BackupAndRestore`` folder: ``backup/``
        for a one-phase run, ``backup/<phase name>`` for each phase of a run of several (one
        folder for all would let the first ``fit`` restore, then delete, the next's)."""
        if backup is None:
            return callbacks
        folder = os.path.join(backup, phase.name) if len(phases) > 1 else backup
        return [*callbacks, make_backup(folder)]

    def fresh_optimizer():
        """An optimizer for a new set of trainable weights (a Keras optimizer keeps the
        weights it was built for), on the learning-rate schedule's step where the last
        one stopped."""
        previous = setup.model.optimizer
        if not previous.built:
            return previous
        optimizer = new_optimizer()
        optimizer.iterations.assign(previous.iterations)
        return optimizer

    # keras.distribution: the step and its input pipeline run under the distribution too
    fitting = contextlib.nullcontext if distribution is None else lambda: _fitting(distribution)
    started = time.perf_counter()
    history = {}
    compiled = (two_phases, False)  # (pretraining, frozen): what the model is compiled for
    resumed = int(distribution_lib.from_process_zero(np.int64(_resumed_phase(phases, backup))))
    for phase in phases[resumed:]:
        if (phase.pretraining, phase.frozen) != compiled:
            with scope():
                for layer in frozen_layers:
                    layer.trainable = not phase.frozen
                optimizer = fresh_optimizer() if phase.frozen != compiled[1] else make_optimizer()
                loss = setup.pretrain_loss if phase.pretraining else None
                setup.compile(optimizer, loss=loss, jit_compile=jit_compile)
            compiled = (phase.pretraining, phase.frozen)
        with fitting():
            fitted = _fit(setup, train, test, phase.end, phase.start, with_backup(phase), verbose)
        for key, values in fitted.history.items():
            history.setdefault(key, []).extend(values)
        # BackupAndRestore leaves the epoch it restored in the model, and Keras' next fit
        # would start there instead of at its initial_epoch
        backend.forget_restored_epoch(setup.model)
    train_seconds = time.perf_counter() - started
    if backup is not None and os.path.isdir(backup) and not os.listdir(backup):
        os.rmdir(backup)  # every phase finished and deleted its folder
    if distributed:
        setup = local_copy(setup)
        for callback in extra_callbacks:
            callback.set_model(setup.model)
        if precise_bn is not None:  # what the callback does at the end of a plain fit
            precise_bn.set_model(setup.model)
            precise_bn.recompute()

    logits, embeddings = embed(setup.model, test_dataset(splits, batch_size))
    predictions = np.argmax(logits, axis=-1)
    if getattr(setup.head, "subcenters", 1) > 1:  # keep the sub-centres most training samples pick
        images = tf.data.Dataset.from_tensor_slices(splits.x_train).batch(batch_size)
        setup.head.set_dominant_subcenters(embed(setup.model, images)[1], splits.y_train)
    kernel = class_weights(setup.head)  # (D, C): a sub-centre head's dominant sub-centres
    written = out_dir if writes else None
    result = RunResult(
        {
            "method": method,
            "seed": seed,
            "backbone": backbone,
            "keras_backend": keras.backend.backend(),
            "params": setup.params,
            "test_accuracy": float(np.mean(predictions == splits.y_test)),
            **geometry_metrics(embeddings, splits.y_test, kernel, predictions, seed=seed),
            "train_seconds": train_seconds,
            "history": {k: [float(v) for v in vals] for k, vals in history.items()},
        },
        model=setup.model,
        out_dir=written,
    )
    if distributed:
        result["distribution"] = distributed
    if writes:
        _write_outputs(setup.model, result, out_dir)
        if config.figures:
            result["figures"] = geometry_figures(
                embeddings,
                splits.y_test,
                kernel,
                os.path.join(out_dir, "figures"),
                class_names=splits.class_names,
                seed=seed,
            )
        if config.projector:
            result["projector"] = write_projector(
                os.path.join(out_dir, "projector"),
                embeddings,
                splits.y_test,
                images=splits.x_test,
                class_names=splits.class_names,
                seed=seed,
            )
    return result


def _backbone_arguments(backbone, splits, config):
    """``config.backbone_kwargs``, and for a ``keras.applications`` backbone the statistics
    that map the data's channel z-scores back to pixels (its own preprocessing expects
    pixels); per-image z-scores cannot be mapped back, which ImageNet weights need."""
    kwargs = dict(config.backbone_kwargs or {})
    if backbone not in APPLICATIONS:
        return kwargs
    if splits.standardize == "channel":
        kwargs.setdefault("input_mean", splits.mean)
        kwargs.setdefault("input_std", splits.std)
    elif splits.standardize == "image" and config.weights is not None:
        raise RunSettingsError(
            f"run_method: {backbone} with pretrained weights needs the images' pixels, and "
            "per-image standardised images cannot be mapped back to them: load the data with "
            "standardize='channel' or None.",
            field="weights",
        )
    return kwargs


class Phase(typing.NamedTuple):
    """One ``fit`` of a run ([`training_phases`][keras_angular.training.training_phases]):
    epochs ``start`` to ``end`` (0-based, ``end`` excluded) under one loss and one set of
    trainable weights; ``name`` is its ``backup/`` folder in a run of several.

    Examples:
        >>> Phase("train-frozen", 0, 2, pretraining=False, frozen=True).frozen
        True
    """

    name: str
    start: int
    end: int
    pretraining: bool
    frozen: bool


def training_phases(epochs, pretrain_epochs=0, frozen_epochs=0):
    """The phases of a run of ``epochs``: a new phase starts where a two-phase method's
    pretraining ends (``pretrain_epochs``) and where the frozen backbone is released
    (``frozen_epochs``, [`RunConfig.freeze_backbone_epochs`][keras_angular.run_config.RunConfig]).
    Each phase is one ``fit``, compiled for its loss and its trainable weights.

    Examples:
        >>> [(p.name, p.start, p.end) for p in training_phases(10, pretrain_epochs=4)]
        [('pretrain', 0, 4), ('refine', 4, 10)]
        >>> [(p.name, p.start, p.end) for p in training_phases(10, 0, frozen_epochs=2)]
        [('train-frozen', 0, 2), ('train', 2, 10)]
    """
    main = "refine" if pretrain_epochs else "train"
    bounds = sorted({0, min(pretrain_epochs, epochs), min(frozen_epochs, epochs), epochs})
    phases = []
    for start, end in itertools.pairwise(bounds):
        pretraining, frozen = end <= pretrain_epochs, end <= frozen_epochs
        name = ("pretrain" if pretraining else main) + ("-frozen" if frozen else "")
        phases.append(Phase(name, start, end, pretraining, frozen))
    if pretrain_epochs >= epochs:  # the refinement is a phase of no epochs, as it was
        phases.append(Phase(main, epochs, epochs, False, frozen_epochs > epochs))
    return phases


def _resumed_phase(phases, backup):
    """The index of the phase an interrupted run resumes: the last one that left a
    ``backup/`` folder (each phase's folder is deleted when it ends); 0 for a new run."""
    if backup is None or len(phases) == 1:
        return 0
    started = [
        i for i, phase in enumerate(phases) if os.path.isdir(os.path.join(backup, phase.name))
    ]
    return started[-1] if started else 0


@contextlib.contextmanager
def _dtype_policy(name):
    """Build under the ``keras.mixed_precision`` policy ``name``; the global policy is
    restored after."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


@contextlib.contextmanager
def _fitting(distribution):
    """``distribution.scope()`` for ``fit``. With several processes Keras re-batches and
    shards the input per process, which leaves its length unknown: the first epoch ends
    where the data does, with a warning ("Your input ran out of data") that is no fault."""
    with distribution.scope(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Your input ran out of data")
        yield


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
    if backend.exports_saved_model():
        model.export(os.path.join(out_dir, "saved_model"), verbose=False)
    with open(os.path.join(out_dir, "history.json"), "w") as f:
        json.dump(result["history"], f, indent=1)
    with open(os.path.join(out_dir, "metrics.json"), "w") as f:
        json.dump({k: v for k, v in result.items() if k != "history"}, f, indent=1)


def learning_rate_schedule(kind, learning_rate, total_steps):
    """Adam's learning rate for [`run_method`][keras_angular.training.run_method]: ``kind`` is one
    of [`keras_angular.run_config.LR_SCHEDULES`][].

    Examples:
        >>> cosine = learning_rate_schedule("cosine", 2e-3, total_steps=100)
        >>> [round(float(cosine(step)), 6) for step in (0, 50, 100)]   # lr * (1 + cos) / 2
        [0.002, 0.001, 0.0]
        >>> learning_rate_schedule("constant", 2e-3, total_steps=100)
        0.002
    """
    if kind == "constant":
        return learning_rate
    return keras.optimizers.schedules.CosineDecay(learning_rate, max(int(total_steps), 1))


__all__ = [
    "Phase",
    "RunConfig",
    "RunResult",
    "RunSettingsError",
    "default_backbone",
    "embed",
    "geometry_figures",
    "geometry_metrics",
    "learning_rate_schedule",
    "run_method",
    "training_phases",
]
