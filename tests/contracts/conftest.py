"""Examples for components whose plugins do not carry their own ``contract_example``.

Every component registered in the process-wide registry is checked by this folder's tests. A
task, source provider or dataset format needs a tiny offline example to be exercised; plugins
give one with ``contract_example`` (docs/testing-plugins.md). Core's own
formats and ``run:`` provider, and the toy test plugin, are declared here instead.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from headstart.testing import TaskExample


def _toy_task(tmp_path: Path) -> TaskExample:
    return TaskExample(
        {"name": "toy:mlp", "in_features": 4, "width": 8, "depth": 2, "dropout": 0.1},
        {"synthetic": {"classes": 3, "per_class": 4, "in_features": 4}},
        [[0.0, 1.0, 2.0, 3.0], {"x0": 1.0, "x1": 0.0, "x2": 0.5, "x3": -1.0}],
    )


def _toy_sources(tmp_path: Path) -> list[dict[str, Any]]:
    return [{"name": "toy:mlp", "in_features": 4, "width": 8, "depth": 2}]


def _run_sources(tmp_path: Path) -> list[dict[str, Any]]:
    """A finished one-epoch toy run, as a ``run:`` source."""
    from headstart.testing import check_training_run

    example = _toy_task(tmp_path)
    summary = check_training_run(example.source, {"name": "vector-classification", **example.task}, tmp_path)
    return [{"name": f"run:{summary['run_dir']}"}]


def _write_rows(suffix: str) -> Callable[[Path], Path]:
    def write(tmp_path: Path) -> Path:
        rows = [{"text": "a b", "label": "x"}, {"text": "c", "label": "y"}]
        path = tmp_path / f"example.{suffix}"
        if suffix == "jsonl":
            path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        else:
            sep = "," if suffix == "csv" else "\t"
            lines = [sep.join(rows[0])] + [sep.join(r.values()) for r in rows]
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    return write


#: task name -> example (the toy plugin lives in tests/ and carries none)
TASK_EXAMPLES: dict[str, Callable[[Path], TaskExample]] = {"vector-classification": _toy_task}
#: source scheme -> source sections
SOURCE_EXAMPLES: dict[str, Callable[[Path], list[dict[str, Any]]]] = {"toy": _toy_sources, "run": _run_sources}
#: dataset format -> a file it reads
FORMAT_EXAMPLES: dict[str, Callable[[Path], Path]] = {s: _write_rows(s) for s in ("csv", "tsv", "jsonl")}


@pytest.fixture
def declared() -> dict[str, dict[str, Any]]:
    """The examples declared in this file, by kind."""
    return {"tasks": TASK_EXAMPLES, "sources": SOURCE_EXAMPLES, "formats": FORMAT_EXAMPLES}
