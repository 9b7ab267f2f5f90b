"""MkDocs hook: serve MathJax from the site itself, so the maths renders with no network.

The MathJax 3 build comes from the ``django-static-mathjax`` package on PyPI (MathJax's own
files, Apache-2.0, no dependencies), which ``pip install -e ".[docs]"`` and ``".[test]"``
install. Its ``es5/tex-mml-chtml.js`` and the files that build loads on demand (the CHTML
fonts, the TeX extensions, the accessibility menu and its speech engine) are added to the site
under ``javascripts/mathjax/``, beside MathJax's licence; ``mkdocs.yml`` loads
``javascripts/mathjax/tex-mml-chtml.js`` after its settings in ``javascripts/mathjax.js``.
"""

import importlib.util
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

SITE_FOLDER = "javascripts/mathjax"
#: What ``tex-mml-chtml.js`` loads, relative to MathJax's ``es5`` folder.
NEEDED = [
    "tex-mml-chtml.js",
    "output/chtml",
    "input/tex/extensions",
    "ui",
    "a11y",
    "sre",
]


def mathjax_root():
    """MathJax's folder in the installed ``django-static-mathjax`` (its ``es5`` and licence)."""
    spec = importlib.util.find_spec("mathjax")
    root = None
    if spec is not None and spec.origin:
        root = Path(spec.origin).parent / "static" / "mathjax"
    if root is None or not (root / "es5" / "tex-mml-chtml.js").is_file():
        raise PluginError(
            "MathJax is not installed: the docs need the django-static-mathjax package "
            '(pip install -e ".[docs]").'
        )
    return root


def mathjax_files(root):
    """``{path in the site: file on disk}`` of the MathJax build the site serves."""
    es5 = root / "es5"
    files = {f"{SITE_FOLDER}/LICENSE": root / "LICENSE"}
    for name in NEEDED:
        source = es5 / name
        paths = [source] if source.is_file() else sorted(source.rglob("*"))
        paths = [path for path in paths if path.is_file()]
        for path in paths:
            files[f"{SITE_FOLDER}/{path.relative_to(es5).as_posix()}"] = path
    return files


def on_files(files, config):
    """Add the MathJax files to the site's files (copied as they are by ``mkdocs build``)."""
    for uri, path in mathjax_files(mathjax_root()).items():
        files.append(File.generated(config, uri, abs_src_path=str(path)))
    return files
