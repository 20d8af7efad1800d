"""Reading examples from files: core's generic formats (CSV, TSV, JSONL) and the split names."""

from .budget import sample_per_class
from .formats import (
    DataError,
    base_suffix,
    open_text,
    package_dir,
    read_csv,
    read_delimited,
    read_jsonl,
    read_tsv,
    require_columns,
    resolve_path,
)
from .splits import CARVED_SPLITS, SPLITS, Split, check_splits

__all__ = [
    "CARVED_SPLITS",
    "SPLITS",
    "DataError",
    "Split",
    "base_suffix",
    "check_splits",
    "open_text",
    "package_dir",
    "read_csv",
    "read_delimited",
    "read_jsonl",
    "read_tsv",
    "require_columns",
    "resolve_path",
    "sample_per_class",
]
