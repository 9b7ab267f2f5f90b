"""The head + loss benchmark (``benchmarks/heads_and_losses.py``, not part of the package)
runs end to end at tiny shapes and returns well-formed results (no timing checks)."""

import argparse
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_angular import cli

BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")
sys.path.insert(0, BENCHMARKS)  # the benchmarks are scripts, not a package
import heads_and_losses as bench  # noqa: E402

SMALL = (4, 8, 3)
TINY = (6, 32, 24)  # B*N*C = 4608 elements: far above B*N, N*C and B*C
CAP_MB = 2 * bench.literal_bytes(SMALL) / 2**20  # SMALL's literal forms run, TINY's not


@pytest.fixture(scope="module")
def results():
    policy = keras.config.dtype_policy()
    out = bench.run([SMALL, TINY], repeats=2, min_sample_s=0.0, memory_cap_mb=CAP_MB)
    assert keras.config.dtype_policy().name == policy.name
    return out


def _rows(results, shape):
    return {row["method"]: row for row in results["rows"] if tuple(row["shape"]) == shape}


def test_every_candidate_is_timed(results):
    rows = _rows(results, SMALL)
    assert set(rows) == {*bench.METHODS, *bench.LITERAL_FORMS}
    for name, row in rows.items():
        assert row["skipped"] is None, name
        assert row["ms"] > 0 and row["ms_min"] <= row["ms"], name
        assert row["samples"] == 2, name
        assert row["ratio"] > 0, name
    assert rows["softmax"]["ratio"] == pytest.approx(1.0)
    assert rows["haseparator_einsum"]["closed_form"] == "haseparator"
    assert rows["haseparator_einsum"]["ratio"] == pytest.approx(
        rows["haseparator_einsum"]["ms"] / rows["haseparator"]["ms"]
    )


#: A shape where the literal HASeparator runs in a blink yet its B x N x C float32 tensor
#: (3.3 MB) dwarfs everything the closed form holds (B x C, N x C: 26 kB, 51 kB).
PEAK_SHAPE = (64, 128, 100)


def measure_peaks(shape):
    """``bench.peak_step_memory`` of the literal HASeparator, then the closed form, then
    softmax, each on its own warmed-up step (literal first: a peak not reset between
    steps would show the literal's in the closed form's figure)."""
    batch, width, classes = shape
    rng = np.random.default_rng(0)
    x = tf.constant(rng.standard_normal((batch, width)).astype("float32"))
    y = tf.constant(rng.integers(0, classes, size=batch).astype("int32"))
    peaks = {}
    for name in ("haseparator_einsum", "haseparator", "softmax"):
        keras.utils.set_random_seed(0)
        head, forward = bench.build_candidate(name, classes)
        head.build((batch, width))
        step = bench.make_step(forward, head)
        step(x, y)
        peaks[name] = bench.peak_step_memory(step, x, y)
    return peaks


def _assert_closed_form_peak_is_small(peaks, shape):
    literal = bench.literal_bytes(shape)
    assert all(isinstance(peak, int) for peak in peaks.values()), peaks
    # the einsum step holds at least its B x N x C tensor; the closed form never does
    assert peaks["haseparator_einsum"] >= literal, peaks
    assert 0 < peaks["haseparator"] < literal / 4, peaks
    assert 0 < peaks["softmax"] <= peaks["haseparator"], peaks


def test_peak_memory_is_none_exactly_where_the_allocator_keeps_no_statistics(results):
    """TensorFlow's default CPU allocator keeps no statistics, or partial ones (it raises
    on some machines, counts only some allocations on others): every peak is None then.
    Where it keeps them (a GPU, the BFC allocator), the peaks are measured and the closed
    form's is far below the literal form's."""
    measured = [row for row in results["rows"] if row["skipped"] is None]
    if bench.memory_device() == "CPU:0" and not bench.cpu_allocator_keeps_statistics():
        assert [row["peak_bytes"] for row in measured] == [None] * len(measured)
        assert set(measure_peaks((4, 8, 3)).values()) == {None}
    else:
        for row in measured:  # a step allocates its kernel's gradient and its B x C logits
            batch, width, classes = row["shape"]
            assert row["peak_bytes"] >= 4 * classes * (width + batch), row
        for shape in {tuple(row["shape"]) for row in measured}:
            rows = _rows(results, shape)
            assert rows["softmax"]["peak_bytes"] <= rows["haseparator"]["peak_bytes"], shape
        _assert_closed_form_peak_is_small(measure_peaks(PEAK_SHAPE), PEAK_SHAPE)


