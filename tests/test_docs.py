"""The README stays a front door (short, every link valid), and the documentation site lists
every page of docs/. `make docs` builds the site with `mkdocs build --strict`, which checks
the links inside docs/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_the_readme_is_read_in_minutes() -> None:
    assert len((REPO / "README.md").read_text().splitlines()) <= 250


@pytest.mark.parametrize("name", ["README.md", "CHANGELOG.md"])
def test_every_link_of_the_front_files_resolves(name) -> None:
    text = (REPO / name).read_text()
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        assert (REPO / target.split("#")[0]).exists(), f"{name}: {target}"


def _nav_pages(entries) -> list[str]:
    pages = []
    for entry in entries:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        pages += _nav_pages(value) if isinstance(value, list) else [value]
    return pages


def test_the_site_lists_every_page() -> None:
    # mkdocs.yml uses no custom YAML tags, so the safe loader reads it.
    config = yaml.safe_load((REPO / "mkdocs.yml").read_text())
    docs = REPO / config.get("docs_dir", "docs")
    pages = {p.relative_to(docs).as_posix() for p in docs.rglob("*.md")}
    assert sorted(pages) == sorted(_nav_pages(config["nav"]))


def test_the_readme_spotting_figures_are_the_spotting_pages() -> None:
    """The README's one table of figures is the spotting page's, which is tested against the
    metrics files (tests/test_results_pages.py)."""
    readme = (REPO / "README.md").read_text()
    page = (REPO / "docs" / "results" / "spotting.md").read_text()
    shown = {}
    for line in readme.splitlines():
        if line.startswith("| `spot."):
            cells = [c.strip() for c in line.strip("|").split("|")]
            shown[cells[0].split("`")[1]] = cells[1:]
    assert set(shown) == {"spot.corpus", "spot.corpus_200fps", "spot.tuning_corpus"}
    for line in page.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if line.startswith("| `spot.") and cells[0].strip("`") in shown:
            # The page's columns: corpus, role, videos, micro F1, macro F1, overall F1,
            # micro STRS, macro STRS, overall STRS.
            assert shown[cells[0].strip("`")] == [cells[5], cells[3], cells[8]], cells[0]
