"""Reproduce the papers' experiments, claim by claim: ``keras-angular reproduce``.

Each experiment is one module of this package that defines ``EXPERIMENT``, an
[`Experiment`][keras_angular.reproduce.base.Experiment]. Every such module is found and
registered in [`EXPERIMENTS`][keras_angular.reproduce.EXPERIMENTS] on import (``name -> module``):
adding an experiment is adding a file, nothing else.
[`run_experiment`][keras_angular.reproduce.run_experiment] runs one at a scale and writes
``report.md`` / ``report.json`` (the paper's figures beside ours, each claim held / did not hold /
inconclusive against the seed-to-seed spread).

Scales ([`SCALES`][keras_angular.reproduce.base.SCALES]): ``tiny`` (seconds, CI: the offline
digits, one epoch), ``small`` (under 30 minutes on 2 CPU cores on a few thousand real
images: the paper's dataset by its tensorflow-datasets name, or offline ``dataset=`` an
``.npz`` or folder), ``full`` (the paper's dataset by its tensorflow-datasets name, the
paper's network and epochs, for a GPU; logs a measured time estimate before it trains).

An experiment module, whole (``keras_angular/reproduce/my_experiment.py``):

```python
from keras_angular.reproduce.base import (
    Claim, Data, Experiment, PaperValue, Run, Scale,
)

RUNS = (Run("Soft", "softmax"), Run("Arc", "arc"))
EXPERIMENT = Experiment(
    name="my-experiment",                      # the command-line name
    title="Arc vs softmax on Fashion-MNIST",
    paper='Wu & Wang, "Angular Learning: Toward Discriminative Embedded Features"',
    scales={
        "tiny": Scale(data=(Data("digits"),), runs=RUNS, seeds=2,
                      settings={"epochs": 1, "batch_size": 64}),
        "small": Scale(data=(Data("fashion_mnist.npz", "Fashion-MNIST",
                                  train_size=6000, test_size=2000),),
                       runs=RUNS, seeds=2, settings={"epochs": 4}),
        "full": Scale(data=(Data("fashion_mnist", "Fashion-MNIST"),), runs=RUNS,
                      seeds=1, settings={"epochs": 60, "backbone": "resnet20"}),
    },
    paper_values=(                             # copied from the paper, as printed
        PaperValue("Angular Table 5", "Fashion-MNIST", "Soft", "test_error_pct", 6.30,
                   unit="error %"),
        PaperValue("Angular Table 5", "Fashion-MNIST", "Arc", "test_error_pct", 6.04,
                   unit="error %"),
    ),
    claims=(Claim("Arc errs less than softmax", "test_error_pct", "Arc", "Soft",
                  "lower", "Angular Table 5"),),
)
```

What the pieces mean:

* [`Run`][keras_angular.reproduce.base.Run]: a report row (``label``) trained with a
  registry method (``method``, ``overrides``, per-run ``settings``) once per seed.
* [`Scale`][keras_angular.reproduce.base.Scale]: the datasets, runs, seeds and the
  [`keras_angular.training.run_method`][] keyword arguments (``epochs``, ``backbone``,
  ``backbone_kwargs``, ``recipe``, ``augment``...) of one scale.
* [`PaperValue`][keras_angular.reproduce.base.PaperValue]: one of the paper's numbers, with its
  table and row; ``metric`` is a per-run result key: ``test_accuracy_pct``,
  ``test_error_pct`` (``derived_metrics``), any key
  [`run_method`][keras_angular.training.run_method] returns (``w_inter_deg``, ``c_inter_deg``,
  ``wc_intra_deg``, ``kl``, ``emd_deg``, ``homogeneity``, ``completeness``...), or one the
  experiment's ``derive`` hook adds.
* [`Claim`][keras_angular.reproduce.base.Claim]: a direction (``row`` higher / lower than
  ``than`` in ``metric``), judged by ``verdict``.
* Hooks (optional): ``derive(result, scale_name) -> dict`` adds per-run metrics (e.g. read
  from ``result["history"]``); ``analyze(context) -> [markdown lines]`` runs once per
  dataset with a ``DatasetContext`` (results and
  run folders) to draw figures and add report text.

Example:

```python
from keras_angular.reproduce import run_experiment
report = run_experiment("amc-table1", "tiny", out_dir="runs/amc-table1")
print(report["datasets"][0]["claims"][0]["verdict"])
```
"""

