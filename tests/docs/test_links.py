"""Relative links in docs/*.md (and the README) point at files that exist, and docs/index.md
links every page in docs/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


def relative_links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)  # not in code blocks
    return [t for t in LINK.findall(text) if not re.match(r"[a-z]+:|#|/", t)]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_resolve(page: Path) -> None:
    broken = [t for t in relative_links(page) if not (page.parent / t.split("#")[0]).exists()]
    assert not broken, f"{page.relative_to(ROOT)} links to missing files: {broken}"


def test_index_links_every_page() -> None:
    linked = {t.split("#")[0] for t in relative_links(DOCS / "index.md")}
    missing = sorted(p.name for p in PAGES if p.name != "index.md" and p.name not in linked)
    assert not missing, f"docs/index.md does not link: {missing}"


def test_index_links_the_pages_every_reader_needs() -> None:
    linked = {t.split("#")[0] for t in relative_links(DOCS / "index.md")}
    expected = {"concepts.md", "writing-plugins.md", "testing-plugins.md", "hooks.md", "design.md"}
    expected |= {"guide-vision.md", "guide-nlp.md", "guide-speech.md", "performance.md"}
    assert expected <= linked, f"docs/index.md does not link {sorted(expected - linked)}"
