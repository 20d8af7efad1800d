"""docs/reliability.md names a test for each promise: every named test exists in
tests/reliability/, and every test there is named in the page."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "reliability.md"
SUITE = ROOT / "tests" / "reliability"


def _tests() -> set[str]:
    found = set()
    for file in SUITE.glob("test_*.py"):
        for node in ast.parse(file.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                found.add(f"{file.name}::{node.name}")
    return found


def _named() -> set[str]:
    return set(re.findall(r"`(test_\w+\.py::test_\w+)`", PAGE.read_text(encoding="utf-8")))


def test_every_named_test_exists() -> None:
    assert _named(), "docs/reliability.md names no tests"
    missing = sorted(_named() - _tests())
    assert not missing, f"docs/reliability.md names tests that do not exist: {missing}"


def test_every_reliability_test_is_named() -> None:
    unnamed = sorted(_tests() - _named())
    assert not unnamed, f"tests/reliability has tests docs/reliability.md does not list: {unnamed}"