import importlib
import pkgutil

from keras_angular.reproduce import runner
from keras_angular.reproduce.base import (
    SCALES,
    Claim,
    Data,
    Experiment,
    PaperValue,
    Run,
    Scale,
)

_SHARED_MODULES = {"base", "runner"}


def _discover():
    found = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name in _SHARED_MODULES or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        experiment = getattr(module, "EXPERIMENT", None)
        if not isinstance(experiment, Experiment):
            continue
        if experiment.name in found:
            raise ValueError(
                f"Two experiment modules are named {experiment.name!r}: "
                f"{found[experiment.name].__name__} and {module.__name__}."
            )
        found[experiment.name] = module
    return found


EXPERIMENTS = _discover()
"""Experiment name -> its module (which defines ``EXPERIMENT``), for every module of this
package that defines one."""


def get_experiment(name):
    """The [`Experiment`][keras_angular.reproduce.base.Experiment] registered as ``name``; a
    ``ValueError`` lists the valid names.

    Examples:
        >>> print(get_experiment("amc-table1").paper)  # doctest: +NORMALIZE_WHITESPACE
        Choi, Som, Turaga, "AMC-Loss: Angular Margin Contrastive Loss for Improved
        Explainability in Image Classification", CVPR Workshops 2020
    """
    try:
        return EXPERIMENTS[name].EXPERIMENT
    except KeyError:
        raise ValueError(
            f"Unknown experiment {name!r}; choose one of: {', '.join(sorted(EXPERIMENTS))}."
        ) from None


def run_experiment(name, scale="tiny", dataset=None, seeds=None, *, out_dir, log=print, runs=None):
    """Run the experiment ``name`` at ``scale`` and write its report into ``out_dir``.

    Args:
        name: a key of [`EXPERIMENTS`][keras_angular.reproduce.EXPERIMENTS] (``"amc-table1"``,
            ``"amc-sphere"``, ``"arc-angles"``...).
        scale: ``"tiny"``, ``"small"`` or ``"full"``.
        dataset: a [`keras_angular.data.load_dataset`][] source (``.npz`` path, folder,
            tensorflow-datasets name) in place of the scale's datasets; None keeps them.
        seeds: seeds per run in place of the scale's; None keeps it.
        out_dir: runs go to ``out_dir/<dataset>/<run>/seed_<k>/``, the report to
            ``out_dir/report.md`` and ``out_dir/report.json``.
        log: where progress lines go.
        runs: only these run labels (``["CE+Eucd", "CE+AMC"]``); claims on the others are
            reported as not checked. None runs all.

    A run that finished before in ``out_dir`` with the same data and settings is read, not
    trained again: an interrupted experiment continues where it stopped.

    Returns:
        The report dict (as written to ``report.json``): per dataset the summary rows
        (mean ± SD, Welch p against the baseline run), the paper's figures beside ours
        and each claim's verdict.

    Raises:
        ValueError: unknown experiment or scale, bad ``seeds``, bad data, or run settings
            [`keras_angular.training.run_method`][] refuses (checked before training).

    Examples:
        >>> import tempfile
        >>> report = run_experiment(  # doctest: +SKIP
        ...     "arc-angles", "small", "fashion_mnist", out_dir="runs/arc-angles"
        ... )
        >>> try:   # checked before anything trains
        ...     run_experiment("amc-table1", "huge", out_dir=tempfile.mkdtemp())
        ... except ValueError as error:
        ...     print(error)
        amc-table1: unknown scale 'huge'; use one of tiny, small, full.
    """
    return runner.run_experiment(
        get_experiment(name), scale, dataset, seeds, out_dir=out_dir, log=log, runs=runs
    )


__all__ = [
    "EXPERIMENTS",
    "SCALES",
    "Claim",
    "Data",
    "Experiment",
    "PaperValue",
    "Run",
    "Scale",
    "get_experiment",
    "run_experiment",
]
