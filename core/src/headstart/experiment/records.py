"""One finished run as a report reads it (the report writer and the plots share it)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class RunRecord:
    """What a report needs from one run directory."""

    run_dir: Path
    experiment: str
    policy: str
    seed: int
    budget: int | None
    metric: str
    summary: dict[str, Any]
    curve: list[dict[str, Any]] = field(default_factory=list)
    sweep: dict[str, Any] = field(default_factory=dict)  # the swept keys' values of a matrix cell
    data_seed: int | None = None  # the seed a label budget was drawn with (config.yaml's task.data_seed)

    @property
    def best(self) -> float:
        value = self.summary["best"]["value"]
        return math.nan if value is None else float(value)

    @property
    def final(self) -> float:
        value = self.summary["final"].get(f"val_{self.metric}")
        return math.nan if value is None else float(value)

    @property
    def test(self) -> float:
        value = (self.summary.get("test") or {}).get(self.metric)
        return math.nan if value is None else float(value)
