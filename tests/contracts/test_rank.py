"""``headstart rank`` over every registered task, on each task's tiny contract example.

Tasks with one target per example (image, text, audio classification; text regression; the toy
task) are ranked — sequence features pooled as the task's head pools them; per-position tasks
(token classification, CTC speech recognition) are refused with a clear error.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from headstart import get_registry
from headstart.rank import UnsupportedTaskError, rank_sources

from .test_registered import _task_example

REGISTRY = get_registry()
PER_POSITION = {"token-classification", "speech-recognition"}


@pytest.mark.parametrize("name", sorted(REGISTRY.tasks))
def test_rank_every_task(name: str, tmp_path: Path, declared: dict[str, Any]) -> None:
    example = _task_example(name, tmp_path / "data", declared)
    experiment = {
        "task": {"name": name, **example.task},
        "trainer": {"batch_size": 4, "device": "cpu", "progress": False},
    }
    if name in PER_POSITION:
        with pytest.raises(UnsupportedTaskError, match=r"not supported|per-position"):
            rank_sources(experiment, [example.source], tmp_path / "cache")
        return
    rows = rank_sources(experiment, [example.source], tmp_path / "cache")
    assert len(rows) == 1 and rows[0]["rank"] == 1
    row = rows[0]
    assert math.isfinite(row["logme"]) and row["examples"] >= 2 and row["dim"] >= 1
    assert row["target"] == ("regression" if name == "text-regression" else "classification")
    assert (row["h_score"] is None) == (name == "text-regression")
    source = REGISTRY.source(example.source_name, **example.source_options)
    if source.output_spec.kind == "sequence":
        assert row["pooling"] in ("mean", "cls", "max")
    else:
        assert row["pooling"] is None
