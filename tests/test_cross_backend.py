"""The same model, weights and batch give the same loss and gradients on TensorFlow, JAX
and PyTorch: one SGD step of every registry method (tests/cross_backend_step.py) on each
installed backend, compared within float32 tolerance."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).with_name("cross_backend_step.py")
BACKENDS = [b for b in ("tensorflow", "jax", "torch") if importlib.util.find_spec(b)]


def _step(backend, folder):
    out = folder / f"{backend}.npz"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(out)],
        env={**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"{backend}:\n{done.stderr[-3000:]}"
    return dict(np.load(out))


@pytest.mark.skipif(len(BACKENDS) < 2, reason="needs a second Keras backend (jax or torch)")
def test_every_method_has_the_same_loss_and_gradients_on_every_backend(tmp_path):
    results = {backend: _step(backend, tmp_path) for backend in BACKENDS}
    reference = results["tensorflow"]
    assert str(reference["backend"]) == "tensorflow"
    keys = sorted(k for k in reference if k != "backend")
    assert len([k for k in keys if k.endswith("/loss")]) >= 11  # every registry method
    for backend in BACKENDS[1:]:
        other = results[backend]
        assert str(other["backend"]) == backend
        assert sorted(k for k in other if k != "backend") == keys
        for key in keys:
            # a loss is O(1); gradients of O(0.01-1): float32 agreement to ~1e-5
            np.testing.assert_allclose(
                other[key], reference[key], rtol=2e-4, atol=2e-5, err_msg=f"{backend}: {key}"
            )
            if key.endswith("/loss"):
                assert np.isfinite(reference[key]) and reference[key] > 0, key
        # the gradients are not all zero: every method moved its weights
        for name in {k.split("/")[0] for k in keys}:
            grads = [reference[k] for k in keys if k.startswith(f"{name}/grad")]
            assert sum(float(np.abs(g).sum()) for g in grads) > 1e-3, name