def test_closed_form_peak_memory_on_the_cpu_bfc_allocator():
    """With ``TF_CPU_ALLOCATOR_USE_BFC`` (read once, when TensorFlow starts: hence a
    fresh process) the CPU allocator keeps statistics, so the peaks are real numbers
    on any machine: the literal step's is at least B*N*C*4 bytes, the closed form's
    under a quarter of that (measured 16 MB vs 0.5 MB at 64 x 128 x 100)."""
    tests = os.path.dirname(os.path.abspath(__file__))
    env = dict(
        os.environ,
        TF_CPU_ALLOCATOR_USE_BFC="true",
        CUDA_VISIBLE_DEVICES="",
        TF_CPP_MIN_LOG_LEVEL="3",
        KERAS_BACKEND="tensorflow",
        PYTHONPATH=os.pathsep.join(filter(None, [tests, os.environ.get("PYTHONPATH")])),
    )
    script = (
        "import json, test_bench; "
        f"print('PEAKS', json.dumps(test_bench.measure_peaks({PEAK_SHAPE!r})))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (line,) = [line for line in proc.stdout.splitlines() if line.startswith("PEAKS ")]
    _assert_closed_form_peak_is_small(json.loads(line[len("PEAKS ") :]), PEAK_SHAPE)


def test_closed_forms_never_build_the_bxnxc_tensor(results):
    rows = _rows(results, TINY)
    batch_width_classes = bench.literal_bytes(TINY)
    for literal, closed in bench.LITERAL_FORMS.items():
        assert rows[literal]["largest_tensor_bytes"] == batch_width_classes
        assert rows[closed]["largest_tensor_bytes"] < batch_width_classes / 4


def test_literal_forms_over_the_cap_are_skipped(results):
    for row in _rows(results, TINY).values():
        if row["method"] in bench.LITERAL_FORMS:
            assert row["skipped"].startswith("B*N*C tensor") and row["ms"] is None
            assert row["ratio"] is None
        else:
            assert row["skipped"] is None and row["ms"] > 0
    assert "| 6x32x24 | haseparator_einsum | skipped: B*N*C tensor" in bench.format_markdown(
        results
    )


def test_environment_and_markdown(results):
    env = results["environment"]
    for key in ("tensorflow", "keras", "device", "cpu_count", "load_average", "jit_compile"):
        assert key in env
    assert env["policy"] == "float32" and env["jit_compile"] is False
    text = bench.format_markdown(results)
    assert "| B x N x C | method | ms | ratio to softmax |" in text
    assert "closed-form speed-up" in text
    for shape in ("4x8x3", "6x32x24"):
        assert text.count(f"\n| {shape} |") == len(bench.METHODS) + len(bench.LITERAL_FORMS)


def test_the_largest_tensor_walk_misses_no_nested_function():
    """``largest_tensor`` walks the step graph's own operations; the only functions
    nested in any step are the label checks' assertion branches (no large tensor)."""
    x = tf.constant(np.zeros(SMALL[:2], "float32"))
    y = tf.constant(np.arange(SMALL[0]) % SMALL[2], dtype="int32")
    for name in bench.candidate_names():
        head, forward = bench.build_candidate(name, SMALL[2])
        head.build(x.shape)
        nested = bench.nested_functions(bench.make_step(forward, head), x, y)
        assert all("Assert" in function for function in nested), (name, nested)


def test_keras_angular_bench_runs_the_script(capsys):
    argv = ["bench", "--shapes", "4x8x3", "--repeats", "1", "--min-sample-ms", "0.01"]
    assert cli.main([*argv, "--methods", "arcface", "--no-literal"]) == 0
    printed = capsys.readouterr().out
    assert "| 4x8x3 | softmax |" in printed and "| 4x8x3 | arcface |" in printed
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["bench", "--help"])
    assert exit_info.value.code == 0
    assert "usage: keras-angular bench" in capsys.readouterr().out


