"""Reading examples from files: core's generic formats (CSV, TSV, JSONL) and the split names."""

from .formats import DataError, read_csv, read_jsonl, read_tsv, require_columns
from .splits import CARVED_SPLITS, SPLITS, Split, check_splits

__all__ = [
    "CARVED_SPLITS",
    "SPLITS",
    "DataError",
    "Split",
    "check_splits",
    "read_csv",
    "read_jsonl",
    "read_tsv",
    "require_columns",
]
