"""wsoftmax-alpha and haseparator-sweep: their analysis on hand-made numbers (the tiny runs
themselves are in test_reproduce.py, with every experiment)."""

import doctest
import importlib
import math

import pytest

from keras_angular.reproduce import haseparator_sweep as hs
from keras_angular.reproduce import wsoftmax_alpha as wa


@pytest.mark.parametrize("module", [hs.__name__, wa.__name__])
def test_docstring_examples_run(module):
    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0, result


def _runs(*rows):
    return [{"kl": kl, "emd_deg": emd, "test_accuracy_pct": acc} for kl, emd, acc in rows]


def test_top_configurations_rank_accurate_ones_by_emd_then_the_rest():
    configurations = hs._configurations(
        {
            "Softmax": _runs((1.0, 40.0, 90.0)),
            "HASeparator s=3 m=0.9": _runs((2.0, 60.0, 91.0), (2.2, 64.0, 91.0)),  # emd 62
            "HASeparator s=1 m=0.1": _runs((2.5, 70.0, 85.0)),  # highest emd, too inaccurate
            "HASeparator s=5 m=1": _runs((2.1, 50.0, 92.0)),
            "ArcFace R50 s=2 m=0.1": _runs((3.0, 55.0, 80.0)),
        }
    )
    assert set(configurations) == {
        ("HASeparator", "", 3.0, 0.9),
        ("HASeparator", "", 1.0, 0.1),
        ("HASeparator", "", 5.0, 1.0),
        ("ArcFace", "R50", 2.0, 0.1),
    }
    top = hs.top_configurations(configurations, floor=90.0)
    (first, second) = top[("HASeparator", "")]
    assert first[:2] == (3.0, 0.9) and first[3] == pytest.approx(62.0)
    assert first[2] == pytest.approx(2.1) and first[4] == pytest.approx(91.0)
    assert second[:2] == (5.0, 1.0)
    # nothing meets the floor: the best D_EM still comes first
    assert top[("ArcFace", "R50")][0][:2] == (2.0, 0.1)


def test_paper_tables_name_runs_of_the_full_grid():
    """Every Table II-III configuration is a run of the full scale (ResNet-18 rows
    unmarked, ResNet-50 rows marked R50), so the report puts the paper's numbers
    beside ours."""
    labels = {run.label for run in hs.SCALES["full"].runs}
    for value in hs.PAPER_VALUES:
        assert value.row in labels, value
    assert "HASeparator s=3 m=0.9" in labels and "HASeparator R50 s=10 m=1" in labels
    assert len(hs.SCALES["full"].runs) == 2 * (1 + 2 * 10 * 10)


def test_wsoftmax_alpha_mean_class_angle_and_runs():
    derived = wa.derive({"class_mean_angles_deg": [30.0, 50.0, math.nan]}, "small")
    assert derived == {"mean_class_angle_deg": 40.0}
    by_label = {run.label: run for run in wa.SCALES["small"].runs}
    assert by_label["Paper a=1.5"].overrides == {
        "form": "paper",
        "alpha": 1.5,
        "pretrain_epochs": 1,
    }
    assert by_label["W-Softmax M=9"].settings == {"backbone_kwargs": {"embedding_dim": 9}}
    assert "form" not in by_label["W-Softmax a=0.5"].overrides  # the registry's default form
    for claim in wa.CLAIMS:
        assert {claim.row, claim.than} <= set(by_label), claim.text
