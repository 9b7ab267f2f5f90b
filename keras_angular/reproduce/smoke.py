"""A smoke run of an experiment: ``keras-angular reproduce EXPERIMENT --scale full --max-steps N``.

[`run_smoke`][keras_angular.reproduce.smoke.run_smoke] builds every run of a scale as the scale
would train it - the dataset's loader, the network, the method's head and losses, the optimizer
and its learning-rate schedule, the recipe's ramps, the scale's callbacks, the evaluation and the
saved model - and trains each for at most N steps per epoch on CPU-sized batches, so that a run
which would fail after hours on a GPU fails here in seconds. What the smoke changes in a run's
[`RunConfig`][keras_angular.run_config.RunConfig] (``smoke_settings``):

* ``steps_per_epoch = N`` and the fewest epochs that still pass through every phase of the run:
  1; 2 for a two-phase method (``pretrain_epochs`` becomes 1: one epoch of pretraining, one of
  refining), a frozen backbone (``freeze_backbone_epochs`` becomes 1), the method's own
  loss-weight ramp or a scale's per-epoch callbacks (e.g. a one-cycle learning rate); 3 under an
  AMC ``recipe`` (its ramp-up, plateau and ramp-down each get an epoch);
* a batch of at most ``SMOKE_BATCH_SIZE``; one seed; no figures; ``geometry_every`` 1 where set;
* the data: the whole dataset is loaded as the scale loads it, then a seeded, class-stratified
  subset trains and evaluates (``smoke_splits``: twice the images of an epoch's N batches, and
  for the test two batches or two images per class).

Runs that differ from an earlier run of the same dataset only in the values of float
hyper-parameters (a sweep's scale and margin) build the same graph: their heads and losses are
built with their values ([`check_plan`][keras_angular.reproduce.scales.check_plan]), and the
first of them is stepped for all (its row counts the others).

Each run writes its files (``model.keras``, the export...) into a temporary folder, deleted
after it: the smoke leaves only ``OUT/smoke.md``, a table of what it built and stepped, which
is no result (it has no accuracy, no claim, no report).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import tempfile
import time
import traceback

import keras

from keras_angular.data import TFDS_DATASETS, DatasetUnavailableError, subsample
from keras_angular.grid import run_grid
from keras_angular.methods import get_method, method_params
from keras_angular.reproduce.scales import (
    check_plan,
    grid_run,
    load_data,
    resolve_scale,
    run_settings,
)
from keras_angular.run_config import RunConfig, json_values

SMOKE_BATCH_SIZE = 32
"""The largest batch a smoke step takes (a scale's smaller batch is kept)."""

SMOKE_FILE = "smoke.md"
"""The table a smoke run writes into its ``out_dir``."""


def smoke_epochs(scale, run):
    """The fewest epochs that pass through every phase of ``run`` of ``scale`` (see the module
    docstring): 1, 2 or 3.

    Examples:
        >>> from keras_angular.reproduce import get_experiment
        >>> scale = get_experiment("wsoftmax-alpha").scales["small"]
        >>> [smoke_epochs(scale, run) for run in scale.runs[:2]]   # softmax; pretrain + refine
        [1, 2]
        >>> scale = get_experiment("haseparator-sweep").scales["full"]
        >>> smoke_epochs(scale, scale.runs[0])   # before and after the step decay's boundary
        2
    """
    settings = run_settings(scale, run)
    method = get_method(run.method)
    params = method_params(method, dict(settings.get("overrides") or {}))
    epochs = 1
    if method.pretrain_loss is not None and params.get("pretrain_epochs", 0) > 0:
        epochs = 2
    if settings.get("freeze_backbone_epochs") or method.ramp_embedding_loss:
        epochs = 2
    if scale.callbacks is not None:
        epochs = 2
    if settings.get("recipe") is not None:
        epochs = 3
    return epochs


def smoke_settings(scale, run, steps):
    """The [`RunConfig`][keras_angular.run_config.RunConfig] fields of ``run``'s smoke: its
    ``run_settings`` with what the smoke changes (the module docstring's list).

    Examples:
        >>> from keras_angular.reproduce import get_experiment
        >>> scale = get_experiment("arc-angles").scales["full"]
        >>> settings = smoke_settings(scale, scale.runs[1], steps=1)
        >>> settings["backbone"], settings["learning_rate"], settings["batch_size"]
        ('resnet20', 0.1, 32)
        >>> settings["epochs"], settings["steps_per_epoch"], settings["figures"]
        (2, 1, False)
    """
    settings = run_settings(scale, run)
    config = RunConfig(**settings)  # the defaults where the scale sets none
    overrides = dict(settings.get("overrides") or {})
    if overrides.get("pretrain_epochs"):
        overrides["pretrain_epochs"] = 1
    smoke = {
        **settings,
        "epochs": smoke_epochs(scale, run),
        "steps_per_epoch": steps,
        "batch_size": min(config.batch_size, SMOKE_BATCH_SIZE),
        "figures": False,
        "verbose": 0,
    }
    if overrides:
        smoke["overrides"] = overrides
    if settings.get("freeze_backbone_epochs"):
        smoke["freeze_backbone_epochs"] = 1
    if settings.get("geometry_every"):
        smoke["geometry_every"] = 1
    if settings.get("projector"):
        smoke["projector"] = False
    return smoke


def smoke_scale(scale, steps):
    """``scale`` with one seed and each run's ``smoke_settings`` (the run's own settings, so that
    ``run_settings`` of the new scale gives them back)."""
    runs = []
    for run in scale.runs:
        settings = smoke_settings(scale, run, steps)
        own = {k: v for k, v in settings.items() if k != "overrides"}
        runs.append(
            dataclasses.replace(run, overrides=settings.get("overrides") or {}, settings=own)
        )
    return dataclasses.replace(scale, runs=tuple(runs), seeds=1)


def _graph_key(scale, run):
    settings = run_settings(scale, run)
    overrides = {
        k: "value" if isinstance(v, float) else v
        for k, v in (settings.pop("overrides", None) or {}).items()
    }
    return json.dumps(json_values([run.method, settings, overrides]), sort_keys=True)


def graph_groups(scale):
    """The runs of ``scale`` in groups that build the same graph: each group's runs differ only
    in the values of float hyper-parameters (``overrides``); the first of a group is stepped.

    Examples:
        >>> from keras_angular.reproduce import get_experiment
        >>> scale = get_experiment("haseparator-sweep").scales["full"]
        >>> [(group[0].label, len(group)) for group in graph_groups(scale)][:3]
        [('Softmax', 1), ('ArcFace s=1 m=0.1', 100), ('HASeparator s=1 m=0.1', 100)]
    """
    groups = {}
    for run in scale.runs:
        groups.setdefault(_graph_key(scale, run), []).append(run)
    return list(groups.values())


def check_offline(scale, data_dir=None):
    """Refuse, before anything is loaded, a tensorflow-datasets dataset of ``scale`` that is not
    prepared in ``data_dir`` (None: ``$TFDS_DATA_DIR`` or ``~/tensorflow_datasets``): a
    [`DatasetUnavailableError`][keras_angular.data.DatasetUnavailableError] in one sentence that
    names what the run would download. The smoke never downloads."""
    names = [data.source for data in scale.data if data.source in TFDS_DATASETS]
    if not names:
        return
    import tensorflow_datasets as tfds

    missing = [n for n in names if not tfds.builder(n, data_dir=data_dir).is_prepared()]
    if missing:
        where = data_dir or "~/tensorflow_datasets"
        listed = ", ".join(repr(n) for n in missing)
        raise DatasetUnavailableError(
            f"this scale trains on {listed} from tensorflow-datasets, not prepared in {where}, "
            "which the run would download: pass --dataset PATH (an .npz or a folder of class "
            "sub-folders) to smoke-test it on local data."
        )


def smoke_splits(splits, steps, batch_size):
    """The images a smoke trains and evaluates on: a seeded, class-stratified subset of
    ``splits`` with ``2 * steps * batch_size`` training images and ``max(2 * batch_size, 2 *
    classes)`` test images (fewer where the split has fewer)."""
    train = 2 * steps * batch_size
    test = max(2 * batch_size, 2 * splits.num_classes)
    return subsample(splits, train, test)


@dataclasses.dataclass
class SmokeRow:
    """One stepped run of a smoke.

    Attributes:
        label, method: the run; ``alike``: the labels of the runs it stands for (same graph).
        network: the backbone; params: the whole model's parameter count.
        data: the dataset's name, image shape and classes.
        batch_size, epochs: the smoke's; steps: the train steps of each epoch.
        seconds: building, stepping, evaluating and saving, together.
        loss_finite: every loss of the history (train and test) is finite.
        error: ``"Type: message"`` when the run raised, else None.
    """

    label: str
    method: str
    network: str
    params: int | None
    data: str
    batch_size: int
    epochs: int
    steps: list
    seconds: float
    loss_finite: bool
    alike: list
    error: str | None = None

    @property
    def ok(self):
        """The run stepped every epoch and its losses are finite."""
        return self.error is None and self.loss_finite and all(self.steps)


class _StepCounter(keras.callbacks.Callback):
    """Counts the train steps of each epoch (over both phases of a two-phase run)."""

    def __init__(self):
        super().__init__()
        self.steps, self._epoch = {}, 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self.steps.setdefault(epoch, 0)

    def on_train_batch_end(self, batch, logs=None):
        self.steps[self._epoch] = self.steps.get(self._epoch, 0) + 1


def _finite_losses(history):
    values = [v for key, vals in history.items() if key.endswith("loss") for v in vals]
    return bool(values) and all(math.isfinite(v) for v in values)


def _smoke_run(group, scale, splits, data_name, log):
    run = group[0]
    settings = run_settings(scale, run)
    counter = _StepCounter()
    row = SmokeRow(
        run.label,
        run.method,
        RunConfig(**settings).backbone_for(splits.input_shape),
        None,
        data_name,
        settings["batch_size"],
        settings["epochs"],
        [],
        0.0,
        False,
        [r.label for r in group[1:]],
    )
    started = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="keras_angular_smoke_") as folder:
            results = run_grid(
                [grid_run(scale, run, settings)],
                splits,
                1,
                out_dir=folder,
                log=lambda line: None,
                extra_callbacks=(counter,),
            )
            (result,) = results[run.label]
            row.params = int(result.model.count_params())
            row.loss_finite = _finite_losses(result["history"])
    except Exception as error:  # the smoke's finding: reported, and the next run goes on
        log(traceback.format_exc())
        row.error = f"{type(error).__name__}: {(str(error).splitlines() or [''])[0]}"
    row.seconds = time.perf_counter() - started
    row.steps = [counter.steps.get(epoch, 0) for epoch in range(row.epochs)]
    keras.backend.clear_session()  # the next run builds its model from a clean graph
    return row


