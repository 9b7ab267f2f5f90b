"""The documentation site builds with ``mkdocs build --strict``, its API reference holds every
public name, and the command-line page names every option of every subcommand."""

import argparse
import importlib
import re
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


@pytest.fixture
def site(docs_site):
    """The strict build of the site, shared with the other docs tests (tests/conftest.py)."""
    return docs_site


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


def _pages(site):
    return sorted(site.rglob("*.html"))


def test_the_site_loads_no_script_or_stylesheet_from_the_network(site):
    remote = []
    for page in _pages(site):
        html = page.read_text()
        for tag in re.findall(r"<(?:script|link)\b[^>]*>", html):
            if re.search(r'\b(?:src|href)="(?:https?:)?//', tag) and (
                "<script" in tag or re.search(r'rel="(?:stylesheet|preload|modulepreload)"', tag)
            ):
                remote.append(f"{page.relative_to(site)}: {tag}")
    assert not remote, "\n".join(remote[:10])


def test_the_maths_pages_load_mathjax_from_the_site_itself(site):
    page = site / "methods" / "amc" / "index.html"
    html = page.read_text()
    assert 'class="arithmatex"' in html  # the page has maths for MathJax to render
    scripts = re.findall(r'<script\b[^>]*\bsrc="([^"]+)"', html)
    mathjax = [s for s in scripts if "mathjax" in s.lower() and s.endswith("tex-mml-chtml.js")]
    assert mathjax, scripts
    script = (page.parent / mathjax[0]).resolve()
    assert script.is_file() and script.stat().st_size > 500_000  # the MathJax build itself
    # The CHTML output's fonts, which the build fetches from its own folder.
    fonts = script.parent / "output" / "chtml" / "fonts" / "woff-v2"
    assert len(list(fonts.glob("*.woff"))) >= 20
    # Its settings load before it.
    settings = [s for s in scripts if s.endswith("javascripts/mathjax.js")]
    assert settings and scripts.index(settings[0]) < scripts.index(mathjax[0])


def test_wide_display_equations_scroll_instead_of_being_cut(site):
    css = "".join(
        (site / href).read_text()
        for href in re.findall(
            r'<link\b[^>]*rel="stylesheet"[^>]*href="\.\./\.\./([^"]+)"',
            (site / "methods" / "amc" / "index.html").read_text(),
        )
    )
    assert re.search(r"div\.arithmatex\s*\{[^}]*overflow-x:\s*auto", css)


def _first_python_block(path):
    return re.search(r"```python\n(.*?)```", path.read_text(), re.S).group(1)


def test_readme_and_getting_started_show_the_same_first_model_and_it_reports_accuracy():
    readme = _first_python_block(ROOT / "README.md")
    assert readme == _first_python_block(ROOT / "docs" / "getting-started.md")
    code = [line for line in readme.splitlines() if line.strip()]
    assert len(code) == 10, code
    # Run it on a small random batch, one epoch: evaluate gives the loss and the accuracy.
    np = pytest.importorskip("numpy")
    rng = np.random.default_rng(0)
    x_train = rng.random((16, 28, 28, 1), dtype=np.float32)
    y_train = np.arange(16) % 10
    namespace = {"x_train": x_train, "y_train": y_train}
    exec(readme.replace("epochs=10", "epochs=1, verbose=0"), namespace)
    model = namespace["model"]
    loss, accuracy = model.evaluate(x_train, y_train, verbose=0)
    predicted = np.argmax(model.predict(x_train, verbose=0), axis=-1)
    assert accuracy == pytest.approx(np.mean(predicted == y_train))
