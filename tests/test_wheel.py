"""The package as ``pip`` installs it: the sdist and the wheel built from a copy of the source
tree, the wheel installed (``--no-deps``, beside the test environment's dependencies) into a
folder outside the checkout, and ``keras-angular`` run from there in an empty folder, so that
the checkout's editable install cannot be what answers."""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "keras_angular"
#: What the sdist adds to the package (MANIFEST.in): ``keras-angular bench`` runs these.
SDIST_EXTRAS = ("benchmarks/heads_and_losses.py", "benchmarks/head_bench/runner.py")


def _backend_here():
    """Whether this environment can build without downloading a build backend: setuptools
    61+ (pyproject.toml's requirement) and, before setuptools 70.1 took it in, ``wheel``."""
    if importlib.util.find_spec("setuptools") is None:
        return False
    import setuptools

    version = tuple(int(part) for part in setuptools.__version__.split(".")[:2])
    return version >= (61, 0) and (
        version >= (70, 1) or importlib.util.find_spec("wheel") is not None
    )


def _run(command, cwd, env=None):
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"{command}:\n{result.stdout}\n{result.stderr}"
    return result


def _source_copy(folder):
    """What a fresh clone holds for the build: the top-level files, the package and the
    benchmarks (no build/, egg-info or caches of this checkout)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    folder.mkdir()
    for path in ROOT.iterdir():
        if path.is_file():
            shutil.copy2(path, folder / path.name)
    for name in (PACKAGE, "benchmarks"):
        shutil.copytree(ROOT / name, folder / name, ignore=ignore)
    return folder


def _package_files(root):
    """The package's files under ``root`` (relative, '/'-separated), caches left out."""
    return {
        path.relative_to(root).as_posix()
        for path in (root / PACKAGE).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """``(sdist or None, wheel)``: the sdist built from a copy of the source and the wheel
    built from that sdist (as ``pip`` builds an sdist it downloads); where this environment
    lacks a build backend, the wheel straight from the copy with pip's isolated build."""
    work = tmp_path_factory.mktemp("build")
    source = _source_copy(work / "source")
    dist = work / "dist"
    wheel_command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist)]
    if not _backend_here():
        _run([*wheel_command, str(source)], cwd=work)
        return None, next(dist.glob("*.whl"))
    build_sdist = f"from setuptools import build_meta; build_meta.build_sdist({str(dist)!r})"
    _run([sys.executable, "-c", build_sdist], cwd=source)
    sdist = next(dist.glob("*.tar.gz"))
    _run([*wheel_command, "--no-build-isolation", "--no-index", str(sdist)], cwd=work)
    return sdist, next(dist.glob("*.whl"))


@pytest.fixture(scope="module")
def installed(built, tmp_path_factory):
    """``(site, env, cwd)``: the wheel installed into ``site``, the environment that puts it
    first on the path, and an empty working folder outside the checkout."""
    site = tmp_path_factory.mktemp("site")
    _run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q"]
        + ["--target", str(site), str(built[1])],
        cwd=site,
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(site),
        "KERAS_BACKEND": "tensorflow",
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    return site, env, tmp_path_factory.mktemp("cwd")


def test_the_wheel_holds_the_package_and_nothing_else(built):
    with zipfile.ZipFile(built[1]) as wheel:
        names = set(wheel.namelist())
        entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        assert "keras-angular = keras_angular.cli:main" in wheel.read(entry_points).decode()
    tops = {name.split("/")[0] for name in names}
    assert {top for top in tops if not top.endswith(".dist-info")} == {PACKAGE}
    # every file of the package - modules and any data file it reads - and no stale one
    assert {name for name in names if name.startswith(f"{PACKAGE}/")} == _package_files(ROOT)


def test_the_sdist_holds_the_benchmarks(built):
    if built[0] is None:
        pytest.skip("no setuptools 61+ (and wheel) here to build an sdist offline")
    with tarfile.open(built[0]) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    assert set(SDIST_EXTRAS) <= names
    assert _package_files(ROOT) <= names


def test_the_installed_command_runs_outside_the_checkout(installed):
    site, env, cwd = installed
    found = _run(
        [sys.executable, "-c", "import keras_angular; print(keras_angular.__file__)"], cwd, env
    )
    assert Path(found.stdout.strip()).is_relative_to(site)
    command = str(site / "bin" / "keras-angular")

    usage = _run([command, "--help"], cwd, env).stdout
    assert "{train,compare,explain,reproduce,bench}" in usage

    bench = subprocess.run(
        [command, "bench", "--quick"], cwd=cwd, env=env, capture_output=True, text=True
    )
    assert bench.returncode == 2 and bench.stdout == ""
    message = bench.stderr.strip()
    assert message.startswith("keras-angular: bench is a tool of the source checkout")
    assert "\n" not in message and "Traceback" not in message

    out = cwd / "softmax"
    argv = ["train", "--method", "softmax", "--dataset", "digits", "--epochs", "1"]
    printed = _run([command, *argv, "--no-figures", "--out", str(out)], cwd, env).stdout
    assert f"files in {out}" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0.0 <= metrics["test_accuracy"] <= 1.0
