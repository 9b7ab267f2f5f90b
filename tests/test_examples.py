"""Every script in examples/ runs offline in its tiny mode, and does what it says it checks."""

import os
import re
import runpy
import tempfile
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
    _check_output(script, out)


ACCURACY = r"(\d+\.\d+)"
# script -> [(a line it prints, test images behind each accuracy in it; a % column: -N)]
PRINTS = {
    "train_digits.py": [(rf"haseparator: test accuracy {ACCURACY} on 360 held-out digits", 360)],
    "custom_backbone.py": [
        (rf"{loss} +test accuracy {ACCURACY}; reloaded, \+1 epoch: {ACCURACY}", 256)
        for loss in ("arc", "amc", "center")
    ],
    "export_and_serve.py": [
        (rf"arc: test accuracy {ACCURACY}", 360),
        (rf"served predictions agree with the model; accuracy on 64 test images {ACCURACY}", 64),
    ],
    "gradcam_compare.py": [
        (rf"{method}: test accuracy {ACCURACY}", 100) for method in ("softmax", "amc")
    ],
    "haseparator_sweep.py": [
        (rf"\| {method} \| 1 \| 0\.1 \| {ACCURACY} \| \d+\.\d+ \| \d+\.\d \|", -100)
        for method in ("haseparator", "arcface")
    ],
    "wsoftmax_alpha_units.py": [
        (r"--tiny: 1 epoch on 400 training images only shows that the script runs; .*", 1),
        (rf"\| softmax \| {ACCURACY} \| \d+\.\d \|", -100),
        (rf"\| wsoftmax alpha=0\.5 \| {ACCURACY} \| \d+\.\d \|", -100),
        (rf"\| 9 \| {ACCURACY} \| \d+\.\d \|", -100),
    ],
}


def _check_output(script, out):
    """Each line the script promises is printed, and each accuracy in it is a whole number
    of its test images (k / N, as printed to its digits); paths printed exist; the served
    model's outputs match the model's."""
    lines = out.splitlines()
    for pattern, images in PRINTS[script]:
        found = [re.fullmatch(pattern, line.strip()) for line in lines]
        found = [m for m in found if m]
        assert len(found) == 1, (pattern, out)
        for text in found[0].groups():
            value = float(text) / (100 if images < 0 else 1)
            digits = len(text.split(".")[1])
            whole = round(value * abs(images)) / abs(images)
            assert text == f"{whole * (100 if images < 0 else 1):.{digits}f}", (text, images)
    for line in lines:
        if line.startswith(("grid: ", "scatter: ")):
            assert os.path.isfile(line.split(": ", 1)[1]), line
        if "max |served - model| = " in line:
            assert float(line.rsplit("= ", 1)[1]) < 1e-4, line


def test_custom_backbone_removes_its_temporary_folder(tmp_path, monkeypatch, capsys):
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    module = runpy.run_path(str(EXAMPLES / "custom_backbone.py"), run_name="example")
    module["main"](["--tiny", "--losses", "arc"])
    assert "temporary folder, now removed" in capsys.readouterr().out
    assert list(temp.iterdir()) == []
