"""What ``headstart predict`` reads: the command line's inputs turned into raw inputs for a task.

* a folder: every file in it (recursively, sorted), of the task's ``input_extensions`` when it
  declares them (images, audio);
* a ``.csv`` / ``.tsv`` / ``.jsonl`` file: one input per row, a dict of its columns (paths in a
  ``path`` column are relative to the file; text tasks read their text columns);
* a ``.txt`` file, for a task without ``input_extensions`` (text): one input per non-empty line;
* any other existing file: the file itself;
* anything else: for a text task, the argument is the text; else a path (reported as missing).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ..data.formats import read_csv, read_jsonl, read_tsv

TABLES = {".csv": read_csv, ".tsv": read_tsv, ".jsonl": read_jsonl}


def _rows(path: Path) -> Iterator[dict[str, Any]]:
    for row in TABLES[path.suffix.lower()](path):
        row["_file"] = str(path)
        yield row


def expand_inputs(args: Sequence[str], extensions: Sequence[str] | None = None) -> list[Any]:
    """Raw inputs from command-line arguments (see the module docstring); ``extensions`` (with
    their dots, lower case) are the task's file types, ``None`` for a text task."""
    exts = {e.lower() for e in extensions} if extensions else None
    out: list[Any] = []
    for arg in args:
        path = Path(arg).expanduser()
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
            out.extend(str(p) for p in files if exts is None or p.suffix.lower() in exts)
        elif path.is_file() and path.suffix.lower() in TABLES:
            out.extend(_rows(path))
        elif path.is_file() and path.suffix.lower() == ".txt" and exts is None:
            lines = path.read_text(encoding="utf-8").splitlines()
            out.extend(line for line in lines if line.strip())
        elif path.is_file() or exts is not None:
            out.append(str(path))
        else:
            out.append(arg)  # a text task: the argument is the text
    return out
