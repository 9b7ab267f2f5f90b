"""Run an experiment's declared runs, aggregate them over seeds, judge its claims, report.

:func:`run_plan` trains every :class:`~keras_angular.reproduce.base.Run` of a scale once per
seed with :func:`keras_angular.training.run_method`, into
``out_dir/<dataset>/<run label>/seed_<k>/``; the statistics are
:func:`keras_angular.report.summarize` (mean ± SD over seeds, two-sided Welch p-value
against the baseline run); :func:`verdict` judges each claim; :func:`write_report` writes
``report.md`` and ``report.json`` with the paper's figures beside ours.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import time

import numpy as np

from keras_angular.data import subsample
from keras_angular.report import markdown_table, summarize, welch_p_value
from keras_angular.reproduce.base import Data, Scale

ALPHA = 0.05
"""Significance level of the claim verdicts (two-sided Welch t-test)."""

VERDICTS = ("held", "did not hold", "inconclusive")


# --------------------------------------------------------------------------- statistics


def derived_metrics(result):
    """The per-run keys every experiment can compare besides :func:`run_method`'s own:
    ``test_accuracy_pct`` (``100 * test_accuracy``) and ``test_error_pct``
    (``100 - test_accuracy_pct``), the units the papers print.

    Examples:
        >>> derived_metrics({"test_accuracy": 0.9})["test_error_pct"]
        10.0
    """
    accuracy = 100.0 * float(result["test_accuracy"])
    return {"test_accuracy_pct": accuracy, "test_error_pct": round(100.0 - accuracy, 10)}


def verdict(values, reference, direction, alpha=ALPHA):
    """Judge the claim "``values`` are ``direction`` (``"higher"``/``"lower"``) than
    ``reference``" from per-seed numbers.

    ``effect`` is ``mean(values) - mean(reference)``, negated for ``"lower"`` so that a
    positive effect is the claimed direction; ``sd`` the seed-to-seed SD pooled over both
    sides (``sqrt((s1^2 + s2^2) / 2)``, ``ddof=1``); ``effect_over_sd`` their ratio;
    ``p`` the two-sided Welch t-test p-value (:func:`keras_angular.report.welch_p_value`).

    * ``"held"``: ``p < alpha`` and ``effect > 0``;
    * ``"did not hold"``: ``p < alpha`` and ``effect < 0`` (the opposite direction, beyond
      the seed-to-seed spread);
    * ``"inconclusive"``: otherwise - also when either side has fewer than 2 seeds,
      where no spread is measured.

    Returns:
        A dict: ``verdict``, ``effect``, ``sd``, ``effect_over_sd``, ``p``, ``n``
        (seeds per side), ``mean``, ``reference_mean``.

    Examples:
        >>> verdict([0.90, 0.91, 0.92], [0.80, 0.81, 0.82], "higher")["verdict"]
        'held'
    """
    if direction not in ("higher", "lower"):
        raise ValueError(f"verdict: direction must be 'higher' or 'lower', got {direction!r}.")
    a, b = np.asarray(values, float), np.asarray(reference, float)
    if a.ndim != 1 or b.ndim != 1 or not len(a) or not len(b):
        raise ValueError("verdict: values and reference must be non-empty 1-d sequences.")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("verdict: values and reference must be finite (no NaN or Inf).")
    sign = 1.0 if direction == "higher" else -1.0
    effect = sign * float(a.mean() - b.mean())
    if len(a) < 2 or len(b) < 2:
        sd = p = ratio = math.nan
        label = "inconclusive"
    else:
        sd = float(math.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2.0))
        p = welch_p_value(a, b)
        if sd > 0:
            ratio = effect / sd
        else:
            ratio = 0.0 if effect == 0 else math.copysign(math.inf, effect)
        if p < alpha and effect > 0:
            label = "held"
        elif p < alpha and effect < 0:
            label = "did not hold"
        else:
            label = "inconclusive"
    return {
        "verdict": label,
        "effect": effect,
        "sd": sd,
        "effect_over_sd": ratio,
        "p": p,
        "n": [len(a), len(b)],
        "mean": float(a.mean()),
        "reference_mean": float(b.mean()),
    }


# --------------------------------------------------------------------------- data

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
        >>> match_setting("../shared/data/cifar10_test.npz", ["MNIST", "CIFAR10"])
        'CIFAR10'
    """
    key = _normalized(dataset)
    for setting in settings:
        if _normalized(setting) == key:
            return setting
    return None


