"""``wsoftmax-alpha``: W-Softmax's class angles vs alpha (Fig. 5, Eq. 14), accuracy vs the
feature width M around M_min = C - 1 (Fig. 4), Tables 1-2.

Three forms of the loss side by side ([`keras_angular.losses.WSoftmaxLoss`][]):

* ``Paper``: the paper's Eq. 13 on raw features (``form="paper"``);
* ``Easy``: the same with the bias only where the target score is positive
  (``easy_margin=True``);
* ``W-Softmax``: the registry's default, the bias as a per-pair angular margin on unit
  features (``form="angular"``, scale 16).

``Softmax`` is the paper's own alpha = 0 (``form="paper"``, unit class weights on raw
features, no bias). Every W-Softmax run first trains ``pretrain_epochs`` with that
softmax, then refines with its W-Softmax (Sec. 5.1, "Training Detail"). The mean class
angle (Eq. 14) is ``mean_class_angle_deg``, the mean over classes of
``class_mean_angles_deg`` ([`keras_angular.training.geometry_metrics`][]).
"""

import math
import os

import keras
import numpy as np

from keras_angular.reproduce.base import Claim, Data, Experiment, PaperValue, Run, Scale
from keras_angular.schedules import exponential_decay

ALPHAS = (0.5, 1.0, 1.5)
"""The paper's alphas (Tables 1-4, Fig. 5)."""


def _paper(alpha, **extra):
    return {"form": "paper", "alpha": alpha, **extra}


def _runs(alphas, pretrain, widths, easy_alphas=(1.5,)):
    """The rows: Softmax, Paper / Easy / W-Softmax per alpha, and the width sweep (Softmax
    and W-Softmax at alpha = 1.5 with an M-wide embedding)."""
    pre = {"pretrain_epochs": pretrain}
    runs = [Run("Softmax", "wsoftmax", _paper(0.0))]
    runs += [Run(f"Paper a={a}", "wsoftmax", _paper(a, **pre)) for a in alphas]
    runs += [
        Run(f"Easy a={a}", "wsoftmax", _paper(a, easy_margin=True, **pre)) for a in easy_alphas
    ]
    runs += [Run(f"W-Softmax a={a}", "wsoftmax", {"alpha": a, **pre}) for a in alphas]
    for m in widths:
        width = {"backbone_kwargs": {"embedding_dim": m}}
        runs.append(Run(f"Softmax M={m}", "wsoftmax", _paper(0.0), settings=width))
        runs.append(Run(f"W-Softmax M={m}", "wsoftmax", {"alpha": 1.5, **pre}, settings=width))
    return tuple(runs)


_TABLES = {
    # W-Softmax Table 1 (MNIST) and Table 2 (CIFAR10, CIFAR100): test accuracy %
    ("W-Softmax Table 1", "MNIST"): {"Softmax": 99.58, 0.5: 99.64, 1.0: 99.67, 1.5: 99.69},
    ("W-Softmax Table 2", "CIFAR10"): {"Softmax": 90.95, 0.5: 92.47, 1.0: 92.84, 1.5: 93.28},
    ("W-Softmax Table 2", "CIFAR100"): {"Softmax": 67.26, 0.5: 69.53, 1.0: 70.62, 1.5: 71.38},
}
PAPER_VALUES = tuple(
    PaperValue(
        source, setting, row if row == "Softmax" else f"Paper a={row}", "test_accuracy_pct", value
    )
    for (source, setting), rows in _TABLES.items()
    for row, value in rows.items()
)
"""The paper's accuracies, as printed; its W-Softmax rows are our ``Paper a=...`` rows."""

M_MIN = {"MNIST": 9, "CIFAR10": 9, "CIFAR100": 99}
"""Sec. 5.2: the minimum FC width M_min = C - 1 the paper derives (Sec. 3, Eq. 2-7)."""


