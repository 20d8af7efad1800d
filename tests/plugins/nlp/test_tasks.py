"""Each task end to end on small files, and the tokenization details they rely on: dynamic
padding, max_length truncation, text pairs, sub-word label alignment."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from headstart import get_registry
from headstart_nlp.ner import IGNORE, TokenClassification
from headstart_nlp.text_tasks import TextClassification

from .conftest import NEGATIVE, POSITIVE, ner_sentences, sentiment_rows, write_conll, write_rows

Runner = Callable[..., tuple[Path, dict[str, Any]]]


def _splits(tmp_path: Path, rows: Callable[[int, int], list[dict[str, Any]]], suffix: str) -> dict[str, str]:
    sizes = {"train": 48, "val": 16, "test": 24}
    return {s: str(write_rows(tmp_path / f"{s}.{suffix}", rows(n, i))) for i, (s, n) in enumerate(sizes.items())}


def test_text_classification_learns_single_texts(tmp_path: Path, tiny_bert: Path, run_nlp: Runner) -> None:
    data = _splits(tmp_path, sentiment_rows, "csv")
    run_dir, summary = run_nlp(
        {"name": f"hf:{tiny_bert}"}, {"name": "text-classification", "data": data}, epochs=10, lr=1e-2
    )
    test = summary["test"]
    assert {"accuracy", "macro-f1", "mcc"} <= set(test)
    assert test["accuracy"] >= 0.8, test  # chance: 0.5
    task = summary["task"]
    assert task["examples"] == {"train": 48, "val": 16, "test": 24} and task["labels"] == ["neg", "pos"]
    assert task["class_counts"]["train"] == {"neg": 24, "pos": 24}
    assert json.loads((run_dir / "summary.json").read_text())["source"]["model_type"] == "bert"


def _pair_rows(n: int, seed: int) -> list[dict[str, str]]:
    """Pairs whose label says whether both texts carry the same sentiment."""
    import random

    a, b = sentiment_rows(n, seed), sentiment_rows(n, seed + 100)
    random.Random(seed).shuffle(b)
    return [
        {"premise": x["text"], "hypothesis": y["text"], "label": "same" if x["label"] == y["label"] else "different"}
        for x, y in zip(a, b, strict=True)
    ]


def test_text_pair_classification_from_glue_tsv(tmp_path: Path, tiny_bert: Path, run_nlp: Runner) -> None:
    data = _splits(tmp_path, _pair_rows, "tsv")
    task = {"name": "text-classification", "data": data, "text_column": "premise", "text_pair_column": "hypothesis"}
    _, summary = run_nlp({"name": f"hf:{tiny_bert}"}, task, epochs=2)
    assert summary["task"]["pairs"] is True and -1.0 <= summary["test"]["mcc"] <= 1.0
    assert summary["epochs_run"] == 2 and summary["final"]["train_loss"] > 0
    assert summary["task"]["labels"] == ["different", "same"]


def test_pairs_are_encoded_as_two_segments(tmp_path: Path, tiny_bert: Path) -> None:
    path = write_rows(tmp_path / "train.jsonl", _pair_rows(4, 0))
    task = TextClassification(data={"train": str(path)}, text_column="premise", text_pair_column="hypothesis")
    task.prepare(get_registry().source(f"hf:{tiny_bert}"))
    batch = task.collate(task.dataset("train", train=True)[:2])
    ids, types = batch["inputs"]["input_ids"][0], batch["inputs"]["token_type_ids"][0]
    tokens = task.tokenizer.convert_ids_to_tokens(ids)
    assert tokens[0] == "[CLS]" and tokens.count("[SEP]") == 2
    first_sep = tokens.index("[SEP]")
    assert (
        types[: first_sep + 1].sum() == 0
        and types[first_sep + 1 : int(batch["inputs"]["attention_mask"][0].sum())].min() == 1
    )


def test_dynamic_padding_and_max_length_truncation(tmp_path: Path, tiny_bert: Path) -> None:
    long_text = " ".join(["good"] * 40)
    rows = [{"text": "bad", "label": "neg"}, {"text": "good film", "label": "pos"}, {"text": long_text, "label": "pos"}]
    task = TextClassification(data={"train": str(write_rows(tmp_path / "t.csv", rows))}, max_length=12)
    task.prepare(get_registry().source(f"hf:{tiny_bert}"))
    short = task.collate(task.dataset("train", train=True)[:2])["inputs"]
    assert short["input_ids"].shape == (2, 4)  # [CLS] good film [SEP]: padded to the batch's longest
    assert short["attention_mask"].tolist() == [[1, 1, 1, 0], [1, 1, 1, 1]]
    full = task.collate(task.dataset("train", train=True))["inputs"]
    assert full["input_ids"].shape == (3, 12)  # truncated at max_length
    assert task.summary()["truncated"] == {"train": 1} and task.summary()["max_length"] == 12


def _score_rows(n: int, seed: int) -> list[dict[str, Any]]:
    """Texts scored by how many positive words they hold (0 to 3)."""
    import random

    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        k = rng.randint(0, 3)
        words = rng.sample(POSITIVE, k) + rng.sample(NEGATIVE, 3 - k)
        rng.shuffle(words)
        rows.append(
            {"sentence1": " ".join(words[:2]), "sentence2": " ".join(words[2:]), "score": k + 0.5 * rng.random()}
        )
    return rows


def test_text_regression_on_pairs_from_jsonl(tmp_path: Path, tiny_bert: Path, run_nlp: Runner) -> None:
    data = _splits(tmp_path, _score_rows, "jsonl")
    task = {
        "name": "text-regression",
        "data": data,
        "text_column": "sentence1",
        "text_pair_column": "sentence2",
        "label_column": "score",
        "pooling": "mean",
    }
    _, summary = run_nlp({"name": f"hf:{tiny_bert}"}, task, epochs=6, lr=5e-3)
    assert {"pearson", "spearman", "mse"} <= set(summary["test"])
    assert summary["test"]["pearson"] > 0.8 and summary["test"]["spearman"] > 0.8, summary["test"]
    assert 1.0 < summary["task"]["target_mean"] < 3.0


def test_first_sub_token_carries_the_label(tmp_path: Path, tiny_bert: Path) -> None:
    path = write_conll(tmp_path / "train.conll", [[("Oskar", "B-PER"), ("visited", "O"), ("Zurich", "B-LOC")]])
    task = TokenClassification(data={"train": str(path)})
    task.prepare(get_registry().source(f"hf:{tiny_bert}"))
    batch = task.collate(task.dataset("train", train=True))
    tokens = task.tokenizer.convert_ids_to_tokens(batch["inputs"]["input_ids"][0])
    assert tokens[:4] == ["[CLS]", "o", "##s", "##k"]  # a word outside the vocabulary: several sub-tokens
    targets = batch["targets"][0].tolist()
    labelled = [(tok, task.labels[t]) for tok, t in zip(tokens, targets, strict=True) if t != IGNORE]
    assert labelled == [("o", "B-PER"), ("visited", "O"), ("z", "B-LOC")]
    assert targets[0] == IGNORE and targets[-1] == IGNORE  # special tokens are ignored too
    # predictions map back to words; words cut off by max_length are predicted O
    outputs = torch.zeros(*batch["targets"].shape, len(task.labels))
    outputs[..., task.labels.index("B-LOC")] = 1.0
    preds, refs = task.predictions(outputs, batch)
    assert preds == [["B-LOC", "B-LOC", "B-LOC"]] and refs == [["B-PER", "O", "B-LOC"]]
    short = TokenClassification(data={"train": str(path)}, max_length=6)
    short.prepare(get_registry().source(f"hf:{tiny_bert}"))
    batch = short.collate(short.dataset("train", train=True))
    outputs = torch.zeros(*batch["targets"].shape, len(short.labels))
    outputs[..., short.labels.index("B-PER")] = 1.0
    assert short.predictions(outputs, batch)[0] == [["B-PER", "O", "O"]]
    assert short.summary()["truncated"] == {"train": 1}


def test_token_classification_learns_entities(tmp_path: Path, tiny_bert: Path, run_nlp: Runner) -> None:
    data = {
        s: str(write_conll(tmp_path / f"{s}.conll", ner_sentences(n, i)))
        for i, (s, n) in enumerate({"train": 48, "val": 12, "test": 24}.items())
    }
    _, summary = run_nlp({"name": f"hf:{tiny_bert}"}, {"name": "token-classification", "data": data}, epochs=8, lr=1e-2)
    test = summary["test"]
    assert {"entity-f1", "entity-precision", "entity-recall"} <= set(test)
    assert test["entity-f1"] >= 0.9, test
    assert summary["task"]["labels"] == ["O", "B-LOC", "B-ORG", "I-ORG", "B-PER"]
    assert summary["monitor"] == "entity-f1"


def test_token_classification_trains_its_head_on_cached_features(
    tmp_path: Path, tiny_bert: Path, run_nlp: Runner
) -> None:
    data = {
        s: str(write_conll(tmp_path / f"{s}.conll", ner_sentences(n, i)))
        for i, (s, n) in enumerate({"train": 24, "val": 8}.items())
    }
    _, summary = run_nlp(
        {"name": f"hf:{tiny_bert}"},
        {"name": "token-classification", "data": data},
        {"name": "linear-probe"},
        epochs=2,
        feature_cache="memory",
    )
    assert summary["feature_cache"]["computed"] == 2  # train and val, once each
    assert 0.0 <= summary["final"]["val_entity-f1"] <= 1.0 and summary["final"]["train_loss"] > 0


def test_multi_class_labels_keep_the_given_order(tmp_path: Path, tiny_bert: Path, run_nlp: Runner) -> None:
    words = {"positive": POSITIVE, "negative": NEGATIVE, "place": ["paris", "london", "berlin"]}
    rows = [{"text": f"the {w} one", "label": label} for label, ws in words.items() for w in ws for _ in range(2)]
    data = {s: str(write_rows(tmp_path / f"{s}.jsonl", rows)) for s in ("train", "test")}
    order = ["place", "negative", "positive"]
    run_dir, summary = run_nlp(
        {"name": f"hf:{tiny_bert}"}, {"name": "text-classification", "data": data, "labels": order}, epochs=1
    )
    assert summary["task"]["labels"] == order
    assert summary["task"]["class_counts"]["test"] == {"place": 6, "negative": 10, "positive": 10}
    assert -1.0 <= summary["test"]["mcc"] <= 1.0 and 0.0 <= summary["test"]["macro-f1"] <= 1.0
    from safetensors.torch import load_file

    head = [
        v
        for k, v in load_file(str(run_dir / "checkpoints" / "last" / "model.safetensors")).items()
        if k.startswith("head.")
    ]
    assert any(v.shape[0] == 3 for v in head)  # three outputs
