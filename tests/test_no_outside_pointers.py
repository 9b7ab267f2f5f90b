"""Nothing a user gets points outside the repository: the package, the README, the docs and the
examples never name the developers' design notes or a path into the folder beside the checkout
(which an installed package does not have). Papers are cited by authors, title and venue."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PLACES = ("keras_angular", "README.md", "docs", "examples")
FORBIDDEN = ("DESIGN.md", "../shared", "shared/papers", "shared/data")
TEXT_SUFFIXES = {".py", ".md", ".txt", ".yml", ".yaml", ".toml", ".cfg", ".json", ".js", ".css"}


def _text_files():
    for place in PLACES:
        path = ROOT / place
        if path.is_file():
            yield path
            continue
        for file in sorted(path.rglob("*")):
            if file.is_file() and file.suffix in TEXT_SUFFIXES and "__pycache__" not in file.parts:
                yield file


@pytest.mark.parametrize("forbidden", FORBIDDEN)
def test_no_file_points_outside_the_repository(forbidden):
    hits = [
        f"{file.relative_to(ROOT)}:{number}: {line.strip()}"
        for file in _text_files()
        for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1)
        if forbidden in line
    ]
    assert not hits, f"{forbidden!r} found in:\n" + "\n".join(hits)


def test_the_search_reads_every_place():
    files = {file.relative_to(ROOT).parts[0] for file in _text_files()}
    assert files == set(PLACES), set(PLACES) - files
