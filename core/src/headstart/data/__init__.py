"""Reading examples from files: core's generic formats (CSV, TSV, JSONL)."""

from .formats import DataError, read_csv, read_jsonl, read_tsv, require_columns

__all__ = ["DataError", "read_csv", "read_jsonl", "read_tsv", "require_columns"]
