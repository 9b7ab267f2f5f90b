"""The built API reference renders its docstrings' markup: no reStructuredText left in the
HTML (a Sphinx role such as ``:class:`X``` shown as text, a literal-block ``::`` ending a
paragraph), and the cross-references between documented objects are links."""

import re

import pytest

# A role as mkdocstrings leaves it: its backticks survive, or Markdown turned them into code.
RAW_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|data|mod|attr|exc|obj|const):(?:`|<code>)")
# A paragraph (or list item, table cell) ending with reStructuredText's "::".
LITERAL_MARKER = re.compile(r"::\s*</(?:p|li|dd|td|th)>")
CODE = re.compile(r"<(pre|code)\b[^>]*>.*?</\1>", re.S)


def _api_pages(site):
    pages = sorted((site / "api").glob("*/index.html"))
    assert pages, f"no API pages under {site / 'api'}"
    return pages


def _prose(page):
    """A page's HTML with the contents of code spans and blocks emptied: markup shown
    as code on purpose is no leftover."""
    return CODE.sub(
        lambda m: f"<{m.group(1)}>" + "\n" * m.group(0).count("\n") + f"</{m.group(1)}>",
        page.read_text(),
    )


def _offenders(site, pattern):
    """``{page: [lines holding pattern]}``, the lines as the HTML has them."""
    found = {}
    for page in _api_pages(site):
        lines = page.read_text().splitlines()
        prose = _prose(page)  # the same lines, code emptied
        for match in pattern.finditer(prose):
            line = lines[prose[: match.start()].count("\n")].strip()
            found.setdefault(page.parent.name, []).append(line[:160])
    return found


def _report(found, what):
    counts = ", ".join(f"{page} {len(lines)}" for page, lines in found.items())
    examples = [f"{page}: {line}" for page, lines in found.items() for line in lines[:2]]
    total = sum(len(lines) for lines in found.values())
    return f"{total} {what} ({counts}), e.g.:\n" + "\n".join(examples)


@pytest.fixture(scope="module")
def site(docs_site):
    return docs_site


def test_api_pages_show_no_raw_sphinx_role(site):
    found = _offenders(site, RAW_ROLE)
    assert not found, _report(found, "raw roles")


def test_api_pages_leave_no_literal_block_marker(site):
    found = _offenders(site, LITERAL_MARKER)
    assert not found, _report(found, "paragraphs ending with '::'")


def test_a_cross_reference_between_pages_is_a_link(site):
    # keras_angular.losses' docstrings name the head layer the losses read
    html = (site / "api" / "losses" / "index.html").read_text()
    links = re.findall(r'<a class="autorefs autorefs-internal"[^>]*href="([^"]+)"', html)
    assert "../layers/#keras_angular.layers.CosineDense" in links, sorted(set(links))[:20]
