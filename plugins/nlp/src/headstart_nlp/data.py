"""Reading text data: CSV / TSV / GLUE-style TSV / JSONL tables and CoNLL files.

Every example is a dict with ``_where`` = ``"file:line"`` so tasks name the file and line in
their errors. The readers are core's (``headstart.read_csv`` …): files may be compressed (``.gz``,
``.bz2``, ``.xz``), and ``package:<package>/<file>`` names a file inside an installed package.
This module adds the GLUE TSV dialect, format detection by suffix, CoNLL and carving splits.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from headstart import CARVED_SPLITS, DataError, base_suffix, open_text, read_csv, read_delimited, read_jsonl, read_tsv

#: Table formats a text task reads, and the suffixes ``format: auto`` maps to them.
TABLE_FORMATS = ("csv", "tsv", "glue-tsv", "jsonl")
_AUTO = {".csv": "csv", ".tsv": "glue-tsv", ".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl"}


def table_format(path: str | Path, fmt: str = "auto") -> str:
    """The format of ``path``: ``fmt`` itself, or from the file suffix when ``fmt`` is ``auto``."""
    if fmt != "auto":
        if fmt not in TABLE_FORMATS:
            raise ValueError(f"format {fmt!r} is not valid; valid: auto, {', '.join(TABLE_FORMATS)}")
        return fmt
    suffix = base_suffix(path)
    if suffix not in _AUTO:
        raise DataError(
            f"{path}: cannot tell the format from the suffix {suffix or '(none)'!r}; name it with "
            f"format: {' | '.join(TABLE_FORMATS)} (suffixes: {', '.join(_AUTO)})"
        )
    return _AUTO[suffix]


def read_glue_tsv(path: str | Path, columns: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """GLUE-style TSV: tab-separated, a header line (or ``columns``), quotes taken literally."""
    return read_delimited(path, "\t", literal=True, columns=columns)


def _read_jsonl(path: str | Path, columns: Sequence[str] | None = None) -> list[dict[str, Any]]:
    return read_jsonl(path)  # JSON objects name their own fields


READERS = {"csv": read_csv, "tsv": read_tsv, "glue-tsv": read_glue_tsv, "jsonl": _read_jsonl}


def read_table(path: str | Path, fmt: str = "auto", columns: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Rows of a table file in ``fmt`` (``auto``: from the suffix, compression suffix aside)."""
    rows = READERS[table_format(path, fmt)](path, columns)
    if not rows:
        raise DataError(f"{path}: no examples")
    return rows


def read_conll(path: str | Path, fields: int | None = None) -> list[dict[str, Any]]:
    """Sentences of a CoNLL-2003-style file: one token per line with whitespace-separated fields
    (``EU NNP B-NP B-ORG``), a blank line between sentences, ``-DOCSTART-`` lines skipped.

    Every token line must have the same number of fields: ``fields``, or that of the first token
    line. Each sentence is ``{"tokens": [...], "fields": [[...], ...], "lines": [...], "_where"}``.
    """
    sentences: list[dict[str, Any]] = []
    current: list[list[str]] = []
    lines: list[int] = []
    first: int | None = None

    def flush() -> None:
        if current:
            sentences.append(
                {
                    "tokens": [t[0] for t in current],
                    "fields": list(current),
                    "lines": list(lines),
                    "_where": f"{path}:{lines[0]}",
                }
            )
            current.clear()
            lines.clear()

    with open_text(path) as f:
        for i, line in enumerate(f, 1):
            text = line.rstrip("\r\n")
            parts = text.split("\t") if "\t" in text else text.split()
            parts = [p.strip() for p in parts]
            if not text.strip():
                flush()
                continue
            if parts[0] == "-DOCSTART-":
                flush()
                continue
            if fields is None:
                fields, first = len(parts), i
                if fields < 2:
                    raise DataError(f"{path}:{i}: a token line needs at least two fields (token and tag), found 1")
            if len(parts) != fields or not all(parts):
                like = f" like line {first}" if first is not None else ""
                raise DataError(
                    f"{path}:{i}: expected {fields} fields{like} (token … tag, separated by spaces or tabs), "
                    f"found {len([p for p in parts if p])}: {text.strip()!r}"
                )
            current.append(parts)
            lines.append(i)
    flush()
    if not sentences:
        raise DataError(f"{path}: no sentences (expected token lines, blank lines between sentences)")
    return sentences


def carve(rows: list[Any], sizes: dict[str, float], seed: int, where: str) -> dict[str, list[Any]]:
    """Split ``rows`` into ``train`` and the splits in ``sizes`` (a count >= 1 or a fraction < 1),
    after a shuffle seeded with ``seed``."""
    order = list(rows)
    random.Random(seed).shuffle(order)
    out: dict[str, list[Any]] = {}
    start = 0
    for split, size in sizes.items():
        if split not in CARVED_SPLITS:
            raise ValueError(f"{where}.{split}: only val and test can be carved from train")
        if size <= 0:
            raise ValueError(f"{where}.{split} = {size}: give a count >= 1 or a fraction in (0, 1)")
        n = round(size * len(rows)) if size < 1 else int(size)
        out[split] = order[start : start + n]
        start += n
    if start >= len(order):
        raise DataError(f"{where}: carving {start} examples leaves none of the {len(order)} for train")
    out["train"] = order[start:]
    return out


def _example_table(tmp_path: Path) -> Path:
    path = tmp_path / "example.tsv"
    path.write_text('sentence\tlabel\nit is "good"\t1\nbad\t0\n', encoding="utf-8")
    return path


def _example_conll(tmp_path: Path) -> Path:
    path = tmp_path / "example.conll"
    path.write_text("-DOCSTART- -X- -X- O\n\nJohn NNP B-NP B-PER\nlives VBZ B-VP O\n\nParis NNP B-NP B-LOC\n")
    return path


read_glue_tsv.contract_example = _example_table  # type: ignore[attr-defined]
read_conll.contract_example = _example_conll  # type: ignore[attr-defined]
