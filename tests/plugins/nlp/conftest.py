"""Fixtures for the NLP plugin's tests: a tiny random BERT and WordPiece tokenizer saved with
``save_pretrained`` (loaded through ``hf:<dir>``, the hub's code path), data files in the formats
the tasks read, and a helper that runs a small experiment on the CPU."""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from headstart import parse_config, run_experiment
from headstart_nlp.tiny import save_tiny_encoder

POSITIVE = ["good", "great", "fine", "fun", "love"]
NEGATIVE = ["bad", "awful", "poor", "boring", "dull"]
FILLER = ["the", "movie", "film", "plot", "story", "was", "very", "it", "this", "actor"]


@pytest.fixture(autouse=True)
def _one_thread_for_tiny_models(request: pytest.FixtureRequest) -> Iterator[None]:
    """Tiny models gain nothing from intra-op threads and lose much to their synchronisation on a
    busy machine; tests marked ``slow`` (real weights) keep torch's default."""
    if request.node.get_closest_marker("slow"):
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random BERT (2 layers, hidden 16) with a WordPiece tokenizer, as a hub-format directory."""
    return save_tiny_encoder(tmp_path_factory.mktemp("models") / "tiny-bert", "bert", layers=2, hidden=16)


def sentiment_rows(n: int, seed: int = 0) -> list[dict[str, str]]:
    """Short texts with one sentiment word among fillers; label pos / neg (balanced)."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = "pos" if i % 2 == 0 else "neg"
        words = [*rng.sample(FILLER, 3), rng.choice(POSITIVE if label == "pos" else NEGATIVE)]
        rng.shuffle(words)
        rows.append({"text": " ".join(words), "label": label})
    return rows


def sentiment_files(folder: Path, sizes: dict[str, int]) -> dict[str, str]:
    """``{split: path}``: a sentiment CSV per split under ``folder`` with ``sizes[split]`` rows
    (:func:`sentiment_rows`, seeded by the split's position in ``sizes``)."""
    return {s: str(write_rows(folder / f"{s}.csv", sentiment_rows(n, i))) for i, (s, n) in enumerate(sizes.items())}


def write_rows(path: Path, rows: list[dict[str, Any]], fmt: str | None = None) -> Path:
    """``rows`` as CSV, TSV or JSONL (from the suffix, or ``fmt``)."""
    fmt = fmt or path.suffix.lstrip(".")
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        return path
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), delimiter="\t" if fmt == "tsv" else ",")
        writer.writeheader()
        writer.writerows(rows)
    return path


def ner_sentences(n: int, seed: int = 0) -> list[list[tuple[str, str]]]:
    """Sentences like "John visited Zurich" with IOB2 tags; some names are not in the tiny
    vocabulary, so they split into several sub-tokens."""
    rng = random.Random(seed)
    people, places, orgs = (
        ["John", "Mary", "Oskar", "Ingrid"],
        ["Paris", "London", "Zurich", "Oslo"],
        ["Acme", "Globex"],
    )
    out = []
    for _ in range(n):
        if rng.random() < 0.5:
            sent = [(rng.choice(people), "B-PER"), ("visited", "O"), (rng.choice(places), "B-LOC")]
        else:
            sent = [
                (rng.choice(people), "B-PER"),
                ("works", "O"),
                ("for", "O"),
                (rng.choice(orgs), "B-ORG"),
                ("Corp", "I-ORG"),
            ]
        out.append(sent)
    return out


def write_conll(path: Path, sentences: list[list[tuple[str, str]]], docstart: bool = True) -> Path:
    """CoNLL-2003 layout: ``token POS chunk NER`` per line, blank lines between sentences."""
    lines = ["-DOCSTART- -X- -X- O", ""] if docstart else []
    for sent in sentences:
        lines += [f"{tok} NNP B-NP {tag}" for tok, tag in sent] + [""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@pytest.fixture
def run_nlp(tmp_path: Path) -> Callable[..., tuple[Path, dict[str, Any]]]:
    """``run_nlp(source, task, policy=None, **trainer)``: one experiment on the CPU; returns
    ``(run_dir, summary)``."""

    def run(
        source: dict[str, Any], task: dict[str, Any], policy: dict[str, Any] | None = None, **trainer: Any
    ) -> tuple[Path, dict[str, Any]]:
        settings = {"epochs": 3, "batch_size": 8, "lr": 3e-3, "device": "cpu", "progress": False, "log_every": 1}
        config = parse_config(
            {
                "name": task["name"],
                "seed": 0,
                "output_dir": str(tmp_path / "runs"),
                "source": source,
                "task": task,
                "policy": policy or {"name": "full"},
                "trainer": {**settings, **trainer},
            }
        )
        return run_experiment(config)

    return run