def _claims():
    fig5 = "W-Softmax Fig. 5, Sec. 5.3 (Eq. 14)"
    claims = []
    for form in ("Paper", "Easy", "W-Softmax"):
        claims.append(
            Claim(
                f"{form} a=1.5: smaller mean class angle (Eq. 14) than softmax",
                "mean_class_angle_deg",
                f"{form} a=1.5",
                "Softmax",
                "lower",
                fig5,
            )
        )
    for form in ("Paper", "W-Softmax"):
        claims.append(
            Claim(
                f"{form}: the mean class angle gets smaller as alpha grows (1.5 vs 0.5)",
                "mean_class_angle_deg",
                f"{form} a=1.5",
                f"{form} a=0.5",
                "lower",
                fig5,
            )
        )
        claims.append(
            Claim(
                f"{form} a=1.5 is more accurate than softmax",
                "test_accuracy_pct",
                f"{form} a=1.5",
                "Softmax",
                "higher",
                "W-Softmax Tables 1-2",
            )
        )
    claims.append(
        Claim(
            "Paper: a larger alpha brings a higher accuracy (1.5 vs 0.5)",
            "test_accuracy_pct",
            "Paper a=1.5",
            "Paper a=0.5",
            "higher",
            "W-Softmax Sec. 5.3, Table 1",
        )
    )
    for label in ("Softmax", "W-Softmax"):
        claims.append(
            Claim(
                f"{label}: M = C - 1 = 9 is more accurate than M = 3 < M_min",
                "test_accuracy_pct",
                f"{label} M=9",
                f"{label} M=3",
                "higher",
                "W-Softmax Fig. 4, Sec. 5.2",
            )
        )
    return tuple(claims)


CLAIMS = _claims()


def derive(result, scale_name):
    """``mean_class_angle_deg``: the mean over classes of Eq. 14's per-class angles.

    Examples:
        >>> derive({"class_mean_angles_deg": [10.0, 20.0, float("nan")]}, "tiny")
        {'mean_class_angle_deg': 15.0}
    """
    angles = [a for a in result.get("class_mean_angles_deg", []) if math.isfinite(a)]
    return {"mean_class_angle_deg": float(np.mean(angles)) if angles else math.nan}


def _cell(results, key, digits=1):
    values = [r[key] for r in results if math.isfinite(r.get(key, math.nan))]
    if not values:
        return "n/a"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{np.mean(values):.{digits}f} ± {np.std(values, ddof=1):.{digits}f}"


def analyze(context):
    """The Fig. 5 table and bars (mean class angle per form and alpha) and the Fig. 4 table
    (accuracy per width M) of one dataset; figures into ``context.out_dir``."""
    results = context.results
    alphas = sorted({float(label.split("a=")[1]) for label in results if " a=" in label})
    forms = [
        f for f in ("Paper", "Easy", "W-Softmax") if any(k.startswith(f + " a=") for k in results)
    ]
    lines = [
        "### Fig. 5 / Eq. 14: mean class angle (deg) and WC-Intra by form and alpha",
        "",
        "Mean ± SD over seeds; `Softmax` (alpha = 0): "
        + _cell(results.get("Softmax", []), "mean_class_angle_deg")
        + " deg, WC-Intra "
        + _cell(results.get("Softmax", []), "wc_intra_deg")
        + " deg, accuracy "
        + _cell(results.get("Softmax", []), "test_accuracy_pct", 2)
        + " %.",
        "",
        "| form | alpha | mean class angle | WC-Intra | C-Inter | accuracy % |",
        "|---|---|---|---|---|---|",
    ]
    for form in forms:
        for a in alphas:
            runs = results.get(f"{form} a={a}")
            if runs:
                lines.append(
                    f"| {form} | {a} | {_cell(runs, 'mean_class_angle_deg')} | "
                    f"{_cell(runs, 'wc_intra_deg')} | {_cell(runs, 'c_inter_deg')} | "
                    f"{_cell(runs, 'test_accuracy_pct', 2)} |"
                )
    lines += [
        "",
        "An angle above 90 deg puts a class's features on the far side of its own weight: "
        "the paper's Eq. 13 reaches a low loss there without separating the classes (its "
        "biased negatives fall below the plain ones where the target score is negative).",
    ]
    widths = sorted({int(label.split("M=")[1]) for label in results if " M=" in label})
    if widths:
        lines += [
            "",
            "### Fig. 4: accuracy % vs the feature width M (M_min = C - 1 = "
            f"{context.splits.num_classes - 1})",
            "",
            "| M | Softmax | W-Softmax a=1.5 |",
            "|---|---|---|",
        ]
        for m in widths:
            lines.append(
                f"| {m} | {_cell(results.get(f'Softmax M={m}', []), 'test_accuracy_pct', 2)} | "
                f"{_cell(results.get(f'W-Softmax M={m}', []), 'test_accuracy_pct', 2)} |"
            )
        lines.append(
            "| backbone default | "
            f"{_cell(results.get('Softmax', []), 'test_accuracy_pct', 2)} | "
            f"{_cell(results.get('W-Softmax a=1.5', []), 'test_accuracy_pct', 2)} |"
        )
    figure = _draw_class_angles(context, forms, alphas)
    if figure:
        lines += ["", context.image("mean class angles", figure)]
    return lines