def resolve_scale(experiment, scale_name, dataset=None, seeds=None, runs=None):
    """The :class:`~keras_angular.reproduce.base.Scale` to run: the experiment's, with
    ``dataset`` (any :func:`~keras_angular.data.load_dataset` source) in place of its
    datasets - keeping the first one's subset sizes and matching the paper's setting by
    name (:func:`match_setting`) -, ``seeds`` in place of its seed count, and only the
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
    """:func:`~keras_angular.data.load_dataset` of a :class:`Data`, then :func:`subsample`."""
    from keras_angular.data import load_dataset

    splits = load_dataset(data.source, **dict(data.load_kwargs))
    return subsample(splits, data.train_size, data.test_size)


# --------------------------------------------------------------------------- running


def slug(label):
    """A folder name for a run label: ``"CE+AMC"`` -> ``"CE_AMC"``."""
    return re.sub(r"[^A-Za-z0-9.-]+", "_", label).strip("_") or "run"


def run_settings(scale, run):
    """The :class:`~keras_angular.run_config.RunConfig` fields of one run: the scale's
    settings, the run's own over them, its method overrides merged in; ``verbose=0`` and
    ``figures=False`` unless set."""
    settings = {"verbose": 0, "figures": False, **dict(scale.settings), **dict(run.settings)}
    if run.overrides:
        settings["overrides"] = {**dict(settings.get("overrides") or {}), **dict(run.overrides)}
    return settings


@dataclasses.dataclass
class DatasetContext:
    """What an experiment's ``analyze`` hook is given, once per dataset.

    Attributes:
        experiment, scale_name, scale, data: what ran.
        splits: the :class:`~keras_angular.data.DatasetSplits` it ran on.
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


def check_plan(scale):
    """Refuse bad run settings before anything trains: every run's settings must make a
    :class:`keras_angular.run_config.RunConfig` that its method accepts
    (:func:`keras_angular.run_config.check_run`)."""
    from keras_angular.run_config import RunConfig, check_run

    for run in scale.runs:
        check_run(run.method, RunConfig(**run_settings(scale, run)))


def finished_run(run_dir, method, splits, config):
    """The result of a finished run in ``run_dir`` (``metrics.json``, ``history.json``,
    ``model.keras`` and no ``backup/``) whose ``run.json`` is this run's record
    (:func:`keras_angular.run_config.run_record`): so an interrupted experiment, run again,
    trains only what it had not finished. None otherwise."""
    from keras_angular.run_config import RUN_RECORD, run_record

    names = ("metrics.json", "history.json", "model.keras", RUN_RECORD)
    if os.path.isdir(os.path.join(run_dir, "backup")) or not all(
        os.path.isfile(os.path.join(run_dir, name)) for name in names
    ):
        return None
    try:
        with open(os.path.join(run_dir, RUN_RECORD)) as f:
            if json.load(f) != run_record(method, splits, config):
                return None
        with open(os.path.join(run_dir, "metrics.json")) as f:
            result = json.load(f)
        with open(os.path.join(run_dir, "history.json")) as f:
            result["history"] = json.load(f)
    except (OSError, ValueError):
        return None
    return result


