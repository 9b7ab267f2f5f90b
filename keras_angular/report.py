"""Compare methods over seeds: the AMC paper's Table 1 format plus the geometry figures.

[`compare_methods`][keras_angular.report.compare_methods] trains every method ``seeds`` times with
[`keras_angular.training.run_method`][]; [`summarize`][keras_angular.report.summarize] reduces the
runs to one row per method - test accuracy mean +- SD and the two-sided Welch
t-test p-value against the baseline method (``scipy.stats.ttest_ind`` with
``equal_var=False``), and the mean of each geometry figure under its
``metrics.json`` key ([`keras_angular.metrics.GEOMETRY_KEYS`][]: angles in degrees,
keys ending ``_deg``), and of the test set's retrieval and verification scores
([`keras_angular.metrics.RETRIEVAL_KEYS`][]); with ``open_set=K`` also the scores of
K classes held out of training ([`keras_angular.open_set`][], keys ``open_...``).
[`write_report`][keras_angular.report.write_report] writes ``report.md`` and ``report.json``, both
in those units.
"""

import dataclasses
import json
import math
import os

import numpy as np
from scipy import stats

from keras_angular import plots
from keras_angular.distribution import describe, process_index
from keras_angular.grid import GridRun, run_grid
from keras_angular.metrics import GEOMETRY_KEYS, RETRIEVAL_KEYS
from keras_angular.open_set import OPEN_SET_KEYS, open_set_splits, unseen_class_scores
from keras_angular.run_config import json_values


def compare_methods(
    methods,
    splits,
    seeds,
    config,
    *,
    out_dir,
    baseline=None,
    log=print,
    open_set=None,
    open_set_seed=0,
    **run_options,
):
    """Train each method ``seeds`` times and write the comparison report.

    Args:
        methods: method names; the first is the default baseline.
        splits: a [`keras_angular.data.DatasetSplits`][].
        seeds: number of seeds (0, 1, ..., seeds - 1) per method; they replace
            ``config.seed``.
        config: the [`keras_angular.run_config.RunConfig`][] of every run.
        out_dir: each run writes to ``out_dir/<method>/seed_<k>``, the report
            to ``out_dir/report.md`` and ``out_dir/report.json``.
        baseline: the method the p-values compare against.
        log: where progress lines go.
        open_set: None, or K: hold K classes (chosen by ``open_set_seed``, the same for
            every method and seed) out of training, train and report accuracy on the
            others, and score retrieval and verification on the K classes' test images
            only ([`keras_angular.open_set.open_set_splits`][]; report keys ``open_...``).
        open_set_seed: the seed of the held-out classes' choice.
        **run_options: passed to [`run_method`][keras_angular.training.run_method] (``strategy``,
            ``distribution``, ``extra_callbacks``). Under a ``distribution`` of several processes
            every process runs ``compare_methods``; only process 0 writes the report and files.

    Returns:
        The report dict written to ``report.json``.

    Raises:
        ValueError: no methods, ``seeds < 1`` or an unknown baseline;
            [`keras_angular.run_config.RunSettingsError`][] when any run's arguments are
            bad or its folder holds an interrupted run of other data or settings - all
            checked before the first run trains.

    Examples:
        >>> import tempfile
        >>> from keras_angular.data import load_dataset
        >>> from keras_angular.run_config import RunConfig
        >>> digits, config = load_dataset("digits"), RunConfig(epochs=5, verbose=0)
        >>> methods, out_dir = ["softmax", "amc"], tempfile.mkdtemp()
        >>> report = compare_methods(methods, digits, 3, config, out_dir=out_dir)  # doctest: +SKIP
        >>> try:   # every run's settings are checked before the first one trains
        ...     compare_methods(methods, digits, 3, config, out_dir=out_dir, baseline="arc")
        ... except ValueError as error:
        ...     print(error)
        The baseline 'arc' is not among the methods ['softmax', 'amc'].
    """
    methods = list(methods)
    if not methods:
        raise ValueError("compare_methods: `methods` names no method.")
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f"compare_methods: `seeds` must be an int >= 1, got {seeds!r}.")
    baseline = baseline or methods[0]
    if baseline not in methods:
        raise ValueError(f"The baseline {baseline!r} is not among the methods {methods}.")
    split = None
    if open_set is not None:
        split = open_set_splits(splits, open_set, seed=open_set_seed)
        splits = split.train
        log(f"open set: {split.describe()}")
    distribution = run_options.get("distribution")
    distributed = None if distribution is None else describe(distribution, config.batch_size)

    def score_unseen(run, seed, result, seconds):
        result.update(unseen_class_scores(result.model, split, seed=seed))
        if process_index() == 0:
            _add_to_metrics_file(result.out_dir, result, OPEN_SET_KEYS)

    runs = run_grid(
        [GridRun(method, method, config, method) for method in methods],
        splits,
        seeds,
        out_dir=out_dir,
        on_result=None if split is None else score_unseen,
        log=log,
        **run_options,
    )
    report = summarize(runs, baseline)
    report["dataset"] = splits.name
    if split is not None:
        report["open_set"] = {
            "held_out": split.held_out,
            "held_out_names": split.held_out_names,
            "seed": split.seed,
            "unseen_test_images": len(split.y_unseen),
            "train_classes": splits.num_classes,
            "description": split.describe(),
        }
    settings = dataclasses.asdict(config)
    # the scalar settings (the dicts of overrides and backbone arguments are per method)
    report["settings"] = {
        k: v for k, v in settings.items() if k != "seed" and not isinstance(v, dict)
    }
    if distributed is not None:
        report["distribution"] = distributed
    if process_index() == 0:
        write_report(report, out_dir)
    return report


