"""Text tasks tokenize once: the cached, padded batch equals tokenizing the batch directly, and a
different tokenizer or truncation length never reads stale ids."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from headstart import get_registry
from headstart_nlp.text_tasks import TextClassification
from headstart_nlp.tokens import pad_batch

from .conftest import sentiment_rows, write_rows


def _direct(task: TextClassification, examples: list, pairs: bool) -> dict[str, torch.Tensor]:  # type: ignore[type-arg]
    texts = [e[0] for e in examples]
    second = [e[1] or "" for e in examples] if pairs else None
    enc = task.tokenizer(texts, second, padding=True, truncation=True, max_length=task.truncate_at, return_tensors="pt")
    return dict(enc)


@pytest.mark.parametrize("pairs", [False, True])
def test_cached_batches_equal_direct_tokenization(tmp_path: Path, tiny_bert: Path, pairs: bool) -> None:
    rows = sentiment_rows(12)
    rows[3]["text"] = " ".join(["good"] * 40)  # truncated at max_length
    if pairs:
        rows = [{**r, "other": rows[-1 - i]["text"]} for i, r in enumerate(rows)]
    task = TextClassification(
        data={"train": str(write_rows(tmp_path / "t.csv", rows))},
        max_length=12,
        text_pair_column="other" if pairs else None,
    )
    task.prepare(get_registry().source(f"hf:{tiny_bert}"))
    examples = task.dataset("train", train=True)
    assert len(task._tokens) == len({(e[0], e[1]) for e in examples})  # filled when the data was read
    for batch in (examples[:5], examples[2:9], [examples[3]]):
        ours, direct = task.collate(batch)["inputs"], _direct(task, batch, pairs)
        assert ours.keys() == direct.keys()
        for key in direct:
            assert torch.equal(ours[key], direct[key]), key
    assert task.collate(examples[:5])["inputs"]["input_ids"].shape[1] <= 12


def test_collate_does_not_tokenize_cached_examples_again(tmp_path: Path, tiny_bert: Path) -> None:
    task = TextClassification(data={"train": str(write_rows(tmp_path / "t.csv", sentiment_rows(8)))})
    task.prepare(get_registry().source(f"hf:{tiny_bert}"))
    calls = []
    real = task.tokenizer

    class Counting:
        def __getattr__(self, name: str) -> object:
            return getattr(real, name)

        def __call__(self, *a: object, **k: object) -> object:
            calls.append(a)
            return real(*a, **k)

    task.tokenizer = task._tokens.tokenizer = Counting()
    task.collate(task.dataset("train", train=True)[:4])
    assert calls == []
    task.collate([("a text never seen", None, 0)])  # not cached: tokenized for this batch
    assert len(calls) == 1


def test_another_tokenizer_or_length_starts_a_fresh_cache(tmp_path: Path, tiny_bert: Path) -> None:
    task = TextClassification(data={"train": str(write_rows(tmp_path / "t.csv", sentiment_rows(8)))}, max_length=32)
    task.prepare(get_registry().source(f"hf:{tiny_bert}"))
    example = task.dataset("train", train=True)[0]
    task._tokens.rows[(example[0], example[1])] = {"input_ids": [1, 2, 3], "attention_mask": [1, 1, 1]}  # stale
    task.truncate_at = 31  # a different truncation length: the cache is not used
    assert torch.equal(task.collate([example])["inputs"]["input_ids"], _direct(task, [example], False)["input_ids"])
    assert len(task._tokens) == 0


def test_pad_batch_pads_left_when_the_tokenizer_does(tiny_bert: Path) -> None:
    tokenizer = get_registry().source(f"hf:{tiny_bert}").preprocessor
    tokenizer.padding_side = "left"
    rows = [dict(tokenizer("good film")), dict(tokenizer("bad"))]
    ours = pad_batch(tokenizer, [{k: list(v) for k, v in r.items()} for r in rows])
    theirs = tokenizer(["good film", "bad"], padding=True, return_tensors="pt")
    for key in theirs:
        assert torch.equal(ours[key], theirs[key]), key
