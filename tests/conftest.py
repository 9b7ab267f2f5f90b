"""Shared pytest fixtures for the keras_angular tests, and the Keras backend they run on.

``--backend tensorflow|jax|torch`` picks the backend (default: ``KERAS_BACKEND`` when it
names one of them, else ``tensorflow``); it is written to ``KERAS_BACKEND`` before any
test module imports Keras, which reads it once. Under JAX and PyTorch only the tests
marked ``backends`` (backend-neutral: tests/backend_tools.py holds what differs) run;
the others are TensorFlow's (``tf.data``, ``tf.distribute``, SavedModel, XLA) and are
skipped there with that reason. ``tests/test_backends.py`` runs the marked tests under
JAX and PyTorch from the default TensorFlow run, so one ``pytest`` covers all three.
"""

import os
import sys

import numpy as np
import pytest

BACKENDS = ("tensorflow", "jax", "torch")

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def pytest_addoption(parser):
    parser.addoption(
        "--backend",
        choices=BACKENDS,
        default=None,
        help="Keras backend to run the tests on (default: KERAS_BACKEND if it names one "
        "of these, else tensorflow). Under jax and torch only the tests marked "
        "`backends` run.",
    )


def selected_backend(config):
    chosen = config.getoption("--backend")
    if chosen is None:
        chosen = os.environ.get("KERAS_BACKEND")
    return chosen if chosen in BACKENDS else "tensorflow"


def pytest_configure(config):
    backend = selected_backend(config)
    if "keras" in sys.modules and sys.modules["keras"].backend.backend() != backend:
        raise pytest.UsageError(
            f"Keras was imported on {sys.modules['keras'].backend.backend()!r} before "
            f"--backend {backend} could take effect."
        )
    os.environ["KERAS_BACKEND"] = backend
    if backend == "jax" and "jax" not in sys.modules:
        # JAX runs the tests' ops eagerly, compiling each op for each new shape: LLVM's
        # optimisations (backend level 0) take 2.3x the time of the ops they speed up
        # (measured: three backbone tests, 49 s -> 21 s).
        flags = os.environ.get("XLA_FLAGS", "")
        if "xla_backend_optimization_level" not in flags:
            os.environ["XLA_FLAGS"] = f"{flags} --xla_backend_optimization_level=0".strip()
    config.keras_backend = backend


def pytest_report_header(config):
    return f"keras backend: {config.keras_backend}"


def pytest_collection_modifyitems(config, items):
    backend = config.keras_backend
    if backend == "tensorflow":
        return
    skip = pytest.mark.skip(
        reason=f"TensorFlow-only (not marked `backends`): run it with --backend tensorflow, "
        f"not {backend}"
    )
    for item in items:
        if item.get_closest_marker("backends") is None:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _seed():
    """Every test starts from the same NumPy / Python / backend seeds."""
    import keras

    keras.utils.set_random_seed(1234)
    yield


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def digits():
    """sklearn's bundled 8x8 digits: (1797, 64) float32 in [0, 1] and int32 labels."""
    from sklearn.datasets import load_digits

    data = load_digits()
    x = (data.data / 16.0).astype(np.float32)
    y = data.target.astype(np.int32)
    return x, y


@pytest.fixture(scope="session")
def digit_splits():
    """``load_dataset("digits")``: the package's splits of the digits (read, never changed)."""
    from keras_angular.data import load_dataset

    return load_dataset("digits")


@pytest.fixture(scope="session")
def docs_site(tmp_path_factory):
    """The documentation site, built once per test session with ``mkdocs build --strict``
    (a broken cross-reference fails it); the folder of the built HTML."""
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    import subprocess
    from pathlib import Path

    out = tmp_path_factory.mktemp("docs_site")
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "-d", str(out)],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=600,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    return out
