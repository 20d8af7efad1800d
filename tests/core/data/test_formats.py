"""Core's readers: CSV / TSV / JSONL, compressed files, ``package:`` paths, errors naming file:line."""

from __future__ import annotations

import bz2
import gzip
import lzma
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from headstart import (
    DataError,
    base_suffix,
    get_registry,
    package_dir,
    read_csv,
    read_delimited,
    read_jsonl,
    read_tsv,
    resolve_path,
)

CSV = 'text,label\nfine,pos\n\n"a, quoted",neg\n'
JSONL = '{"text": "fine", "label": "pos"}\n\n{"text": "bad", "label": "neg"}\n'


@pytest.mark.parametrize(("suffix", "opener"), [(".gz", gzip.open), (".bz2", bz2.open), (".xz", lzma.open)])
def test_compressed_files_read_like_plain_ones(tmp_path: Path, suffix: str, opener: object) -> None:
    for name, content, read in (("d.csv", CSV, read_csv), ("d.jsonl", JSONL, read_jsonl)):
        plain = tmp_path / name
        plain.write_text(content, encoding="utf-8")
        packed = tmp_path / (name + suffix)
        with opener(packed, "wt", encoding="utf-8") as f:  # type: ignore[operator]
            f.write(content)
        strip = [{k: v for k, v in r.items() if k != "_where"} for r in read(plain)]
        assert [{k: v for k, v in r.items() if k != "_where"} for r in read(packed)] == strip
        assert read(packed)[-1]["_where"] == f"{packed}:{4 if name == 'd.csv' else 3}"
        assert base_suffix(packed) == Path(name).suffix


def test_csv_rows_blank_lines_bom_and_quotes(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text('\ufeff text , label\nfine,pos\n   \n"a, quoted",neg\n', encoding="utf-8")
    rows = read_csv(path)
    assert rows == [
        {"text": "fine", "label": "pos", "_where": f"{path}:2"},
        {"text": "a, quoted", "label": "neg", "_where": f"{path}:4"},
    ]
    assert get_registry().dataset_format("csv").read(path) == rows


def test_headerless_files_and_literal_quotes(tmp_path: Path) -> None:
    path = tmp_path / "cola.tsv"
    path.write_text('gj04\t1\t"never closed\n', encoding="utf-8")
    rows = read_delimited(path, "\t", literal=True, columns=["source", "label", "sentence"])
    assert rows == [{"source": "gj04", "label": "1", "sentence": '"never closed', "_where": f"{path}:1"}]
    assert read_tsv(path, columns=["a", "b", "c"])[0]["a"] == "gj04"


def test_errors_name_the_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tsv"
    bad.write_text("text\tlabel\nfine\tpos\nno label here\n", encoding="utf-8")
    with pytest.raises(DataError, match=rf"^{bad}:3: expected 2 fields \(text, label\), found 1; a tab inside"):
        read_tsv(bad)
    with pytest.raises(DataError, match=rf"^{bad}:3: expected 2 fields \(text, label\), found 1"):
        read_delimited(bad, "\t", literal=True)  # GLUE's dialect: quotes are text
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(DataError, match=r"empty\.csv: empty file, expected a header line"):
        read_csv(empty)
    with pytest.raises(DataError, match=r"missing\.csv: no such file"):
        read_csv(tmp_path / "missing.csv")
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"a": 1}\n[1, 2]\n{"a":\n', encoding="utf-8")
    with pytest.raises(DataError, match=rf"^{broken}:2: expected a JSON object, got list$"):
        read_jsonl(broken)


@pytest.fixture
def data_package(tmp_path: Path) -> Iterator[str]:
    """An installed package that ships a data file (and would fail if imported)."""
    pkg = tmp_path / "site" / "hs_data_pkg_zzz"
    (pkg / "data").mkdir(parents=True)
    (pkg / "__init__.py").write_text("raise ImportError('importing is not needed to find data')\n")
    with gzip.open(pkg / "data" / "train.csv.gz", "wt", encoding="utf-8") as f:
        f.write(CSV)
    sys.path.insert(0, str(tmp_path / "site"))
    yield "hs_data_pkg_zzz"
    sys.path.remove(str(tmp_path / "site"))


def test_package_paths(data_package: str) -> None:
    root = package_dir(data_package)
    assert root is not None and (root / "data" / "train.csv.gz").is_file()
    spec = f"package:{data_package}/data/train.csv.gz"
    assert resolve_path(spec) == root / "data" / "train.csv.gz"
    assert [r["label"] for r in read_csv(spec)] == ["pos", "neg"]
    assert package_dir("no_such_pkg_zzz") is None
    with pytest.raises(
        DataError, match=r"^package:no_such_pkg_zzz/x\.csv: Python package 'no_such_pkg_zzz' is not installed"
    ):
        read_csv("package:no_such_pkg_zzz/x.csv")
    with pytest.raises(DataError, match=rf"package:{data_package}/data/nope\.csv: no such file"):
        read_csv(f"package:{data_package}/data/nope.csv")
