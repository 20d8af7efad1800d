"""``metrics.jsonl`` and ``metrics.csv``: one row per epoch, never lost.

Both files are rewritten whole and atomically (:mod:`.atomic`) with every checkpoint (after
every epoch, except between the sparser checkpoints of a head-only phase on cached features) and
when a resumed run drops the epochs it will redo, so a process killed at any instant leaves
either the previous history or the new one. Non-finite values are written as ``null``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..rundir import RunDir
from .atomic import atomic_write_csv, atomic_write_jsonl, json_safe


class MetricsLog:
    """The epoch rows of a run, kept in memory and mirrored to JSONL and CSV."""

    def __init__(self, run_dir: Path, write: bool = True) -> None:
        self.write = write  # only one process of a distributed run writes
        self.jsonl = RunDir(run_dir).metrics
        self.csv = RunDir(run_dir).metrics_csv
        self.rows: list[dict[str, Any]] = []

    def read(self) -> list[dict[str, Any]]:
        """The rows on disk (a torn last line, from a writer of an older version, is ignored)."""
        if not self.jsonl.exists():
            return []
        rows = []
        lines = [line for line in self.jsonl.read_text(encoding="utf-8").splitlines() if line.strip()]
        for n, line in enumerate(lines, 1):
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                if n == len(lines):
                    break
                raise ValueError(f"{self.jsonl}:{n}: not a JSON row; the metrics history is damaged") from None
        return rows

    def load(self, before_epoch: int) -> None:
        """Keep the rows of epochs before ``before_epoch`` (those a resumed run will not redo)."""
        self.rows = [r for r in self.read() if r.get("epoch", 0) < before_epoch]
        self._write_all()

    def append(self, row: dict[str, Any], flush: bool = True) -> None:
        """Add an epoch's row; with ``flush=False`` the files get it at the next :meth:`flush`."""
        self.rows.append(json_safe(row))
        if flush:
            self._write_all()

    def flush(self) -> None:
        """Rewrite both files with every row so far."""
        self._write_all()

    def _write_all(self) -> None:
        if not self.write:
            return
        atomic_write_jsonl(self.jsonl, self.rows)
        atomic_write_csv(self.csv, self.rows)
