"""The documentation site builds with ``mkdocs build --strict``, its API reference holds every
public name, and the command-line page names every option of every subcommand."""

import argparse
import importlib
import os
import re
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("mkdocs")
pytest.importorskip("mkdocstrings")


def _inventory(path):
    """The object names of a Sphinx ``objects.inv`` (version 2: 4 header lines, then zlib)."""
    data = path.read_bytes()
    header_end = 0
    for _ in range(4):
        header_end = data.index(b"\n", header_end) + 1
    lines = zlib.decompress(data[header_end:]).decode().splitlines()
    return {line.split(" ", 1)[0] for line in lines if line.strip()}


def _public_modules():
    """``keras_angular``'s public modules: ``__all__`` minus the version string and the
    command line (whose page is docs/cli.md)."""
    import keras_angular

    return [name for name in keras_angular.__all__ if not name.startswith("_") and name != "cli"]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "-d", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=600,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    return out


def test_every_public_name_is_in_the_api_reference(site):
    names = _inventory(site / "objects.inv")
    missing = []
    for module_name in _public_modules():
        module = importlib.import_module(f"keras_angular.{module_name}")
        public = getattr(module, "__all__", None)
        if public is None:  # a package without __all__: its modules' names
            continue
        prefix = f"keras_angular.{module_name}"
        for name in public:
            if not any(entry.startswith(prefix) and entry.endswith(f".{name}") for entry in names):
                missing.append(f"{prefix}.{name}")
    assert not missing, f"not in the API reference: {missing}"


def test_api_reference_has_a_page_per_public_module():
    documented = set()
    for page in (ROOT / "docs" / "api").glob("*.md"):
        documented |= set(re.findall(r"^::: keras_angular\.(\w+)", page.read_text(), re.M))
    assert set(_public_modules()) <= documented, set(_public_modules()) - documented


def _options(parser):
    """``{subcommand: [option strings]}`` of an argparse parser."""
    result = {}
    for action in parser._actions:  # argparse keeps its subparsers here
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                result[name] = [
                    option
                    for a in sub._actions
                    for option in a.option_strings
                    if option.startswith("--") and option != "--help"
                ]
    return result


def test_cli_page_names_every_subcommand_and_option():
    from keras_angular.cli import build_parser

    page = (ROOT / "docs" / "cli.md").read_text()
    missing = [
        f"{command} {option}"
        for command, options in _options(build_parser()).items()
        for option in [command, *options]
        if f"`{option}" not in page and f"keras-angular {option}" not in page
    ]
    assert not missing, f"docs/cli.md does not describe: {missing}"
