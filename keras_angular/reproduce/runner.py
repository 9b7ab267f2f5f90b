"""Run an experiment's declared runs, aggregate them over seeds, judge its claims, report.

[`run_experiment`][keras_angular.reproduce.run_experiment] trains every
[`Run`][keras_angular.reproduce.base.Run] of a scale once per seed with
``keras_angular.grid.run_grid``, into ``out_dir/<dataset>/<run label>/seed_<k>/`` (a run finished
there before with the same data and settings is read back); the statistics are
[`keras_angular.report.summarize`][] (mean ± SD over seeds, two-sided Welch p-value against the
baseline run); ``verdict`` judges each claim;
``write_report`` writes ``report.md`` and
``report.json`` with the paper's figures beside ours.

The pieces live in ``scales`` (which runs),
``verdicts``, ``estimate`` and
``markdown``; their public names are importable from here too.
"""

from __future__ import annotations

import dataclasses
import os
import time

import numpy as np

from keras_angular.grid import finished_result, run_grid
from keras_angular.report import summarize
from keras_angular.reproduce.base import Data, Scale
from keras_angular.reproduce.estimate import duration, estimate_seconds
from keras_angular.reproduce.markdown import markdown_section, write_report
from keras_angular.reproduce.scales import (
    check_plan,
    grid_run,
    load_data,
    match_setting,
    resolve_scale,
    run_settings,
    slug,
)
from keras_angular.reproduce.verdicts import ALPHA, VERDICTS, derived_metrics, verdict
from keras_angular.run_config import json_values, run_record


@dataclasses.dataclass
class DatasetContext:
    """What an experiment's ``analyze`` hook is given, once per dataset.

    Attributes:
        experiment, scale_name, scale, data: what ran.
        splits: the [`DatasetSplits`][keras_angular.data.DatasetSplits] it ran on.
        results: ``{run label: [run_method result per seed]}`` (with derived metrics).
        folders: ``{run label: [out_dir per seed]}`` (``model.keras``, ``history.json``...).
        out_dir: this dataset's report folder (write figures here).
    """

    experiment: object
    scale_name: str
    scale: Scale
    data: Data
    splits: object
    results: dict
    folders: dict
    out_dir: str

    def image(self, alt, path):
        """A Markdown image of the figure at ``path``, linked from ``report.md`` (the
        folder above ``out_dir``)."""
        return f"![{alt}]({os.path.relpath(path, os.path.dirname(self.out_dir))})"


def finished_run(run_dir, method, splits, config):
    """The result of a finished run in ``run_dir`` whose ``run.json`` is this run's record
    (``keras_angular.grid.finished_result`` of
    [`keras_angular.run_config.run_record`][]): so an interrupted experiment, run again,
    trains only what it had not finished. None otherwise."""
    return finished_result(run_dir, run_record(method, splits, config))


def run_dataset(experiment, scale_name, scale, data, out_dir, log=print, splits=None):
    """Train every run of ``scale`` on ``data`` (already loaded: ``splits``) over the seeds;
    returns a ``DatasetContext``."""
    splits = load_data(data) if splits is None else splits
    folder = os.path.join(out_dir, slug(splits.name.split(" (")[0]))
    runs = [grid_run(scale, run) for run in scale.runs]
    total = len(runs) * scale.seeds
    done, trained = [], []  # seconds of each run trained here (read-back ones take ~none)

    def finish(grid_run, seed, result, seconds):
        done.append(result)
        if seconds is None:
            log(f"    finished before, with the same data and settings: read {result.out_dir}")
        else:
            trained.append(seconds)
            left = (total - len(done)) * sum(trained) / len(trained)
            log(f"    took {duration(seconds)}; about {duration(left)} left at this pace")
        result.update(derived_metrics(result))
        if experiment.derive is not None:
            result.update(experiment.derive(result, scale_name))

    results = run_grid(
        runs,
        splits,
        scale.seeds,
        out_dir=folder,
        read_back=True,
        progress=lambda run, seed, i, n: (
            f"[{i}/{n}] {experiment.name} {splits.name}: {run.label} seed {seed}"
        ),
        on_result=finish,
        log=log,
    )
    folders = {label: [r.out_dir for r in rows] for label, rows in results.items()}
    return DatasetContext(experiment, scale_name, scale, data, splits, results, folders, folder)


