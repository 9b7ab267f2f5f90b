"""Every script in examples/ runs offline in its tiny mode, and does what it says it checks."""

import runpy
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

# script -> arguments of its tiny mode
TINY = {
    "train_digits.py": ["--loss", "haseparator", "--epochs", "1"],
    "custom_backbone.py": ["--tiny", "--losses", "arc", "amc", "center"],
    "export_and_serve.py": ["--tiny"],
    "gradcam_compare.py": ["--tiny"],
    "haseparator_sweep.py": ["--tiny"],
    "wsoftmax_alpha_units.py": ["--tiny"],
}


def test_every_example_has_a_tiny_mode():
    assert {p.name for p in EXAMPLES.glob("*.py")} == set(TINY)


@pytest.mark.parametrize("script", sorted(TINY))
def test_example_runs_in_tiny_mode(script, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    module = runpy.run_path(str(EXAMPLES / script), run_name="example")
    module["main"](TINY[script])
    out = capsys.readouterr().out
    assert "accuracy" in out, out
