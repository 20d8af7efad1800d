"""Atomic file writes: every file Headstart rewrites goes through here.

A file is written under a temporary name in the same directory (``.<name>.tmp-<pid>``), flushed
and ``fsync``-ed, renamed over the target with ``os.replace`` (atomic on POSIX), and the
directory is ``fsync``-ed so the rename itself survives a power cut. A reader, or a process
killed at any instant, sees either the whole old file or the whole new one — never a mix.

JSON is written strictly: ``NaN`` and infinities become ``null`` (the JSON standard has no
``NaN``; ``json.dumps`` would otherwise write a bare ``NaN`` that other tools refuse).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

TEMP_MARK = ".tmp-"


def fsync_dir(path: Path) -> None:
    """Make a rename or a new entry in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    with path.open("rb") as f:
        os.fsync(f.fileno())


def temp_name(path: Path) -> Path:
    """The temporary sibling ``path`` is written under before the rename."""
    return path.with_name(f".{path.name}{TEMP_MARK}{os.getpid()}")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically; on any error the temporary file is removed."""
    path = Path(path)
    tmp = temp_name(path)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError) and not exc.filename:  # name what could not be written
            raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from exc
        raise
    fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def json_safe(obj: Any) -> Any:
    """``obj`` with every non-finite float replaced by ``None`` (and tuples as lists)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    return obj


def dumps(obj: Any, indent: int | None = None) -> str:
    """Strict JSON (never a bare ``NaN``); objects JSON does not know are written with ``str``."""
    return json.dumps(json_safe(obj), indent=indent, default=str, allow_nan=False)


def atomic_write_json(path: Path, obj: Any, indent: int | None = 2) -> None:
    atomic_write_text(path, dumps(obj, indent) + "\n")


def atomic_write_jsonl(path: Path, rows: Iterable[Any]) -> None:
    atomic_write_text(path, "".join(dumps(r) + "\n" for r in rows))


def atomic_write_csv(path: Path, rows: list[dict[str, Any]], columns: list[str] | None = None) -> None:
    """Rows as CSV with a header (columns: every key in order of first appearance)."""
    if columns is None:
        columns = []
        for r in rows:
            columns.extend(k for k in r if k not in columns)
    buf = io.StringIO(newline="")
    writer = csv.DictWriter(buf, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buf.getvalue())


def remove_stale_temps(directory: Path) -> list[Path]:
    """Remove temporary files left in ``directory`` by writers that were killed; returns them.

    Only call this while holding the directory's run lock: a live writer's temporary file would
    otherwise be removed under it.
    """
    removed = []
    with contextlib.suppress(FileNotFoundError):
        for p in Path(directory).iterdir():
            if p.name.startswith(".") and TEMP_MARK in p.name and not p.is_dir():
                with contextlib.suppress(OSError):
                    p.unlink()
                    removed.append(p)
    return removed


@contextlib.contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """Write to the yielded temporary path; on success it replaces ``path`` atomically."""
    path = Path(path)
    tmp = temp_name(path)
    try:
        yield tmp
        fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(path.parent)
