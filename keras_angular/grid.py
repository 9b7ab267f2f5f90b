"""Train runs x seeds into one folder each: the grid that ``compare`` and ``reproduce`` run.

``run_grid`` trains every ``GridRun`` once per seed with
[`keras_angular.training.run_method`][], into ``out_dir/<run folder>/seed_<k>/``. Before
the first run trains it refuses, with [`keras_angular.run_config.RunSettingsError`][],
any run whose method or overrides are bad and any folder that holds an interrupted run of
other data or settings ([`keras_angular.run_config.check_resume`][]). With
``read_back=True`` a folder that already holds the same run, finished
(``finished_result``), is read instead of trained again.
"""

import dataclasses
import json
import os
import time
from collections.abc import Callable

from keras_angular.run_config import (
    RUN_RECORD,
    RunConfig,
    check_distribution,
    check_resume,
    check_run,
    read_record,
    record_differences,
    run_record,
)
from keras_angular.training import RunResult, run_method

FINISHED_FILES = ("metrics.json", "history.json", "model.keras", RUN_RECORD)
"""The files of a finished run's folder (with no ``backup/``)."""


@dataclasses.dataclass(frozen=True)
class GridRun:
    """One row of a grid, trained once per seed.

    Attributes:
        label: the row's name in the results (``"softmax"``, ``"CE+AMC"``).
        method: a name in [`keras_angular.methods.METHODS`][].
        config: its [`RunConfig`][keras_angular.run_config.RunConfig]; the grid replaces ``seed``.
        folder: its folder under ``out_dir`` (one ``seed_<k>`` folder per seed in it).
        callbacks: optional ``() -> list``: fresh Keras callbacks for each trained seed.

    Examples:
        >>> run = GridRun("CE+AMC", "amc", RunConfig(epochs=2), "CE_AMC")
        >>> run.label, run.method, run.config.epochs, run.folder
        ('CE+AMC', 'amc', 2, 'CE_AMC')
    """

    label: str
    method: str
    config: RunConfig
    folder: str
    callbacks: Callable | None = None


def finished_result(run_dir, record):
    """The [`RunResult`][keras_angular.training.RunResult] of the finished run in ``run_dir``
    when it is this run: the ``FINISHED_FILES``, no ``backup/``, and a ``run.json``
    with no [`record_differences`][keras_angular.run_config.record_differences] from ``record``;
    None otherwise. Its ``model`` is None (read from ``model.keras`` when needed).

    Examples:
        >>> import tempfile
        >>> finished_result(tempfile.mkdtemp(), {"method": "softmax"}) is None
        True
    """
    if os.path.isdir(os.path.join(run_dir, "backup")) or not all(
        os.path.isfile(os.path.join(run_dir, name)) for name in FINISHED_FILES
    ):
        return None
    old = read_record(run_dir)
    if old is None or any(record_differences(old, record)):
        return None
    try:
        with open(os.path.join(run_dir, "metrics.json")) as f:
            result = json.load(f)
        with open(os.path.join(run_dir, "history.json")) as f:
            result["history"] = json.load(f)
    except (OSError, ValueError):
        return None
    return RunResult(result, out_dir=run_dir)


def run_grid(
    runs,
    splits,
    seeds,
    *,
    out_dir,
    read_back=False,
    progress=None,
    on_result=None,
    log=print,
    **run_options,
):
    """Train each of ``runs`` (``GridRun``) with seeds ``0 .. seeds - 1`` on ``splits``.

    Args:
        runs: the ``GridRun`` rows, trained in this order, seed by seed.
        splits: a [`keras_angular.data.DatasetSplits`][].
        seeds: the number of seeds per run.
        out_dir: each run and seed writes to ``out_dir/<run.folder>/seed_<k>``.
        read_back: read a folder that holds this run, finished, instead of training it
            (``finished_result``); False trains every run, overwriting a finished one.
        progress: ``(run, seed, count, total) -> str``: the line logged before each run;
            None logs ``[count/total] label, seed k``.
        on_result: optional ``(run, seed, result, seconds)``, called after each run with its
            [`RunResult`][keras_angular.training.RunResult] and its training seconds (None when
            it was read back); may add keys to the result.
        log: where progress lines go.
        **run_options: passed to [`run_method`][keras_angular.training.run_method]
            (``strategy``, ``distribution``, ``extra_callbacks``).

    Returns:
        ``{label: [RunResult per seed]}``; each result's ``out_dir`` is its folder.

    Raises:
        RunSettingsError: (a ``ValueError``) before the first run trains: a run's method
            or overrides are bad, or a folder holds an interrupted run of other data or
            settings.

    Examples:
        >>> import tempfile
        >>> from keras_angular.data import load_dataset
        >>> bad = GridRun("arc", "arcface", RunConfig(epochs=1, overrides={"m": 0.3}), "arc")
        >>> try:   # checked before anything trains
        ...     run_grid([bad], load_dataset("digits"), 2, out_dir=tempfile.mkdtemp())
        ... except ValueError as error:
        ...     print(error)
        run_method: Method 'arcface' has no parameter m; its parameters are: margin, scale.
    """
    distribution = run_options.get("distribution")
    cells = []
    for run in runs:
        check_run(run.method, run.config)
        for seed in range(seeds):
            config = run.config.replace(seed=seed)
            folder = os.path.join(out_dir, run.folder, f"seed_{seed}")
            described = check_distribution(
                config, distribution, strategy=run_options.get("strategy")
            )
            record = run_record(run.method, splits, config, described)
            check_resume(folder, record)  # refuse before training anything
            cells.append((run, seed, config, folder, record))
    results = {run.label: [] for run in runs}
    for count, (run, seed, config, folder, record) in enumerate(cells, start=1):
        line = progress or (lambda run, seed, i, n: f"[{i}/{n}] {run.label}, seed {seed}")
        log(line(run, seed, count, len(cells)))
        result = finished_result(folder, record) if read_back else None
        seconds = None
        if result is None:
            options = dict(run_options)
            if run.callbacks is not None:
                options["extra_callbacks"] = (
                    *run.callbacks(),
                    *options.get("extra_callbacks", ()),
                )
            started = time.perf_counter()
            result = run_method(run.method, splits, config, out_dir=folder, **options)
            seconds = time.perf_counter() - started
        if on_result is not None:
            on_result(run, seed, result, seconds)
        results[run.label].append(result)
    return results


__all__ = ["FINISHED_FILES", "GridRun", "finished_result", "run_grid"]