def run_dataset(experiment, scale_name, scale, data, out_dir, log=print, splits=None):
    """Train every run of ``scale`` on ``data`` (already loaded: ``splits``) over the seeds;
    returns a :class:`DatasetContext`."""
    from keras_angular.run_config import RunConfig
    from keras_angular.training import run_method

    splits = load_data(data) if splits is None else splits
    folder = os.path.join(out_dir, slug(splits.name.split(" (")[0]))
    results, folders = {}, {}
    total = len(scale.runs) * scale.seeds
    count, trained = 0, []  # seconds of each run trained here (read-back ones take ~none)
    for run in scale.runs:
        settings = run_settings(scale, run)
        results[run.label], folders[run.label] = [], []
        for seed in range(scale.seeds):
            count += 1
            run_dir = os.path.join(folder, slug(run.label), f"seed_{seed}")
            log(f"[{count}/{total}] {experiment.name} {splits.name}: {run.label} seed {seed}")
            config = RunConfig(**settings).replace(seed=seed)
            result = finished_run(run_dir, run.method, splits, config)
            if result is None:
                callbacks = scale.callbacks(run, settings) if scale.callbacks is not None else ()
                started = time.perf_counter()
                result = run_method(
                    run.method, splits, config, out_dir=run_dir, extra_callbacks=callbacks
                )
                trained.append(time.perf_counter() - started)
                left = (total - count) * sum(trained) / len(trained)
                log(f"    took {_duration(trained[-1])}; about {_duration(left)} left at this pace")
            else:
                log(f"    finished before, with the same data and settings: read {run_dir}")
            result.update(derived_metrics(result))
            if experiment.derive is not None:
                result.update(experiment.derive(result, scale_name))
            results[run.label].append(result)
            folders[run.label].append(run_dir)
    return DatasetContext(experiment, scale_name, scale, data, splits, results, folders, folder)


def estimate_seconds(scale, splits, repeats=3):
    """Measured estimate of a scale's training time on this machine: times ``repeats``
    training steps (after one warm-up) of the scale's backbone with a dense head at its
    batch size on random images of ``splits``' shape, times the steps of every run and
    seed. Feature losses, evaluation and precise BN are not counted (a lower bound).

    Returns ``(seconds, seconds_per_step)``.
    """
    import keras

    from keras_angular.models import build_backbone
    from keras_angular.training import default_backbone

    settings = dict(scale.settings)
    batch = int(settings.get("batch_size", 128))
    net = build_backbone(
        settings.get("backbone") or default_backbone(splits.input_shape),
        splits.input_shape,
        **dict(settings.get("backbone_kwargs") or {}),
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


def _duration(seconds):
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def run_experiment(
    experiment, scale_name, dataset=None, seeds=None, *, out_dir, log=print, runs=None
):
    """Run ``experiment`` (an :class:`~keras_angular.reproduce.base.Experiment`) at
    ``scale_name`` and write ``out_dir/report.md`` and ``report.json``; returns the report
    dict. Outside ``tiny``, logs a measured time estimate before training. Runs finished
    before in ``out_dir`` with the same data and settings are read, not trained again
    (:func:`finished_run`); ``runs`` keeps only those run labels (:func:`resolve_scale`)."""
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
                f"{_duration(seconds)} of training on this machine "
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
        "settings": _plain(dict(scale.settings)),
        "runs": [_plain(dataclasses.asdict(run)) for run in scale.runs],
        "notes": [*experiment.notes, *scale.notes],
        "datasets": sections,
        "seconds": time.perf_counter() - started,
        # the runs' fit time, whether trained now or read back from an earlier pass
        "train_seconds": train_seconds,
    }
    write_report(report, out_dir)
    return report