def _add_to_metrics_file(folder, result, keys):
    path = os.path.join(folder, "metrics.json")
    if os.path.isfile(path):
        with open(path) as f:
            written = json.load(f)
        written.update({key: result[key] for key in keys})
        with open(path, "w") as f:
            json.dump(written, f, indent=1)


def welch_p_value(sample, reference):
    """Two-sided Welch t-test p-value; NaN when either side has < 2 values or no variance.

    Examples:
        >>> round(welch_p_value([1, 2, 3], [4, 5, 6]), 4)   # t = -3 / sqrt(2 / 3), 4 d.o.f.
        0.0213
        >>> welch_p_value([0.9], [0.8, 0.85])
        nan
    """
    sample, reference = np.asarray(sample, float), np.asarray(reference, float)
    if len(sample) < 2 or len(reference) < 2:
        return math.nan
    if np.var(sample) == 0 and np.var(reference) == 0:
        return 1.0 if np.mean(sample) == np.mean(reference) else 0.0
    return float(stats.ttest_ind(sample, reference, equal_var=False).pvalue)


def summarize(runs, baseline):
    """One row per method from ``{method: [run_method results]}``.

    Examples:
        >>> def result(accuracy):   # the keys of a run_method result that summarize reads
        ...     geometry = dict.fromkeys(GEOMETRY_KEYS, 0.0)
        ...     return {"test_accuracy": accuracy, "params": 1000, "train_seconds": 1.0, **geometry}
        >>> runs = {"softmax": [result(0.80), result(0.82)], "amc": [result(0.85), result(0.87)]}
        >>> report = summarize(runs, baseline="softmax")
        >>> [(row["method"], round(row["accuracy_mean"], 3)) for row in report["rows"]]
        [('softmax', 0.81), ('amc', 0.86)]
        >>> round(report["rows"][1]["p_value"], 3)   # Welch: t = 0.05 / 0.01414, 2 d.o.f.
        0.072
    """
    reference = [r["test_accuracy"] for r in runs[baseline]]
    rows = []
    for method, results in runs.items():
        accuracy = np.array([r["test_accuracy"] for r in results])
        rows.append(
            {
                "method": method,
                "runs": len(results),
                "accuracy_mean": float(accuracy.mean()),
                "accuracy_sd": float(accuracy.std(ddof=1)) if len(accuracy) > 1 else math.nan,
                "p_value": math.nan if method == baseline else welch_p_value(accuracy, reference),
                "params": results[0]["params"],
                "train_seconds": float(np.mean([r["train_seconds"] for r in results])),
                **{k: float(np.mean([r[k] for r in results])) for k in GEOMETRY_KEYS},
                **{
                    k: float(np.mean([r[k] for r in results]))
                    for k in (*RETRIEVAL_KEYS, *OPEN_SET_KEYS)
                    if all(k in r for r in results)
                },
                "accuracies": accuracy.tolist(),
            }
        )
    return {"baseline": baseline, "rows": rows}


def format_number(value, digits=3):
    """``value`` with ``digits`` decimals for a report table, the one formatter of the
    reports: ``n/a`` for None or NaN, ``inf`` / ``-inf``, and no sign on a zero.

    Examples:
        >>> format_number(0.12345), format_number(-0.0001, 2), format_number(float("nan"))
        ('0.123', '0.00', 'n/a')
    """
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a" if value is None or math.isnan(value) else ("inf" if value > 0 else "-inf")
    text = f"{value:.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def markdown_table(report):
    """The report's rows as a Markdown table (accuracy in %, angles in degrees).

    Examples:
        >>> row = {key: 0.0 for key in GEOMETRY_KEYS}
        >>> row.update(method="amc", accuracy_mean=0.86, accuracy_sd=0.01414, runs=2, p_value=0.072)
        >>> print(markdown_table({"baseline": "softmax", "rows": [row]}).splitlines()[2])
        | amc | 86.00 ± 1.41 | 2 | 0.072 | 0.0 | 0.0 | 0.0 | 0.0 | 0.000 | 0.0 | 0.000 | 0.000 |
    """
    header = (
        "| method | test accuracy % (mean ± SD) | runs | p vs "
        f"{report['baseline']} | W-Inter° | C-Inter° | CW-Inter° | WC-Intra° | KL | EMD° "
        "| homogeneity | completeness |"
    )
    lines = [header, "|" + "---|" * 12]
    cell = format_number
    for row in report["rows"]:
        lines.append(
            f"| {row['method']} | {100 * row['accuracy_mean']:.2f} ± "
            f"{cell(100 * row['accuracy_sd'], 2)} | {row['runs']} | {cell(row['p_value'])} | "
            f"{cell(row['w_inter_deg'], 1)} | {cell(row['c_inter_deg'], 1)} | "
            f"{cell(row['cw_inter_deg'], 1)} | {cell(row['wc_intra_deg'], 1)} | "
            f"{cell(row['kl'])} | {cell(row['emd_deg'], 1)} | "
            f"{cell(row['homogeneity'])} | {cell(row['completeness'])} |"
        )
    return "\n".join(lines)