def test_keras_angular_bench_without_a_checkout_says_where_it_lives(monkeypatch, capsys):
    missing = os.path.join(BENCHMARKS, "no_such_script.py")
    monkeypatch.setattr("keras_angular.cli.bench.BENCH_SCRIPT", missing)
    assert cli.main(["bench", "--quick"]) == 2
    assert "python benchmarks/heads_and_losses.py" in capsys.readouterr().err


def test_command_line_main_writes_json(tmp_path, capsys):
    parser = bench.add_arguments(argparse.ArgumentParser())
    path = tmp_path / "bench.json"
    args = parser.parse_args(
        [
            "--shapes",
            "4x8x3",
            "--repeats",
            "1",
            "--min-sample-ms",
            "0.01",
            "--jit",
            "--methods",
            "wsoftmax",
            "--json",
            str(path),
        ]
    )
    results = bench.main(args)
    printed = capsys.readouterr().out
    assert "| 4x8x3 | softmax |" in printed and "| 4x8x3 | wsoftmax_per_sample |" in printed
    saved = json.loads(path.read_text())
    assert saved["environment"]["jit_compile"] is True
    names = ["softmax", "wsoftmax", "wsoftmax_per_sample"]
    assert [row["method"] for row in saved["rows"]] == names
    assert [row["method"] for row in results["rows"]] == names


def test_mixed_precision_run_restores_the_policy():
    before = keras.config.dtype_policy().name
    out = bench.run(
        [SMALL],
        repeats=1,
        min_sample_s=0.0,
        mixed_precision="bfloat16",
        methods=["arcface", "amc"],
        literal=False,
    )
    assert out["environment"]["policy"] == "mixed_bfloat16"
    assert keras.config.dtype_policy().name == before
    assert [row["method"] for row in out["rows"]] == ["softmax", "arcface", "amc"]
    assert all(row["ms"] > 0 for row in out["rows"])


def test_bad_arguments():
    with pytest.raises(argparse.ArgumentTypeError, match="BxNxC"):
        bench.parse_shape("128x512")
    assert bench.parse_shape("128x512x1000") == (128, 512, 1000)
    with pytest.raises(ValueError, match="mixed_precision"):
        bench.run([SMALL], mixed_precision="float8")
    with pytest.raises(ValueError, match="repeats"):
        bench.run([SMALL], repeats=0)
    with pytest.raises(ValueError, match="unknown method"):
        bench.method_head_and_loss("softmaxx", 3)
    with pytest.raises(ValueError, match="unknown method"):
        bench.run([SMALL], methods=["arcfase"])


@pytest.mark.parametrize("literal", sorted(bench.LITERAL_FORMS))
def test_literal_candidate_computes_the_closed_candidates_loss(literal):
    """The timed pairs are the same loss with the same gradients, so the ratio is fair."""
    x = tf.constant(np.random.default_rng(0).normal(size=(6, 8)).astype("float32"))
    y = tf.constant([0, 1, 2, 3, 4, 2], dtype="int32")
    outputs = []
    for name in (literal, bench.LITERAL_FORMS[literal]):
        keras.utils.set_random_seed(0)
        head, forward = bench.build_candidate(name, 5)
        head.build(x.shape)
        loss, gradients = bench.make_step(forward, head)(x, y)
        outputs.append([loss, *gradients])
    for got, expected in zip(*outputs, strict=True):
        np.testing.assert_allclose(np.asarray(got), np.asarray(expected), rtol=1e-5, atol=1e-6)