def run_smoke(experiment, scale_name="full", dataset=None, runs=None, *, steps, out_dir, log=print):
    """Build every run of ``experiment`` (an [`Experiment`][keras_angular.reproduce.Experiment])
    at ``scale_name`` and train it ``steps`` steps per epoch (the module docstring says what
    else the smoke changes); write the table ``out_dir/smoke.md`` and return its rows.

    Args:
        experiment, scale_name, dataset, runs: as
            [`run_experiment`][keras_angular.reproduce.run_experiment] (``dataset`` replaces every
            dataset of the scale: an ``.npz``, a folder or a tensorflow-datasets name).
        steps: train steps per epoch, an int >= 1.
        out_dir: where ``smoke.md`` goes; nothing else is written there.
        log: where progress lines (and the traceback of a run that failed) go.

    Returns:
        The [`SmokeRow`][keras_angular.reproduce.smoke.SmokeRow] of each stepped run, in order.

    Raises:
        ValueError: a bad ``steps``, scale, dataset or run settings (before anything loads).
        DatasetUnavailableError: a tensorflow-datasets dataset of the scale is not on this
            machine (``check_offline``): the smoke never downloads.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"`steps` must be an int >= 1, got {steps!r}.")
    scale = smoke_scale(resolve_scale(experiment, scale_name, dataset, None, runs), steps)
    check_plan(scale)
    data_dir = os.environ.get("TFDS_DATA_DIR") or None
    check_offline(scale, data_dir)
    groups = graph_groups(scale)
    batch = max(run_settings(scale, run)["batch_size"] for run in scale.runs)
    rows = []
    for data in scale.data:
        if data.source in TFDS_DATASETS:  # checked above: never a download
            kwargs = {**dict(data.load_kwargs), "data_dir": data_dir, "download": False}
            data = dataclasses.replace(data, load_kwargs=kwargs)
        full = load_data(data)
        splits = smoke_splits(full, steps, batch)
        shape = "x".join(str(n) for n in full.input_shape)
        name = f"{full.name} ({len(full.x_train)} train, {shape}, {full.num_classes} classes)"
        for count, group in enumerate(groups, start=1):
            run = group[0].label
            log(f"[{count}/{len(groups)}] smoke of {experiment.name} on {full.name}: {run}")
            rows.append(_smoke_run(group, scale, splits, name, log))
    write_smoke_table(rows, experiment, scale_name, steps, out_dir)
    return rows


def smoke_table(rows):
    """The Markdown table of ``rows`` (one line per stepped run)."""
    lines = [
        "| run | method | network | params | data | batch | epochs | steps | seconds | "
        "loss finite |",
        "|---|---|---|---:|---|---:|---:|---|---:|---|",
    ]
    for row in rows:
        label = row.label + (f" (+{len(row.alike)} alike)" if row.alike else "")
        params = "n/a" if row.params is None else f"{row.params:,}"
        finite = f"failed: {row.error}" if row.error else ("yes" if row.loss_finite else "no")
        lines.append(
            f"| {label} | {row.method} | {row.network} | {params} | {row.data} | "
            f"{row.batch_size} | {row.epochs} | {'+'.join(map(str, row.steps))} | "
            f"{row.seconds:.1f} | {finite} |"
        )
    return "\n".join(lines)


def write_smoke_table(rows, experiment, scale_name, steps, out_dir):
    """Write ``out_dir/smoke.md``: what the smoke ran, said to be no result, and its table."""
    text = "\n".join(
        [
            f"# Smoke run of {experiment.name} (--scale {scale_name}): not a result",
            "",
            f"Every run built as the scale trains it, then at most {steps} step(s) per epoch on "
            f"batches of at most {SMOKE_BATCH_SIZE} images of a small subset, one seed: a check "
            "that each run starts, steps, evaluates and saves. `(+K alike)`: K more runs that "
            "differ only in float hyper-parameter values (built, stepped as this one).",
            "",
            smoke_table(rows),
            "",
        ]
    )
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, SMOKE_FILE), "w") as f:
        f.write(text)
    return text


__all__ = [
    "SMOKE_BATCH_SIZE",
    "SMOKE_FILE",
    "SmokeRow",
    "check_offline",
    "graph_groups",
    "run_smoke",
    "smoke_epochs",
    "smoke_scale",
    "smoke_settings",
    "smoke_splits",
    "smoke_table",
    "write_smoke_table",
]