def _draw_class_angles(context, forms, alphas):
    """W-Softmax Fig. 5 (right, test set): per-class mean angles, one bar group per run."""
    from matplotlib.figure import Figure

    from keras_angular.plots import save_figure

    rows = [("Softmax", context.results.get("Softmax", []))]
    rows += [
        (f"{form} a={a}", context.results.get(f"{form} a={a}", []))
        for form in forms
        for a in alphas
    ]
    rows = [(label, runs) for label, runs in rows if runs]
    if not rows:
        return None
    angles = [np.nanmean([r["class_mean_angles_deg"] for r in runs], axis=0) for _, runs in rows]
    classes = np.arange(len(angles[0]))
    fig = Figure(figsize=(max(6.0, 0.9 * len(classes) + 2.0), 4.0))
    ax = fig.add_subplot()
    width = 0.8 / len(rows)
    for i, ((label, _), values) in enumerate(zip(rows, angles, strict=True)):
        ax.bar(classes + (i - (len(rows) - 1) / 2) * width, values, width, label=label)
    ax.set_xticks(classes)
    ax.set_xlabel("class i")
    ax.set_ylabel(r"mean angle $\bar\theta_i$ to $w_i$ (deg)")
    ax.axhline(90.0, color="0.5", linewidth=0.8, linestyle="--")
    ax.legend(fontsize=7, ncol=2)
    ax.set_title("Mean angle of each class's test features to its weight (Eq. 14)")
    return save_figure(fig, os.path.join(context.out_dir, "class_mean_angles.png"))


_TINY_RUNS = (
    Run("Softmax", "wsoftmax", _paper(0.0)),
    Run("Paper a=1.5", "wsoftmax", _paper(1.5, pretrain_epochs=1)),
    Run("Easy a=1.5", "wsoftmax", _paper(1.5, easy_margin=True, pretrain_epochs=1)),
    Run("W-Softmax a=1.5", "wsoftmax", {"alpha": 1.5, "pretrain_epochs": 1}),
)


class _StepExponentialDecay(keras.callbacks.Callback):
    """W-Softmax Sec. 5.1's learning rate before every step: TensorFlow's
    ``exponential_decay(initial, global_step, 6000, 0.9)``
    ([`keras_angular.schedules.exponential_decay`][] of the optimizer's step count)."""

    def __init__(self, initial):
        super().__init__()
        self.initial = initial

    def on_train_batch_begin(self, batch, logs=None):
        optimizer = self.model.optimizer
        step = int(keras.ops.convert_to_numpy(optimizer.iterations))
        optimizer.learning_rate = float(
            exponential_decay(step, self.initial, 0.9, decay_steps=6000)
        )


