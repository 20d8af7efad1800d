"""Trained NLP runs (classification, pairs, regression, NER) predict and evaluate on their own:
the model directory they were trained from and their data are moved away first."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

import headstart
from headstart import DataError

from .conftest import ner_sentences, sentiment_files, sentiment_rows, write_conll, write_rows

Run = Callable[..., tuple[Path, dict[str, Any]]]


def _hide(*paths: Path) -> None:
    for p in paths:
        shutil.rmtree(p) if p.is_dir() else p.unlink()


def test_text_classification_predicts_label_names_without_data_or_model_files(
    run_nlp: Run, tiny_bert: Path, tmp_path: Path
) -> None:
    model = tmp_path / "bert"
    shutil.copytree(tiny_bert, model)
    data = sentiment_files(tmp_path / "data", {"train": 48, "val": 12})
    held_out = write_rows(tmp_path / "held-out.csv", sentiment_rows(16, 7))
    run_dir, _ = run_nlp(
        {"name": f"hf:{model}"},
        {"name": "text-classification", "data": data, "max_length": 12},
        epochs=4,
        lr=1e-2,
    )
    _hide(tmp_path / "data", model)
    predictor = headstart.load(run_dir, device="cpu")
    assert predictor.labels == ["neg", "pos"]
    out = predictor.predict(["the movie was great", "the plot was awful"], top_k=2)
    assert [r["input"] for r in out] == ["the movie was great", "the plot was awful"]
    assert all(r["label"] in ("neg", "pos") and len(r["top_k"]) == 2 for r in out)
    assert sum(r["top_k"][i]["score"] for r in out[:1] for i in range(2)) == pytest.approx(1.0, abs=1e-5)
    # identical to the model's forward on the same tokens
    batch = predictor.task.predict_collate([predictor.task.predict_example("the movie was great")])
    with torch.no_grad():
        probs = predictor.model(batch["inputs"]).softmax(-1)[0]
    assert out[0]["score"] == pytest.approx(float(probs.max()), abs=1e-6)
    # dict rows and a DataFrame-like list of dicts; evaluation on a new labelled file
    assert predictor.predict({"text": "it was fun"})["label"] in ("neg", "pos")
    metrics = predictor.evaluate(held_out)
    assert metrics["examples"] == 16 and {"accuracy", "macro-f1", "mcc", "loss"} <= set(metrics)
    assert metrics["accuracy"] >= 0.75, metrics
    with pytest.raises(DataError, match="empty text"):
        predictor.predict(["  "])


def test_pairs_and_regression(run_nlp: Run, tiny_bert: Path, tmp_path: Path) -> None:
    rows = [{"a": r["text"], "b": "a film", "score": 4.0 if r["label"] == "pos" else 1.0} for r in sentiment_rows(24)]
    train = write_rows(tmp_path / "train.jsonl", rows)
    run_dir, summary = run_nlp(
        {"name": f"hf:{tiny_bert}", "pooling": "mean"},
        {
            "name": "text-regression",
            "data": {"train": str(train)},
            "text_column": "a",
            "text_pair_column": "b",
            "label_column": "score",
        },
        epochs=1,
    )
    _hide(train)
    predictor = headstart.load(run_dir, device="cpu")
    out = predictor.predict([("it was good", "a film"), {"a": "so dull", "b": "a film"}])
    assert all(isinstance(r["value"], float) for r in out)
    assert predictor.task.mean == pytest.approx(summary["task"]["target_mean"])
    with pytest.raises(DataError, match="text pairs"):
        predictor.predict("only one text")


def test_token_classification_predicts_entity_spans(run_nlp: Run, tiny_bert: Path, tmp_path: Path) -> None:
    train = write_conll(tmp_path / "train.conll", ner_sentences(40))
    test = write_conll(tmp_path / "test.conll", ner_sentences(10, seed=3))
    run_dir, _ = run_nlp(
        {"name": f"hf:{tiny_bert}"},
        {"name": "token-classification", "data": {"train": str(train)}},
        epochs=6,
        lr=1e-2,
    )
    _hide(train)
    predictor = headstart.load(run_dir, device="cpu")
    out = predictor.predict(["John visited Paris", ["Mary", "works", "for", "Acme", "Corp"]])
    assert out[0]["words"] == ["John", "visited", "Paris"] and len(out[0]["tags"]) == 3
    for r in out:
        for e in r["entities"]:
            assert e["text"] == " ".join(r["words"][e["start"] : e["end"]]) and e["type"] in ("PER", "LOC", "ORG")
    assert set(out[0]["tags"]) <= set(predictor.labels)
    metrics = predictor.evaluate(test)
    assert {"entity-f1", "entity-precision", "entity-recall"} <= set(metrics) and metrics["examples"] == 10


def test_cli_predicts_texts_lines_and_columns(
    run_nlp: Run, tiny_bert: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from headstart.cli import main

    train = write_rows(tmp_path / "train.csv", sentiment_rows(16))
    run_dir, _ = run_nlp(
        {"name": f"hf:{tiny_bert}"}, {"name": "text-classification", "data": {"train": str(train)}}, epochs=1
    )
    lines = tmp_path / "texts.txt"
    lines.write_text("a great film\n\nan awful plot\n", encoding="utf-8")
    table = write_rows(tmp_path / "new.jsonl", [{"text": "it was fun"}, {"text": "so dull"}])
    assert main(["predict", str(run_dir), "the movie was good", str(lines), str(table), "--device", "cpu"]) == 0
    out = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [r["input"] for r in out] == [
        "the movie was good",
        "a great film",
        "an awful plot",
        f"{table}:1",
        f"{table}:2",
    ]
    assert all(r["label"] in ("neg", "pos") for r in out)
