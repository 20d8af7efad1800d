"""Core's generic dataset formats, registered as a plugin."""

from __future__ import annotations

from ..interfaces import DatasetFormat
from ..plugins import hookimpl
from .formats import read_csv, read_jsonl, read_tsv


@hookimpl
def headstart_dataset_formats() -> list[DatasetFormat]:
    return [
        DatasetFormat("csv", read_csv, "comma-separated values with a header line"),
        DatasetFormat("tsv", read_tsv, "tab-separated values with a header line (GLUE style)"),
        DatasetFormat("jsonl", read_jsonl, "one JSON object per line"),
    ]
