"""``headstart export --to hf | onnx`` of NLP runs, loaded by transformers' own AutoModelFor… and
pipeline, and by onnxruntime, compared with Headstart's outputs (max abs diff <= 1e-4)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import headstart
from headstart.export import export

from .conftest import ner_sentences, sentiment_rows, write_conll, write_rows

Run = Callable[..., tuple[Path, dict[str, Any]]]
TOL = 1e-4
TEXTS = ["the movie was great", "a dull and boring plot, it was awful in every way"]


def _ours(run_dir: Path, texts: list[Any]) -> tuple[Any, torch.Tensor]:
    predictor = headstart.load(run_dir, device="cpu")
    batch = predictor.task.predict_collate([predictor.task.predict_example(t) for t in texts])
    with torch.no_grad():
        return predictor, predictor.model(batch["inputs"])


@pytest.mark.parametrize("pooling", ["cls", "mean"])
def test_text_classification_to_hf_and_a_pipeline(run_nlp: Run, tiny_bert: Path, tmp_path: Path, pooling: str) -> None:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

    train = write_rows(tmp_path / "train.csv", sentiment_rows(24))
    run_dir, _ = run_nlp(
        {"name": f"hf:{tiny_bert}", "pooling": pooling},
        {"name": "text-classification", "data": {"train": str(train)}},
        epochs=1,
    )
    folder = export(run_dir, "hf")
    model = AutoModelForSequenceClassification.from_pretrained(folder, trust_remote_code=True).eval()
    assert model.config.id2label == {0: "neg", 1: "pos"} and model.config.label2id == {"neg": 0, "pos": 1}
    tokenizer = AutoTokenizer.from_pretrained(folder)
    predictor, ours = _ours(run_dir, TEXTS)
    enc = tokenizer(TEXTS, padding=True, truncation=True, max_length=predictor.task.truncate_at, return_tensors="pt")
    with torch.no_grad():
        assert float((model(**enc).logits - ours).abs().max()) <= TOL
    classify = pipeline("text-classification", model=str(folder), trust_remote_code=True)
    got = classify(TEXTS[0])[0]
    expected = predictor.predict(TEXTS[0])
    assert got["label"] == expected["label"] and got["score"] == pytest.approx(expected["score"], abs=1e-4)


def test_regression_pairs_to_hf_give_the_prediction_as_logit(run_nlp: Run, tiny_bert: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForSequenceClassification

    rows = [{"a": r["text"], "b": "a film", "y": 4.0 if r["label"] == "pos" else 1.0} for r in sentiment_rows(16)]
    run_dir, _ = run_nlp(
        {"name": f"hf:{tiny_bert}"},
        {
            "name": "text-regression",
            "data": {"train": str(write_rows(tmp_path / "t.jsonl", rows))},
            "text_column": "a",
            "text_pair_column": "b",
            "label_column": "y",
        },
        epochs=1,
    )
    folder = export(run_dir, "hf")
    model = AutoModelForSequenceClassification.from_pretrained(folder, trust_remote_code=True).eval()
    predictor = headstart.load(run_dir, device="cpu")
    pairs = [("it was good", "a film"), ("so dull", "a film")]
    batch = predictor.task.predict_collate([predictor.task.predict_example(p) for p in pairs])
    with torch.no_grad():
        logits = model(**batch["inputs"]).logits.squeeze(-1)
    values = [r["value"] for r in predictor.predict(pairs)]
    assert np.abs(logits.numpy() - np.array(values)).max() <= TOL


def test_token_classification_to_a_standard_hf_class(run_nlp: Run, tiny_bert: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForTokenClassification, pipeline

    train = write_conll(tmp_path / "train.conll", ner_sentences(16))
    run_dir, _ = run_nlp(
        {"name": f"hf:{tiny_bert}"}, {"name": "token-classification", "data": {"train": str(train)}}, epochs=1
    )
    folder = export(run_dir, "hf")
    assert not (folder / "modeling_headstart.py").exists()  # no custom code: the standard class
    model = AutoModelForTokenClassification.from_pretrained(folder).eval()
    predictor = headstart.load(run_dir, device="cpu")
    assert list(model.config.id2label.values()) == predictor.labels
    batch = predictor.task.predict_collate(
        [predictor.task.predict_example(s) for s in ["John visited Oslo", "Mary works"]]
    )
    with torch.no_grad():
        assert float((model(**batch["inputs"]).logits - predictor.model(batch["inputs"])).abs().max()) <= TOL
    tagged = pipeline("token-classification", model=str(folder))("John visited Oslo")
    assert all(t["entity"] in predictor.labels for t in tagged)


def test_text_onnx_has_dynamic_batch_and_length(run_nlp: Run, tiny_bert: Path, tmp_path: Path) -> None:
    import onnxruntime as ort

    train = write_rows(tmp_path / "train.csv", sentiment_rows(16))
    run_dir, _ = run_nlp(
        {"name": f"hf:{tiny_bert}"}, {"name": "text-classification", "data": {"train": str(train)}}, epochs=1
    )
    folder = export(run_dir, "onnx")
    session = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    for texts in (TEXTS[:1], [*TEXTS, "three texts of yet another length here"]):
        predictor, ours = _ours(run_dir, texts)
        batch = predictor.task.predict_collate([predictor.task.predict_example(t) for t in texts])
        (got,) = session.run(None, {n: batch["inputs"][n].numpy() for n in names})
        assert np.abs(got - ours.numpy()).max() <= TOL
