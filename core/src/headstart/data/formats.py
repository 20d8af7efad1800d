"""Generic tabular readers. Every example is a dict with ``_where`` = ``"file:line"``."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any


class DataError(ValueError):
    """Input data that cannot be used; the message names the file (and line)."""


def _open(path: str | Path) -> Path:
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: no such file")
    return p


def _read_delimited(path: str | Path, delimiter: str) -> list[dict[str, Any]]:
    p = _open(path)
    rows: list[dict[str, Any]] = []
    with p.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f, delimiter=delimiter)
        if not reader.fieldnames:
            raise DataError(f"{p}: empty file, expected a header line")
        header = [h.strip() for h in reader.fieldnames]
        reader.fieldnames = header
        for row in reader:
            where = f"{p}:{reader.line_num}"
            if None in row or any(v is None for v in row.values()):
                raise DataError(f"{where}: expected {len(header)} fields ({', '.join(header)})")
            row["_where"] = where
            rows.append(row)
    return rows


def read_csv(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a comma-separated file with a header line."""
    return _read_delimited(path, ",")


def read_tsv(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a tab-separated file with a header line (GLUE style)."""
    return _read_delimited(path, "\t")


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """One JSON object per line; blank lines are ignored."""
    p = _open(path)
    rows = []
    with p.open(encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{p}:{i}: not valid JSON ({exc.msg})") from None
            if not isinstance(obj, dict):
                raise DataError(f"{p}:{i}: expected a JSON object, got {type(obj).__name__}")
            obj["_where"] = f"{p}:{i}"
            rows.append(obj)
    return rows


def require_columns(rows: Iterable[dict[str, Any]], columns: Sequence[str], path: str | Path) -> None:
    """Raise DataError naming the file and the missing column(s) and the columns present."""
    rows = list(rows)
    if not rows:
        raise DataError(f"{path}: no examples")
    present = [k for k in rows[0] if k != "_where"]
    missing = [c for c in columns if c not in present]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}; columns present: {', '.join(present)}")