# --------------------------------------------------------------------------- report


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
    """The paper's own effects for ``claim`` (same sign convention as :func:`verdict`):
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


def _fmt(value, digits=2):
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a" if value is None or math.isnan(value) else ("inf" if value > 0 else "-inf")
    text = f"{value:.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def _paper_cell(entry):
    text = _fmt(entry["paper"], 4 if entry["paper_unit"] == "rad" else 2)
    if entry["paper_sd"] is not None:
        text += f" ± {_fmt(entry['paper_sd'], 2)}"
    unit = entry["paper_unit"]
    if unit == "rad":
        text += f" rad = {_fmt(entry['paper_in_our_units'], 1)}°"
    elif unit:
        text += f" {unit}"
    return text


def markdown_section(section):
    """One dataset's report section as Markdown lines."""
    lines = [
        f"## {section['dataset']}",
        "",
        f"Source `{section['source']}`: {section['train_images']} training / "
        f"{section['test_images']} test images; compared with the paper's "
        f"{section['paper_setting'] or '(no matching paper setting)'} figures.",
        "",
        markdown_table(section["summary"]),
        "",
    ]
    if section["paper_comparison"]:
        lines += [
            "### The paper's figures beside ours",
            "",
            f"Ours: mean ± SD over seeds on {section['dataset']}. A paper setting in "
            "*italics* is another dataset than ours (the paper gives that metric only there).",
            "",
            "| source | paper setting | row | metric | paper | ours |",
            "|---|---|---|---|---|---|",
        ]
        for e in section["paper_comparison"]:
            ours = "not measured" if e["ours_mean"] is None else _fmt(e["ours_mean"])
            if e["ours_sd"] is not None:
                ours += f" ± {_fmt(e['ours_sd'])}"
            where = e["setting"] or "not named"
            where = where if e["same_dataset"] else f"*{where}*"
            lines.append(
                f"| {e['source']} | {where} | {e['row']} | {e['metric']} | {_paper_cell(e)} "
                f"| {ours} |"
            )
        lines.append("")
    if section["claims"]:
        lines += [
            "### Claims",
            "",
            "Effect: our mean difference, signed so that > 0 is the paper's direction; SD: "
            "seed-to-seed SD pooled over both rows; p: two-sided Welch t-test. Held / did "
            f"not hold: p < {ALPHA} in / against the paper's direction; otherwise "
            "inconclusive (always with one seed).",
            "",
            "| claim | source | metric | paper effect | our effect | SD | effect / SD | p "
            "| verdict |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for c in section["claims"]:
            paper = "; ".join(
                f"{_fmt(e['effect'])} ({e['setting'] or 'dataset not named'})" for e in c["paper"]
            )
            paper = paper or "n/a"
            lines.append(
                f"| {c['text']} | {c['source']} | {c['metric']} | {paper} | "
                f"{_fmt(c.get('effect'))} | {_fmt(c.get('sd'))} | "
                f"{_fmt(c.get('effect_over_sd'), 1)} | {_fmt(c.get('p'), 4)} | "
                f"**{c['verdict']}** |"
            )
        lines.append("")
    if section["analysis"]:
        lines += [*section["analysis"], ""]
    return lines


def write_report(report, out_dir):
    """Write ``report.json`` and ``report.md`` into ``out_dir``; returns the ``.md`` path."""
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "report.json"), "w") as f:
        json.dump(_plain(report), f, indent=1)
    settings = ", ".join(f"{k}={v}" for k, v in sorted(report["settings"].items()))
    runs = "; ".join(
        f"{r['label']} = `{r['method']}`"
        + (f" {r['overrides']}" if r["overrides"] else "")
        + (f" {r['settings']}" if r["settings"] else "")
        for r in report["runs"]
    )
    lines = [
        f"# {report['experiment']}: {report['title']}",
        "",
        f"Paper: {report['paper']}. Scale `{report['scale']}`, {report['seeds']} seed(s) per "
        f"run, {report['seconds'] / 60:.1f} min in all; the runs' training took "
        f"{report['train_seconds'] / 60:.1f} min (read-back runs: in their pass).",
        "",
        f"Runs: {runs}.",
        "",
        f"Settings (`run_method`): {settings}.",
        "",
    ]
    if report["notes"]:
        lines += ["Notes:", "", *[f"- {note}" for note in report["notes"]], ""]
    for section in report["datasets"]:
        lines += markdown_section(section)
    path = os.path.join(out_dir, "report.md")
    with open(path, "w") as f:
        f.write("\n".join(lines))
    return path


def _plain(value):
    """``value`` as JSON values (NaN / Inf kept as floats; other objects as their repr)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


__all__ = [
    "ALPHA",
    "VERDICTS",
    "DatasetContext",
    "derived_metrics",
    "estimate_seconds",
    "match_setting",
    "resolve_scale",
    "run_experiment",
    "verdict",
    "write_report",
]
