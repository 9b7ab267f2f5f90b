"""The GPU check (``benchmarks/gpu_check.py``, not part of the package) runs on a CPU: its
``--quick`` table has every row, each with a finite figure; the table's cells read as its
header says."""

import math
import os
import sys

import numpy as np

BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")
sys.path.insert(0, BENCHMARKS)  # the benchmarks are scripts, not a package

import gpu_check  # noqa: E402

#: (part, engine, policy) of every row, in table order.
EXPECTED_ROWS = [
    ("head + loss step", engine, policy)
    for engine in ("TensorFlow", "TensorFlow + XLA", "JAX")
    for policy in ("float32", "mixed_float16")
] + [
    (f"{part} {network}", "TensorFlow", "float32")
    for part in ("epoch", "Grad-CAM")
    for network in ("small_cnn", "resnet20")
]


def _table_rows(text):
    """The header cells and the data rows (lists of cells) of the one table in ``text``."""
    lines = [line for line in text.splitlines() if line.startswith("|")]
    split = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    return split[0], split[2:]


def test_quick_run_has_every_row_with_finite_figures(tmp_path):
    # a tiny CIFAR-shaped .npz (4 classes) stands in for CIFAR-10; --methods softmax keeps
    # the run to a few seconds (the other methods' columns are the same code)
    rng = np.random.default_rng(0)
    data = tmp_path / "tiny_cifar.npz"
    images = rng.integers(0, 256, size=(40, 32, 32, 3), dtype=np.uint8)
    np.savez(data, x=images, y=np.arange(40) % 4)
    out = tmp_path / "gpu_check.md"
    argv = ["--quick", "--methods", "softmax", "--data", str(data), "--out", str(out)]
    assert gpu_check.main(argv) == 0

    text = out.read_text()
    assert text.startswith("GPU check (--quick: tiny sizes) - ")
    header, rows = _table_rows(text)
    assert header == ["part", "engine", "policy", "size", "unit", "softmax"]
    assert [tuple(row[:3]) for row in rows] == EXPECTED_ROWS
    for row in rows:
        value = float(row[5])
        assert math.isfinite(value) and value > 0, row
    assert {row[4] for row in rows} == {"ms", "s"}


def test_table_cells_give_each_figure_and_its_ratio_to_softmax():
    rows = [
        gpu_check._row(
            "epoch small_cnn", "TensorFlow", "batch 2", "s", {"softmax": 2.0, "amc": 3.0}
        ),
        gpu_check._row("Grad-CAM small_cnn", "JAX", "4 images", "s", {"softmax": 0.5}, "mixed"),
    ]
    table = gpu_check.format_table(rows, ["softmax", "amc"], "heading")
    assert table.splitlines() == [
        "heading",
        "",
        "| part | engine | policy | size | unit | softmax | amc |",
        "|---|---|---|---|---|---:|---:|",
        "| epoch small_cnn | TensorFlow | float32 | batch 2 | s | 2 | 3 (1.50x) |",
        "| Grad-CAM small_cnn | JAX | mixed | 4 images | s | 0.5 | - |",
    ]
