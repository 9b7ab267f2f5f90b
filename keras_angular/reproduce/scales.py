"""Which runs a reproduce command trains: the scale, its datasets and each run's settings.

``resolve_scale`` applies ``--dataset`` / ``--seeds`` / ``--runs`` to an experiment's
scale; ``run_settings`` gives one run's [`RunConfig`][keras_angular.run_config.RunConfig]
fields and ``grid_run`` the ``keras_angular.grid.GridRun`` that trains it; ``check_plan``
refuses bad ones before anything trains.
"""

import dataclasses
import functools
import os
import re

from keras_angular.data import load_dataset, subsample
from keras_angular.grid import GridRun
from keras_angular.reproduce.base import Data
from keras_angular.run_config import RunConfig, check_run

_SUFFIXES = ("test", "train", "cropped", "coarse")


def _normalized(name):
    key = re.sub(r"[^a-z0-9]", "", os.path.splitext(os.path.basename(str(name)))[0].lower())
    changed = True
    while changed:
        changed = False
        for suffix in _SUFFIXES:
            if key.endswith(suffix) and len(key) > len(suffix):
                key, changed = key[: -len(suffix)], True
    return key


def match_setting(dataset, settings):
    """The paper setting (e.g. ``"CIFAR10"``) among ``settings`` that names ``dataset``
    (a name or path), or None: letters and digits compared without case, after dropping a
    trailing ``test`` / ``train`` / ``cropped`` / ``coarse`` (so ``cifar10_test.npz`` is
    CIFAR10 and ``fashion_mnist.npz`` is not MNIST).

    Examples:
        >>> match_setting("data/cifar10_test.npz", ["MNIST", "CIFAR10"])
        'CIFAR10'
    """
    key = _normalized(dataset)
    for setting in settings:
        if _normalized(setting) == key:
            return setting
    return None


def resolve_scale(experiment, scale_name, dataset=None, seeds=None, runs=None):
    """The [`Scale`][keras_angular.reproduce.base.Scale] to run: the experiment's, with
    ``dataset`` (any [`load_dataset`][keras_angular.data.load_dataset] source) in place of its
    datasets - keeping the first one's subset sizes and matching the paper's setting by
    name (``match_setting``) -, ``seeds`` in place of its seed count, and only the
    runs labelled in ``runs`` (a list; None keeps all)."""
    if scale_name not in experiment.scales:
        raise ValueError(
            f"{experiment.name}: unknown scale {scale_name!r}; use one of "
            f"{', '.join(experiment.scales)}."
        )
    scale = experiment.scales[scale_name]
    if dataset is not None:
        settings = sorted({v.setting for v in experiment.paper_values} - {None})
        first = scale.data[0]
        data = Data(
            os.fspath(dataset),
            match_setting(dataset, settings),
            first.train_size,
            first.test_size,
        )
        scale = dataclasses.replace(scale, data=(data,))
    if seeds is not None:
        if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
            raise ValueError(f"`seeds` must be an int >= 1, got {seeds!r}.")
        scale = dataclasses.replace(scale, seeds=seeds)
    if runs is not None:
        labels = [run.label for run in scale.runs]
        unknown = [label for label in runs if label not in labels]
        if unknown or not runs:
            raise ValueError(
                f"{experiment.name}: `runs` must name some of {', '.join(labels)}; "
                f"got {', '.join(runs) or 'none'}."
            )
        scale = dataclasses.replace(scale, runs=tuple(r for r in scale.runs if r.label in runs))
    return scale


def load_data(data):
    """[`load_dataset`][keras_angular.data.load_dataset] of a
    [`Data`][keras_angular.reproduce.Data], then [`subsample`][keras_angular.data.subsample]."""
    splits = load_dataset(data.source, **dict(data.load_kwargs))
    return subsample(splits, data.train_size, data.test_size)


def slug(label):
    """A folder name for a run label: ``"CE+AMC"`` -> ``"CE_AMC"``."""
    return re.sub(r"[^A-Za-z0-9.-]+", "_", label).strip("_") or "run"


def run_settings(scale, run):
    """The [`RunConfig`][keras_angular.run_config.RunConfig] fields of one run: the scale's
    settings, the run's own over them, its method overrides merged in; ``verbose=0`` and
    ``figures=False`` unless set."""
    settings = {"verbose": 0, "figures": False, **dict(scale.settings), **dict(run.settings)}
    if run.overrides:
        settings["overrides"] = {**dict(settings.get("overrides") or {}), **dict(run.overrides)}
    return settings


def grid_run(scale, run, settings=None):
    """The ``keras_angular.grid.GridRun`` that trains ``run`` of ``scale``: a
    [`RunConfig`][keras_angular.run_config.RunConfig] of ``settings`` (None: its
    ``run_settings``) and the scale's ``callbacks`` for those settings."""
    settings = run_settings(scale, run) if settings is None else settings
    callbacks = None
    if scale.callbacks is not None:
        callbacks = functools.partial(scale.callbacks, run, settings)
    return GridRun(run.label, run.method, RunConfig(**settings), slug(run.label), callbacks)


def check_plan(scale):
    """Refuse bad run settings before anything trains: every run's settings must make a
    [`keras_angular.run_config.RunConfig`][] that its method accepts
    ([`keras_angular.run_config.check_run`][])."""
    for run in scale.runs:
        check_run(run.method, RunConfig(**run_settings(scale, run)))


__all__ = [
    "check_plan",
    "grid_run",
    "load_data",
    "match_setting",
    "resolve_scale",
    "run_settings",
    "slug",
]
