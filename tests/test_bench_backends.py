"""The head + loss benchmark on every backend (``keras-angular --backend B bench``): each
candidate's step runs, its gradient is the loss's, the largest-tensor reading finds the
literal forms' B x N x C tensor and no such tensor in the closed forms. No timing checks.
"""

import os
import sys

import keras
import numpy as np
import pytest
from backend_tools import BACKEND, to_numpy

BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")
sys.path.insert(0, BENCHMARKS)  # the benchmarks are scripts, not a package
import heads_and_losses as bench  # noqa: E402

pytestmark = pytest.mark.backends

#: B*N*C = 4608 elements: far above B*N, N*C and B*C; B = 6 > S = ceil(0.1 * 24) = 3.
TINY = (6, 32, 24)


@pytest.fixture(scope="module")
def results():
    return bench.run(
        [TINY], repeats=1, min_sample_s=0.0, memory_cap_mb=1.0, sampled=True, clock="cpu"
    )


def test_every_candidate_runs_or_says_why_not(results):
    rows = {row["method"]: row for row in results["rows"]}
    assert set(rows) == set(bench.candidate_names(sampled=True))
    for name, row in rows.items():
        if name in bench.SAMPLED_FORMS and BACKEND == "jax":
            assert row["skipped"] == bench.JAX_SAMPLED_SKIP and row["ms"] is None, name
            continue
        assert row["skipped"] is None, (name, row["skipped"])
        assert row["ms"] > 0 and row["ratio"] > 0, name
    env = results["environment"]
    assert env["backend"] == BACKEND and env["backend_version"]
    assert env["jit_compile"] is (BACKEND == "jax")  # JAX compiles every step with XLA
    assert f"heads and losses - {BACKEND} " in bench.format_markdown(results)


def test_closed_forms_never_build_the_bxnxc_tensor(results):
    rows = {row["method"]: row for row in results["rows"]}
    literal_bytes = bench.literal_bytes(TINY)
    for literal, closed in bench.LITERAL_FORMS.items():
        assert rows[literal]["largest_tensor_bytes"] == literal_bytes, rows[literal]
        assert rows[closed]["largest_tensor_bytes"] < literal_bytes / 4, rows[closed]


def test_softmax_step_gradient_is_cross_entropys():
    """The step's loss and embedding gradient against NumPy: softmax cross-entropy of
    x W + b has d/dx = (softmax - onehot) W^T / B."""
    batch, width, classes = TINY
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, width)).astype("float32")
    y = rng.integers(0, classes, size=batch)
    keras.utils.set_random_seed(0)
    head, forward = bench.build_candidate("softmax", classes)
    head.build((batch, width))
    step = bench.make_step(forward, head)
    loss, gradients = step(keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(y))
    kernel, bias = (to_numpy(v).astype(np.float64) for v in head.trainable_variables)
    logits = x @ kernel + bias
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    rows = np.arange(batch)
    assert float(to_numpy(loss)) == pytest.approx(-np.log(p[rows, y]).mean(), rel=1e-5)
    p[rows, y] -= 1.0
    np.testing.assert_allclose(to_numpy(gradients[0]), p @ kernel.T / batch, atol=1e-6)
    np.testing.assert_allclose(to_numpy(gradients[1]), x.T @ p / batch, atol=1e-6)


def test_peak_memory_is_measured_where_the_backend_can():
    """JAX: the compiled step's XLA temporaries (an int); PyTorch on the CPU: None (its
    allocator keeps no statistics); TensorFlow: tests/test_bench.py."""
    if BACKEND == "tensorflow":
        pytest.skip("tests/test_bench.py checks TensorFlow's allocator peaks")
    batch, width, classes = TINY
    x = keras.ops.zeros((batch, width))
    y = keras.ops.convert_to_tensor(np.arange(batch) % classes, dtype="int32")

    def peak_of(name):
        head, forward = bench.build_candidate(name, classes)
        head.build((batch, width))
        return bench.peak_step_memory(bench.make_step(forward, head), x, y)

    peak = peak_of("haseparator")
    if BACKEND == "jax":
        # float32 bytes: the einsum step holds its B x N x C tensor, the closed form never
        # does, and softmax holds at least its B x C logits
        literal = 4 * batch * width * classes
        softmax, einsum = peak_of("softmax"), peak_of("haseparator_einsum")
        assert all(isinstance(p, int) for p in (peak, softmax, einsum))
        assert einsum >= literal, einsum
        assert 4 * batch * classes <= softmax <= peak < literal, (softmax, peak)
    else:
        import torch

        assert (peak is None) is not torch.cuda.is_available()


def test_torch_jit_compiles_the_forward():
    """--jit on PyTorch: the loss's forward goes through torch.compile (not run here:
    compiling takes minutes)."""
    if BACKEND != "torch":
        pytest.skip("PyTorch only: TensorFlow takes --jit, JAX always compiles")
    import torch
    from head_bench import torch_steps

    compiled = []
    original = torch.compile
    torch.compile = lambda fn: compiled.append(fn) or fn
    try:
        torch_steps.make_step(lambda x, y: x, keras.layers.Dense(3), jit_compile=True)
        torch_steps.make_step(lambda x, y: x, keras.layers.Dense(3), jit_compile=False)
    finally:
        torch.compile = original
    assert len(compiled) == 1
