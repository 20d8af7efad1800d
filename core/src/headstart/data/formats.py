"""Generic tabular readers. Every example is a dict with ``_where`` = ``"file:line"``.

Files may be compressed (``.gz``, ``.bz2``, ``.xz``, by suffix), and a path of the form
``package:<package>/<file>`` names a file shipped inside an installed Python package (found
without importing the package), so an experiment can point at data that ``pip`` installed.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import importlib.util
import json
import lzma
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

PACKAGE_PREFIX = "package:"
#: Compression suffixes and how to open them (as text).
COMPRESSED: dict[str, Callable[..., Any]] = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}


class DataError(ValueError):
    """Input data that cannot be used; the message names the file (and line)."""


def package_dir(package: str) -> Path | None:
    """The directory of an installed package, found without importing it (``None`` if absent)."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def resolve_path(spec: str | Path) -> Path:
    """A data path; ``package:<package>/<relative path>`` points inside an installed package."""
    text = str(spec)
    if not text.startswith(PACKAGE_PREFIX):
        return Path(text).expanduser()
    package, _, rel = text.removeprefix(PACKAGE_PREFIX).partition("/")
    root = package_dir(package)
    if root is None:
        raise DataError(f"{text}: Python package {package!r} is not installed (pip install it, or give a file path)")
    return root / rel


def base_suffix(path: str | Path) -> str:
    """The suffix that says the format, a compression suffix aside (``d.csv.gz`` -> ``.csv``)."""
    p = Path(str(path))
    return Path(p.stem).suffix.lower() if p.suffix.lower() in COMPRESSED else p.suffix.lower()


@contextmanager
def open_text(path: str | Path) -> Iterator[IO[str]]:
    """Open a (possibly compressed, possibly ``package:``) UTF-8 text file (a BOM is skipped);
    DataError naming it when it is missing."""
    p = resolve_path(path)
    if not p.is_file():
        raise DataError(f"{path}: no such file")
    opener = COMPRESSED.get(p.suffix.lower())
    f: IO[str] = (
        opener(p, "rt", encoding="utf-8-sig", newline="") if opener else p.open(encoding="utf-8-sig", newline="")
    )
    with f:
        yield f


def read_delimited(
    path: str | Path, delimiter: str = ",", *, literal: bool = False, columns: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """Rows of a delimited file with a header line (or without one, when ``columns`` names them).
    Blank lines are skipped.

    ``literal``: quotes are ordinary characters (GLUE's TSV files are written that way)."""
    rows: list[dict[str, Any]] = []
    with open_text(path) as f:
        reader = csv.reader(f, delimiter=delimiter, quoting=csv.QUOTE_NONE if literal else csv.QUOTE_MINIMAL)
        header = [c.strip() for c in columns] if columns else None
        for record in reader:
            where = f"{path}:{reader.line_num}"
            if header is None:
                header = [c.strip() for c in record]
                if not any(header):
                    raise DataError(f"{where}: empty header line; expected column names")
                continue
            if not record or (len(record) == 1 and not record[0].strip()):
                continue  # blank line
            if len(record) != len(header):
                raise DataError(
                    f"{where}: expected {len(header)} fields ({', '.join(header)}), found {len(record)}"
                    + ("; a tab inside a text, or a quote that opens a field?" if delimiter == "\t" else "")
                )
            row: dict[str, Any] = dict(zip(header, record, strict=True))
            row["_where"] = where
            rows.append(row)
    if header is None:
        raise DataError(f"{path}: empty file, expected a header line")
    return rows


def read_csv(path: str | Path, columns: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Rows of a comma-separated file with a header line (or ``columns``), quoted fields allowed."""
    return read_delimited(path, ",", columns=columns)


def read_tsv(path: str | Path, columns: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Rows of a tab-separated file with a header line (or ``columns``), csv quoting."""
    return read_delimited(path, "\t", columns=columns)


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """One JSON object per line; blank lines are ignored."""
    rows = []
    with open_text(path) as f:
        for i, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{i}: not valid JSON ({exc.msg})") from None
            if not isinstance(obj, dict):
                raise DataError(f"{path}:{i}: expected a JSON object, got {type(obj).__name__}")
            obj["_where"] = f"{path}:{i}"
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
