"""The backend-neutral tests (marked ``backends``) pass under JAX and PyTorch too.

The default run (``python -m pytest -n 2 tests``) is on TensorFlow; each test here runs
``pytest --backend <b> -m <selection> tests`` in a fresh process (Keras picks its backend
once, when it is imported), so one command covers all three backends. PyTorch runs every
marked test; JAX leaves out the cases marked ``slow_on_jax`` (it compiles each eager op
for each new shape: the whole marked set takes over ten minutes there).
"""

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent

#: The tests each backend runs.
SELECTION = {"jax": "backends and not slow_on_jax", "torch": "backends"}
#: Only a guard against a hung child: far above any honest run, even on a machine whose cores
#: are busy with other work (docs/performance.md gives the times), so load is never a failure.
TIMEOUT_S = 3000


def _tail(stdout, stderr):
    """The end of a child's output, for a failure message."""
    if isinstance(stdout, bytes):
        stdout = stdout.decode(errors="replace")
    if isinstance(stderr, bytes):
        stderr = stderr.decode(errors="replace")
    return f"{(stdout or '')[-6000:]}\n{(stderr or '')[-2000:]}"


@pytest.mark.parametrize("backend", list(SELECTION))
def test_marked_tests_pass_under(backend, request):
    if request.config.keras_backend != "tensorflow":
        pytest.skip("run from the TensorFlow run, which starts the other backends itself")
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed (`pip install -e '.[test]'` installs it)")
    # a clean environment for the child: not an xdist worker, the backend from --backend
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTEST_", "KERAS_BACKEND"))
    }
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # no -q: pyproject's addopts has one, and -qq drops the "N passed" line read below
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider"]
    command += ["--backend", backend, "-m", SELECTION[backend], str(TESTS)]
    start = time.perf_counter()
    try:
        done = subprocess.run(
            command,
            cwd=TESTS.parent,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as hung:
        pytest.fail(
            f"`{' '.join(command[1:])}` still ran on {backend} after {TIMEOUT_S} s (hung?):\n"
            + _tail(hung.stdout, hung.stderr),
            pytrace=False,
        )
    seconds = time.perf_counter() - start
    summary = (done.stdout.strip().splitlines() or [""])[-1]
    print(f"{backend}: {summary} ({seconds:.0f} s)")
    assert done.returncode == 0, (
        f"`{' '.join(command[1:])}` failed on {backend} after {seconds:.0f} s:\n"
        + _tail(done.stdout, done.stderr)
    )
    assert " passed" in summary, summary
