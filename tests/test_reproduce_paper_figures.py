"""The reproduction's paper figures and effects.

* A claim's paper effect is signed so that > 0 is the claimed direction, for ``"lower"``
  claims too (hand-worked: paper values 5.0 and 6.0, "lower" -> +1.0).
* Every number an experiment declares as the paper's (value and SD) appears as written in
  the paper's text (the papers' folder beside the repository; skipped when absent).
"""

import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from keras_angular.metrics import GEOMETRY_KEYS
from keras_angular.reproduce import EXPERIMENTS, get_experiment
from keras_angular.reproduce.base import Claim, Data, Experiment, PaperValue, Run, Scale
from keras_angular.reproduce.runner import DatasetContext, dataset_section

PAPERS = Path(__file__).resolve().parents[2] / "shared" / "papers"


def _result(m):
    """What the report reads of a run_method result, with the claim's metric ``m``."""
    geometry = dict.fromkeys(GEOMETRY_KEYS, 0.0)
    return {"m": m, "test_accuracy": 0.5, "params": 10, "train_seconds": 1.0, **geometry}


def _section(direction, ours_row, ours_than, rad=False):
    unit = "rad" if rad else "%"
    values = (
        PaperValue("T1", "X", "A", "m", 5.0, unit=unit),
        PaperValue("T1", "X", "B", "m", 6.0, unit=unit),
        PaperValue("T1", "Y", "A", "m", 1.0, unit=unit),  # another setting: not shown on X
        PaperValue("T1", "Y", "B", "m", 0.0, unit=unit),
    )
    claim = Claim("A is lower than B", "m", "A", "B", direction, "T1")
    scale = Scale(
        data=(Data("digits", setting="X"),),
        runs=(Run("A", "softmax"), Run("B", "softmax")),
        seeds=3,
        settings={"epochs": 1},
    )
    experiment = Experiment(
        "demo", "demo", "none", dict.fromkeys(("tiny", "small", "full"), scale), values, (claim,)
    )
    results = {"A": [_result(v) for v in ours_row], "B": [_result(v) for v in ours_than]}
    splits = SimpleNamespace(name="digits", x_train=np.zeros((4, 1)), x_test=np.zeros((2, 1)))
    context = DatasetContext(experiment, "tiny", scale, scale.data[0], splits, results, {}, "out")
    return dataset_section(experiment, context)["claims"][0]


@pytest.mark.parametrize("direction, sign", [("lower", 1.0), ("higher", -1.0)])
def test_paper_effect_is_signed_by_the_claims_direction(direction, sign):
    claim = _section(direction, [1.0, 1.1, 0.9], [2.0, 2.1, 1.9])
    assert [e["setting"] for e in claim["paper"]] == ["X"]
    paper = claim["paper"][0]
    assert (paper["value"], paper["reference"]) == (5.0, 6.0)
    assert paper["effect"] == pytest.approx(sign * 1.0)
    # our own effect has the same convention: A is 1.0 below B
    assert claim["effect"] == pytest.approx(sign * 1.0)


def test_paper_effect_of_radians_is_in_degrees():
    claim = _section("lower", [1.0, 1.1, 0.9], [2.0, 2.1, 1.9], rad=True)
    assert claim["paper"][0]["effect"] == pytest.approx(180.0 / np.pi)


def _numbers(text):
    return {float(token) for token in re.findall(r"\d+(?:\.\d+)?", text)}


def _squeezed(text):
    return " ".join(text.lower().split())


def _paper_text(citation):
    """The text of the paper whose title (quoted in ``citation``) opens one of PAPERS."""
    title = re.search(r'"([^"]+)"', citation)
    assert title, f"no quoted title in the citation {citation!r}"
    texts = [p.read_text(encoding="utf-8", errors="replace") for p in sorted(PAPERS.iterdir())]
    found = [t for t in texts if _squeezed(title.group(1)) in _squeezed(t[:1000])]
    assert len(found) == 1, f"{len(found)} papers in {PAPERS} open with {title.group(1)!r}"
    return found[0]


def test_every_paper_value_is_printed_in_the_paper():
    if not PAPERS.is_dir():
        pytest.skip(f"the papers' texts are not at {PAPERS}")
    checked = 0
    for name in EXPERIMENTS:
        experiment = get_experiment(name)
        if not experiment.paper_values:
            continue
        printed = _numbers(_paper_text(experiment.paper))
        for value in experiment.paper_values:
            for number in (value.value, value.sd):
                if number is not None:
                    assert float(number) in printed, (name, value)
                    checked += 1
    assert checked >= 100