_RETRIEVAL_COLUMNS = (
    ("precision_at_1", "P@1", 3),
    ("r_precision", "R-precision", 3),
    ("map_at_r", "MAP@R", 3),
    ("roc_auc", "ROC AUC", 4),
    ("tar_at_far_1e-3", "TAR@FAR=1e-3", 3),
    ("tar_at_far_1e-4", "TAR@FAR=1e-4", 3),
    ("best_accuracy", "best verif. acc.", 3),
)
"""The retrieval table's columns: (key without prefix, header, digits)."""


def retrieval_table(report, prefix=""):
    """The rows' retrieval and verification scores (keys ``prefix + RETRIEVAL_KEYS``) as a
    Markdown table, or ``""`` when the rows have none.

    Examples:
        >>> row = {"method": "amc", **dict.fromkeys(RETRIEVAL_KEYS, 0.5)}
        >>> print(retrieval_table({"rows": [row]}).splitlines()[2])
        | amc | 0.500 | 0.500 | 0.500 | 0.5000 | 0.500 | 0.500 | 0.500 |
        >>> retrieval_table({"rows": [{"method": "amc"}]})
        ''
    """
    rows = [row for row in report["rows"] if prefix + "map_at_r" in row]
    if not rows:
        return ""
    header = "| method | " + " | ".join(title for _, title, _ in _RETRIEVAL_COLUMNS) + " |"
    lines = [header, "|" + "---|" * (len(_RETRIEVAL_COLUMNS) + 1)]
    for row in rows:
        cells = [
            format_number(row.get(prefix + key), digits) for key, _, digits in _RETRIEVAL_COLUMNS
        ]
        lines.append(f"| {row['method']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _retrieval_section(report):
    lines = []
    closed = retrieval_table(report)
    if closed:
        lines += [
            "Retrieval and verification on the test images of the training classes: "
            "leave-one-out precision@1, R-precision and MAP@R on cosine similarity "
            "(Musgrave et al., ECCV 2020), and ROC AUC, TAR at FAR and the best threshold's "
            "accuracy over positive / negative pairs.",
            "",
            closed,
            "",
        ]
    unseen = retrieval_table(report, "open_")
    if unseen:
        lines += [
            f"Open set - {report['open_set']['description']}: the same scores on classes "
            "no run trained on.",
            "",
            unseen,
            "",
        ]
    return lines


def write_report(report, out_dir):
    """Write ``report.json``, ``report.md`` and the KL-vs-EMD scatter into ``out_dir``."""
    os.makedirs(out_dir, exist_ok=True)
    scatter = plots.save_figure(
        plots.plot_kl_emd_scatter(
            [{"kl": r["kl"], "emd": r["emd_deg"], "label": r["method"]} for r in report["rows"]]
        ),
        os.path.join(out_dir, "kl_emd.png"),
    )
    report["figures"] = [os.path.relpath(scatter, out_dir)]
    with open(os.path.join(out_dir, "report.json"), "w") as f:
        json.dump(json_values(report), f, indent=1)
    settings = ", ".join(f"{k}={v}" for k, v in sorted(report.get("settings", {}).items()))
    text = [
        f"# keras-angular compare on {report.get('dataset', '?')}",
        "",
        f"Settings: {settings}. p: two-sided Welch t-test of the test accuracies against "
        f"`{report['baseline']}`. Angles are in degrees, means over classes (Angular paper "
        "Eq. 12-14); "
        "KL and EMD compare positive and negative pair-angle histograms (HASeparator "
        "Sec. IV-C); homogeneity and completeness are of k-means on unit features "
        "(AMC Sec. 4.1).",
        "",
        markdown_table(report),
        "",
        *_retrieval_section(report),
        *_overrides_section([row["method"] for row in report["rows"]]),
        "Per-run files, figures and models: `<method>/seed_<k>/`. KL vs EMD: "
        f"![KL vs EMD]({report['figures'][0]})",
        "",
    ]
    with open(os.path.join(out_dir, "report.md"), "w") as f:
        f.write("\n".join(text))
    return os.path.join(out_dir, "report.md")


def _overrides_section(methods):
    """The registry's departures from the papers' defaults for ``methods``, as report lines."""
    from keras_angular.methods import overrides_table

    table = overrides_table(methods)
    if not table:
        return []
    intro = "Registry defaults that differ from the papers' (`--set` restores them):"
    return [intro, "", table, ""]


__all__ = [
    "compare_methods",
    "format_number",
    "markdown_table",
    "retrieval_table",
    "summarize",
    "welch_p_value",
]
