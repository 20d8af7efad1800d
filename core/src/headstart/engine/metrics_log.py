"""``metrics.jsonl`` and ``metrics.csv``: one row per epoch, rewritten on resume."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

from ..rundir import RunDir


def _clean(v: Any) -> Any:
    return None if isinstance(v, float) and math.isnan(v) else v


class MetricsLog:
    """Appends epoch rows to JSONL, and rewrites the CSV (its columns can grow) each time."""

    def __init__(self, run_dir: Path, write: bool = True) -> None:
        self.write = write  # only one process of a distributed run writes
        self.jsonl = RunDir(run_dir).metrics
        self.csv = RunDir(run_dir).metrics_csv
        self.rows: list[dict[str, Any]] = []

    def load(self, before_epoch: int) -> None:
        """Keep the rows of epochs before ``before_epoch`` (those a resumed run will not redo)."""
        rows = []
        if self.jsonl.exists():
            for line in self.jsonl.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    row = json.loads(line)
                    if row.get("epoch", 0) < before_epoch:
                        rows.append(row)
        self.rows = rows
        self._write_all()

    def append(self, row: dict[str, Any]) -> None:
        row = {k: _clean(v) for k, v in row.items()}
        self.rows.append(row)
        if not self.write:
            return
        with self.jsonl.open("a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
        self._write_csv()

    def _write_all(self) -> None:
        if not self.write:
            return
        self.jsonl.write_text("".join(json.dumps(r) + "\n" for r in self.rows), encoding="utf-8")
        self._write_csv()

    def _write_csv(self) -> None:
        columns: list[str] = []
        for r in self.rows:
            columns.extend(k for k in r if k not in columns)
        with self.csv.open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=columns)
            writer.writeheader()
            writer.writerows(self.rows)
