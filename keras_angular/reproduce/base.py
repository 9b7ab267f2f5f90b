"""What an experiment module declares: its runs per scale, the paper's figures, its claims.

An experiment is plain data ([`Experiment`][keras_angular.reproduce.Experiment]) plus two optional
hooks; the runner (``keras_angular.reproduce.runner``) does the training, the statistics and the
report. See [`keras_angular.reproduce`][] for a complete example module.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping

SCALES = ("tiny", "small", "full")
"""``tiny``: seconds, for CI (the offline digits, one epoch); ``small``: under 30 minutes on
2 CPU cores on a few thousand real images (the paper's dataset by its tensorflow-datasets
name, or offline an ``.npz`` or folder given with ``dataset=``); ``full``: the paper's
dataset (a tensorflow-datasets name), network and epochs, for a GPU."""

UNITS = ("%", "error %", "deg", "rad", "")
"""Units a [`PaperValue`][keras_angular.reproduce.PaperValue] may be printed in. The report shows
``rad`` in degrees beside ours (``value * 180 / pi``); ``%`` is accuracy, ``error %`` is
``100 - accuracy``."""


@dataclasses.dataclass(frozen=True)
class Run:
    """One trained configuration of an experiment: a row of its report, trained once per seed.

    Attributes:
        label: the row's name in the report and the key claims use (``"CE+AMC"``).
        method: a name in [`keras_angular.methods.METHODS`][].
        overrides: the method's hyper-parameters to change (``{"margin": 0.5}``).
        settings: [`keras_angular.training.run_method`][] keyword arguments for this run
            alone (``{"learning_rate": 0.01}``); they replace the scale's.

    Examples:
        >>> run = Run("CE+AMC", "amc", overrides={"margin": 0.5})
        >>> run.label, run.method, dict(run.overrides), dict(run.settings)
        ('CE+AMC', 'amc', {'margin': 0.5}, {})
    """

    label: str
    method: str
    overrides: Mapping = dataclasses.field(default_factory=dict)
    settings: Mapping = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Data:
    """One dataset of a scale.

    Attributes:
        source: what [`keras_angular.data.load_dataset`][] takes: a tensorflow-datasets
            name, ``"digits"``, an ``.npz`` path or a folder.
        setting: the paper's column this dataset is compared with (a
            [`PaperValue`][keras_angular.reproduce.PaperValue] ``setting``, e.g. ``"CIFAR10"``);
            None compares with no paper figure.
        train_size, test_size: keep a seeded, class-stratified subset of this many images
            (None keeps all).
        load_kwargs: more [`load_dataset`][keras_angular.data.load_dataset] arguments
            (``{"coarse_labels": True}``, ``{"test_fraction": 0.2}``).

    Examples:
        >>> data = Data("fashion_mnist", "Fashion-MNIST", train_size=6000)
        >>> data.setting, data.train_size, data.test_size
        ('Fashion-MNIST', 6000, None)
    """

    source: str
    setting: str | None = None
    train_size: int | None = None
    test_size: int | None = None
    load_kwargs: Mapping = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Scale:
    """The runs of one scale.

    Attributes:
        data: the datasets, one report section each (``--dataset`` replaces them).
        runs: the [`Run`][keras_angular.reproduce.Run] rows.
        seeds: seeds per run (0 .. seeds - 1); ``--seeds`` replaces it.
        settings: [`keras_angular.training.run_method`][] keyword arguments shared by
            every run: ``epochs`` (required), ``batch_size``, ``backbone``,
            ``backbone_kwargs``, ``learning_rate``, ``lr_schedule``, ``recipe``,
            ``augment``, ``precise_bn``, ``geometry_every``, ``figures``...
        notes: sentences for the report: how this scale departs from the paper.
        callbacks: optional ``(run, settings) -> list``: Keras callbacks for one run
            (``settings`` are its ``run_settings``),
            given to ``run_method(extra_callbacks=...)``, e.g. a one-cycle learning rate.

    Examples:
        >>> scale = Scale(data=(Data("digits"),), runs=(Run("CE", "softmax"),), seeds=1,
        ...               settings={"epochs": 1, "figures": False})
        >>> [run.label for run in scale.runs], scale.seeds, scale.settings["epochs"]
        (['CE'], 1, 1)
    """

    data: tuple
    runs: tuple
    seeds: int
    settings: Mapping
    notes: tuple = ()
    callbacks: Callable | None = None


@dataclasses.dataclass(frozen=True)
class PaperValue:
    """One number of the paper, copied as printed, with where it is.

    Attributes:
        source: table / figure and paper (``"AMC-Loss Table 1"``).
        setting: the column or dataset (``"CIFAR10"``), matched with
            [`Data.setting`][keras_angular.reproduce.Data.setting]; None where the paper does not
            name it. A report shows the values of its dataset's setting, and for a metric the paper
            gives on other datasets only, those (marked as another dataset's).
        row: the [`Run`][keras_angular.reproduce.Run] label it belongs to (``"CE+AMC"``).
        metric: the result key it compares with (``"test_accuracy_pct"``,
            ``"wc_intra_deg"``, ``"test_error_pct"``...; see
            ``keras_angular.reproduce.runner.derived_metrics``).
        value: the number as printed; sd: its SD as printed (None when not given).
        unit: one of ``UNITS`` (``"rad"`` is shown in degrees beside ours).

    Examples:
        >>> value = PaperValue(
        ...     "AMC-Loss Table 1", "CIFAR10", "CE+AMC", "test_accuracy_pct", 82.97, 0.20
        ... )
        >>> value.in_our_units()
        (82.97, 0.2)
        >>> angle = PaperValue("a table", None, "CE+AMC", "wc_intra_deg", 0.5, unit="rad")
        >>> round(angle.in_our_units()[0], 4)   # 0.5 * 180 / pi degrees
        28.6479
    """

    source: str
    setting: str | None
    row: str
    metric: str
    value: float
    sd: float | None = None
    unit: str = "%"

    def __post_init__(self):
        if self.unit not in UNITS:
            raise ValueError(f"PaperValue: unit must be one of {UNITS}, got {self.unit!r}.")

    def in_our_units(self):
        """``(value, sd)`` in the unit of our metric (degrees for ``rad``)."""
        factor = 180.0 / math.pi if self.unit == "rad" else 1.0
        sd = None if self.sd is None else self.sd * factor
        return self.value * factor, sd


@dataclasses.dataclass(frozen=True)
class Claim:
    """A direction the paper states: ``row`` has a ``higher`` (or ``lower``) ``metric``
    than ``than``.

    The verdict (``keras_angular.reproduce.runner.verdict``) compares the two rows'
    per-seed values: the effect (mean difference, signed so that > 0 is the paper's
    direction), its size against the seed-to-seed SD, and the Welch p-value.

    Attributes:
        text: the claim in one sentence, with its source.
        metric: a per-run result key (as
            [`PaperValue.metric`][keras_angular.reproduce.PaperValue.metric]).
        row, than: [`Run`][keras_angular.reproduce.Run] labels.
        direction: ``"higher"`` or ``"lower"``: how ``row`` compares with ``than``.
        source: where the paper says it (``"AMC-Loss Table 1, Sec. 4.2"``).

    Examples:
        >>> claim = Claim("CE+AMC beats CE+Eucd", "test_accuracy_pct", "CE+AMC", "CE+Eucd",
        ...               "higher", "AMC-Loss Table 1")
        >>> claim.row, claim.direction, claim.than
        ('CE+AMC', 'higher', 'CE+Eucd')
    """

    text: str
    metric: str
    row: str
    than: str
    direction: str
    source: str

    def __post_init__(self):
        if self.direction not in ("higher", "lower"):
            raise ValueError(
                f"Claim: direction must be 'higher' or 'lower', got {self.direction!r}."
            )


@dataclasses.dataclass(frozen=True)
class Experiment:
    """A paper experiment: what [`keras_angular.reproduce.run_experiment`][] runs.

    Attributes:
        name: the registry and command-line name (``"amc-table1"``).
        title: one line for the report's heading.
        paper: the paper's citation: authors, title, venue.
        scales: ``{"tiny": Scale, "small": Scale, "full": Scale}``.
        paper_values: the paper's figures ([`PaperValue`][keras_angular.reproduce.PaperValue]).
        claims: the [`Claim`][keras_angular.reproduce.Claim] list checked in the report.
        derive: optional ``(result, scale_name) -> dict``: more per-run metrics computed
            from one [`run_method`][keras_angular.training.run_method] result (its ``history``
            ...), merged into the result before the statistics (e.g. the error after
            10 epochs, read from the history).
        analyze: optional ``(context) -> list[str]``: called once per dataset after its
            runs with a ``DatasetContext``; may draw
            figures into ``context.out_dir`` and returns Markdown lines for the report.
        notes: sentences for every report of this experiment (what the package supports
            of the paper's setting and what it substitutes).
        baseline: the run label the report's p-values compare against (default: the
            scale's first run).

    A claim whose rows a scale does not train is reported as not checked at that scale.

    Examples:
        >>> scale = Scale(data=(Data("digits"),), runs=(Run("CE", "softmax"),), seeds=1,
        ...               settings={"epochs": 1})
        >>> scales = dict.fromkeys(SCALES, scale)   # the same runs at every scale
        >>> experiment = Experiment("demo", "CE on digits", "none", scales=scales)
        >>> experiment.name, sorted(experiment.scales)
        ('demo', ['full', 'small', 'tiny'])
    """

    name: str
    title: str
    paper: str
    scales: Mapping
    paper_values: tuple = ()
    claims: tuple = ()
    derive: Callable | None = None
    analyze: Callable | None = None
    notes: tuple = ()
    baseline: str | None = None

    def __post_init__(self):
        missing = [s for s in SCALES if s not in self.scales]
        if missing:
            raise ValueError(f"Experiment {self.name!r}: no Scale for {missing}.")
        for scale_name, scale in self.scales.items():
            labels = [run.label for run in scale.runs]
            if len(set(labels)) != len(labels):
                raise ValueError(f"Experiment {self.name!r}: duplicate run labels in {scale_name}.")
            if "epochs" not in scale.settings:
                raise ValueError(f"Experiment {self.name!r}: scale {scale_name} sets no epochs.")
            if self.baseline is not None and self.baseline not in labels:
                raise ValueError(
                    f"Experiment {self.name!r}: baseline {self.baseline!r} is not a run of "
                    f"scale {scale_name}."
                )


__all__ = ["SCALES", "UNITS", "Claim", "Data", "Experiment", "PaperValue", "Run", "Scale"]