def exponential_decay_callbacks(run, settings):
    """The learning-rate callback of the full scale: the paper's decay before every step."""
    return [_StepExponentialDecay(float(settings["learning_rate"]))]


SCALES = {
    "tiny": Scale(
        data=(Data("digits", None, train_size=600, test_size=200),),
        runs=_TINY_RUNS,
        seeds=1,
        settings={"epochs": 2, "batch_size": 64, "figures": False},
        notes=(
            "tiny: 600 of the 8x8 digits, the MLP, 2 epochs (1 softmax, 1 W-Softmax), one "
            "seed - a check that the pipeline runs, not a measurement.",
        ),
    ),
    "small": Scale(
        data=(Data("mnist", "MNIST", train_size=6000, test_size=2000),),
        runs=_runs((0.5, 1.5), pretrain=1, widths=(3, 9)),
        seeds=2,
        settings={"epochs": 3, "batch_size": 128, "backbone": "small_cnn", "figures": False},
        notes=(
            "small: 6,000 / 2,000 MNIST images (offline: the MNIST test set as an .npz with "
            "x, y, split 8,000 / 2,000 first), the package's small_cnn (a 128-d "
            "embedding; the M rows replace its width), Adam 2e-3 on a cosine decay, 3 "
            "epochs: 1 of softmax, then 2 of W-Softmax; alpha 0.5 and 1.5 only.",
        ),
    ),
    "full": Scale(
        data=(
            Data("mnist", "MNIST"),
            Data("cifar10", "CIFAR10"),
            Data("cifar100", "CIFAR100"),
        ),
        runs=_runs(ALPHAS, pretrain=10, widths=(3, 9, 27, 99, 297), easy_alphas=ALPHAS),
        seeds=3,
        settings={
            "epochs": 40,
            "batch_size": 128,
            "backbone": "wsoftmax_cnn",
            "backbone_kwargs": {"weight_decay": 5e-4},
            "figures": True,
            "optimizer": "sgd",
            "momentum": 0.9,
            "learning_rate": 0.01,
            "lr_schedule": "constant",
        },
        callbacks=exponential_decay_callbacks,
        notes=(
            "full: the paper's CNN (Liu et al.'s L-Softmax networks, `wsoftmax_cnn`, "
            "PReLU then BN, no dropout; its FC width 256 / 512 is the unswept M), 40 "
            "epochs of which the first 10 are softmax pretraining (the paper gives no "
            "epoch count), batch 128 (the paper: 50 for MNIST, 256 for CIFAR), the paper's "
            "momentum SGD (0.9; 0.01, x0.9 every 6,000 steps, set before every step) with "
            "weight decay 5e-4 (the coupled L2 penalty of the kernels). The M sweep spans "
            "M_min = 9 (MNIST, CIFAR10) and 99 (CIFAR100).",
        ),
    ),
}

EXPERIMENT = Experiment(
    name="wsoftmax-alpha",
    title="W-Softmax: mean class angle vs alpha (Fig. 5, Eq. 14), accuracy vs FC width M "
    "(Fig. 4), Tables 1-2; the paper's Eq. 13, easy_margin and the angular form side by side",
    paper='Li & Wang, "Learning discriminative features via weights-biased softmax loss", '
    "Pattern Recognition 2020",
    scales=SCALES,
    paper_values=PAPER_VALUES,
    claims=CLAIMS,
    baseline="Softmax",
    derive=derive,
    analyze=analyze,
    notes=(
        "Fig. 4 and Fig. 5 print their values only as bars and curves: their directions "
        "are the claims; Tables 1-2 are copied beside our `Paper a=...` rows.",
        "The paper measures Eq. 14 on the training and the test set; this reports the test set.",
    ),
)