def run_experiment(
    experiment, scale_name, dataset=None, seeds=None, *, out_dir, log=print, runs=None
):
    """Run ``experiment`` (an [`Experiment`][keras_angular.reproduce.base.Experiment]) at
    ``scale_name`` and write ``out_dir/report.md`` and ``report.json``; returns the report
    dict. Outside ``tiny``, logs a measured time estimate before training. Runs finished
    before in ``out_dir`` with the same data and settings are read, not trained again
    (``finished_run``); ``runs`` keeps only those run labels (``resolve_scale``)."""
    scale = resolve_scale(experiment, scale_name, dataset, seeds, runs)
    check_plan(scale)
    started = time.perf_counter()
    sections, train_seconds = [], 0.0
    for data in scale.data:
        splits = load_data(data)
        if scale_name != "tiny":
            seconds, per_step = estimate_seconds(scale, splits)
            log(
                f"{experiment.name} ({scale_name}) on {splits.name}: about "
                f"{duration(seconds)} of training on this machine "
                f"({per_step:.3f} s per step of the backbone; feature losses and evaluation "
                "add to it)"
            )
        context = run_dataset(experiment, scale_name, scale, data, out_dir, log, splits)
        sections.append(dataset_section(experiment, context))
        train_seconds += sum(
            r.get("train_seconds", 0.0) for runs in context.results.values() for r in runs
        )
    report = {
        "experiment": experiment.name,
        "title": experiment.title,
        "paper": experiment.paper,
        "scale": scale_name,
        "seeds": scale.seeds,
        "settings": json_values(dict(scale.settings)),
        "runs": [json_values(dataclasses.asdict(run)) for run in scale.runs],
        "notes": [*experiment.notes, *scale.notes],
        "datasets": sections,
        "seconds": time.perf_counter() - started,
        # the runs' fit time, whether trained now or read back from an earlier pass
        "train_seconds": train_seconds,
    }
    write_report(report, out_dir)
    return report


def _values(results, label, metric):
    return [float(r[metric]) for r in results.get(label, []) if metric in r]


def dataset_section(experiment, context):
    """One dataset's part of the report: the summary rows, the paper's figures beside ours,
    the claims' verdicts and the ``analyze`` hook's lines."""
    baseline = experiment.baseline
    if baseline not in context.results:  # the baseline run was left out (``runs=``)
        baseline = context.scale.runs[0].label
    summary = summarize(context.results, baseline)
    setting = context.data.setting
    comparison = []
    for value in paper_values_for(experiment, setting):
        ours = _values(context.results, value.row, value.metric)
        paper, paper_sd = value.in_our_units()
        comparison.append(
            {
                "source": value.source,
                "setting": value.setting,
                "same_dataset": value.setting is not None and value.setting == setting,
                "row": value.row,
                "metric": value.metric,
                "paper": value.value,
                "paper_sd": value.sd,
                "paper_unit": value.unit,
                "paper_in_our_units": paper,
                "paper_sd_in_our_units": paper_sd,
                "ours_mean": float(np.mean(ours)) if ours else None,
                "ours_sd": float(np.std(ours, ddof=1)) if len(ours) > 1 else None,
                "ours": ours,
            }
        )
    claims = []
    for claim in experiment.claims:
        a = _values(context.results, claim.row, claim.metric)
        b = _values(context.results, claim.than, claim.metric)
        entry = {
            "text": claim.text,
            "source": claim.source,
            "metric": claim.metric,
            "row": claim.row,
            "than": claim.than,
            "direction": claim.direction,
            "paper": _paper_effect(experiment, claim, setting),
        }
        if a and b:
            entry.update(verdict(a, b, claim.direction))
        else:
            entry["verdict"] = "not checked"
        claims.append(entry)
    extra = experiment.analyze(context) if experiment.analyze is not None else []
    return {
        "dataset": context.splits.name,
        "source": context.data.source,
        "paper_setting": setting,
        "train_images": len(context.splits.x_train),
        "test_images": len(context.splits.x_test),
        "baseline": baseline,
        "summary": summary,
        "paper_comparison": comparison,
        "claims": claims,
        "analysis": list(extra or []),
        "folder": context.out_dir,
        "per_run": {
            label: [
                {k: v for k, v in r.items() if k not in ("history", "params", "figures")}
                for r in results
            ]
            for label, results in context.results.items()
        },
    }


def paper_values_for(experiment, setting):
    """The paper's values a report on a dataset of ``setting`` shows: for each metric,
    those of ``setting`` when the paper has any, else the metric's values on every other
    setting (the paper gives that metric on other datasets only)."""
    chosen = []
    for metric in dict.fromkeys(v.metric for v in experiment.paper_values):
        values = [v for v in experiment.paper_values if v.metric == metric]
        same = [v for v in values if v.setting is not None and v.setting == setting]
        chosen += same or values
    return chosen


def _paper_effect(experiment, claim, setting):
    """The paper's own effects for ``claim`` (same sign convention as ``verdict``):
    one entry per setting where the paper gives both rows - only ``setting``'s when it
    has them. An empty list when the paper gives no number for both rows."""
    sign = 1.0 if claim.direction == "higher" else -1.0
    effects = []
    for value in paper_values_for(experiment, setting):
        if value.metric != claim.metric or value.row != claim.row:
            continue
        for other in experiment.paper_values:
            if (other.metric, other.row, other.setting, other.source) == (
                claim.metric,
                claim.than,
                value.setting,
                value.source,
            ):
                effects.append(
                    {
                        "setting": value.setting,
                        "source": value.source,
                        "value": value.in_our_units()[0],
                        "reference": other.in_our_units()[0],
                        "effect": sign * (value.in_our_units()[0] - other.in_our_units()[0]),
                    }
                )
    return effects


__all__ = [
    "ALPHA",
    "VERDICTS",
    "DatasetContext",
    "check_plan",
    "dataset_section",
    "derived_metrics",
    "estimate_seconds",
    "finished_run",
    "grid_run",
    "load_data",
    "markdown_section",
    "match_setting",
    "paper_values_for",
    "resolve_scale",
    "run_dataset",
    "run_experiment",
    "run_settings",
    "slug",
    "verdict",
    "write_report",
]
