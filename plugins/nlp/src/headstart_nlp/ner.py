"""``token-classification``: one tag per word (named entities, chunks, parts of speech).

Data: CoNLL-2003-style files (one token per line, fields separated by spaces or tabs, a blank
line between sentences, ``-DOCSTART-`` lines skipped); ``tag_field`` picks the field that holds
the tag (default: the last). Words are tokenized with the source's (fast) tokenizer; each word's
label goes to its first sub-token, the other sub-tokens and the special tokens are ignored by the
loss. Words cut off by ``max_length`` are predicted ``O``, so truncation costs recall honestly.
Metrics: entity-level F1, precision and recall (conlleval's rules, see ``entities.py``).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from headstart import (
    SPLITS,
    Batch,
    DataError,
    FeatureSpec,
    SequenceHead,
    SourceModel,
    check_splits,
    require_every_class,
)

from .data import read_conll
from .encoder_task import EncoderOptions, EncoderTask
from .entities import SCHEMES, Scheme, check_tags, entities, split_tag

IGNORE = -100

#: One sentence: (words, tag ids).
Sentence = tuple[tuple[str, ...], tuple[int, ...]]


@dataclass(frozen=True, kw_only=True)
class TokenOptions(EncoderOptions):
    """``token-classification``'s options: the shared ones, where the tag is, the tag scheme and
    set, and a budget of training sentences."""

    tag_field: int = -1
    fields: int | None = None
    scheme: Scheme = "IOB2"
    labels: list[str] | None = None
    max_train: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        check_splits(self.data)
        if self.scheme not in SCHEMES:
            raise ValueError(f"scheme {self.scheme!r} is not valid; valid: {', '.join(SCHEMES)}")
        if self.fields is not None and self.fields < 2:
            raise ValueError(f"fields must be >= 2 (a token and a tag), got {self.fields}")
        if self.max_train is not None and self.max_train < 1:
            raise ValueError(f"max_train must be >= 1, got {self.max_train}")


class TokenClassification(EncoderTask):
    """Tag every word of CoNLL-format sentences.

    Options: ``data`` (``{train, val, test}`` CoNLL files), ``tag_field`` (index of the tag among
    a line's fields; ``-1``: the last), ``fields`` (how many fields every token line has; default:
    as many as the first token line), ``scheme`` (``IOB2`` = ``BIO``, or ``IOB1``: how the gold
    tags are checked), ``labels`` (the tag set; default: the train split's tags), ``max_train``
    (keep that many training sentences, drawn with ``seed``), ``max_length``, ``hidden``, ``dropout``.
    """

    name = "token-classification"
    metrics = ("entity-f1", "entity-precision", "entity-recall")
    Options = TokenOptions
    options: TokenOptions
    examples: dict[str, list[Sentence]]

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.given_labels = self.options.labels
        self.labels: list[str] = []

    # --- reading ---------------------------------------------------------------------------------
    def _tags(self, sentence: dict[str, Any], path: str) -> list[str]:
        n, field = len(sentence["fields"][0]), self.options.tag_field
        if not -n <= field < n or field % n == 0:
            raise DataError(
                f"{sentence['_where']}: tag_field {field} does not name a tag among the {n} fields of "
                f"a line (field 0 is the token; use 1..{n - 1} or -1 for the last)"
            )
        tags = [f[field] for f in sentence["fields"]]
        problem = check_tags(tags, self.options.scheme)
        if problem:
            bad = next(i for i in range(len(tags)) if check_tags(tags[: i + 1], self.options.scheme))
            raise DataError(f"{path}:{sentence['lines'][bad]}: {problem}")
        return tags

    def prepare(self, source: SourceModel) -> None:
        tokenizer = source.preprocessor
        if tokenizer is None or not getattr(tokenizer, "is_fast", False):
            raise ValueError(
                f"token-classification needs a fast tokenizer (word_ids) and source {source.name!r} has "
                f"{type(tokenizer).__name__}; save the model with a tokenizer.json"
            )
        self.use_tokenizer(source, tokenizer)
        data = self.options.data
        read = {s: read_conll(p, self.options.fields) for s, p in data.items()}
        tags = {s: [self._tags(sent, p) for sent in read[s]] for s, p in data.items()}
        if self.given_labels is not None:
            self.labels = list(self.given_labels)
        else:
            seen = {t for sent in tags["train"] for t in sent}
            self.labels = sorted(seen, key=lambda t: (t != "O", split_tag(t)[1], t))
        index = {t: i for i, t in enumerate(self.labels)}
        for split, sentences in read.items():
            out = []
            for sent, sent_tags in zip(sentences, tags[split], strict=True):
                for tag, line in zip(sent_tags, sent["lines"], strict=True):
                    if tag not in index:
                        origin = "task.labels" if self.given_labels is not None else "the train split"
                        raise DataError(
                            f"{data[split]}:{line}: tag {tag!r} is not in the tag set "
                            f"({', '.join(self.labels)}, from {origin})"
                        )
                out.append((tuple(sent["tokens"]), tuple(index[t] for t in sent_tags)))
            self.examples[split] = out
        limit = self.options.max_train
        if limit is not None and len(self.examples["train"]) > limit:
            self.examples["train"] = random.Random(self.options.seed).sample(self.examples["train"], limit)
        self._require_every_tag()
        self.examples = {s: self.examples[s] for s in SPLITS if s in self.examples}
        self.facts = {
            "tag_counts": {
                s: dict(Counter(self.labels[t] for _, ts in ex for t in ts)) for s, ex in self.examples.items()
            },
            "truncated": {s: self._count_truncated(ex) for s, ex in self.examples.items()},
        }

    def _require_every_tag(self) -> None:
        """Every entity type of the tag set (``PER`` of ``B-PER`` / ``I-PER``; a plain tag is its
        own type) has a training word: a type never seen in training would be predicted blind."""
        types = list(dict.fromkeys(split_tag(t)[1] for t in self.labels if t != "O"))
        seen = [split_tag(self.labels[t])[1] for _, tags in self.examples["train"] for t in tags]
        fix = "add training sentences with it or remove its tags from task.labels"
        if self.given_labels is None:  # the tag set came from train: max_train left the type out
            fix = f"raise max_train (now {self.options.max_train}) so that every type keeps a training sentence"
        require_every_class(types, seen, self.options.data["train"], fix, what="tag")

    def _count_truncated(self, sentences: list[Sentence]) -> int:
        enc = self.tokenizer([list(w) for w, _ in sentences], is_split_into_words=True, truncation=False, verbose=False)
        return sum(len(ids) > self.truncate_at for ids in enc["input_ids"])

    # --- the TargetTask interface ---------------------------------------------------------------
    def _encode(self, examples: list[Sentence]) -> tuple[Any, torch.Tensor]:
        """Tokenized words and, per sub-token, the index of the word it starts (else -1)."""
        enc = self.tokenizer(
            [list(words) for words, _ in examples],
            is_split_into_words=True,
            padding=True,
            truncation=True,
            max_length=self.truncate_at,
            return_tensors="pt",
        )
        word_index = torch.full(enc["input_ids"].shape, -1, dtype=torch.long)
        for i in range(len(examples)):
            previous = None
            for j, w in enumerate(enc.word_ids(i)):
                if w is not None and w != previous:
                    word_index[i, j] = w
                previous = w
        return enc, word_index

    def collate(self, examples: list[Sentence]) -> Batch:
        """Tokenize words; label each word's first sub-token (others: ignored, -100)."""
        enc, word_index = self._encode(examples)
        targets = torch.full(enc["input_ids"].shape, IGNORE, dtype=torch.long)
        for i, (_, tags) in enumerate(examples):
            starts = word_index[i] >= 0
            targets[i, starts] = torch.tensor(tags, dtype=torch.long)[word_index[i, starts]]
        return {
            "inputs": {k: v for k, v in enc.items()},
            "targets": targets,
            "word_index": word_index,
            "gold": [list(tags) for _, tags in examples],
        }

    def build_head(self, spec: FeatureSpec) -> nn.Module:
        return SequenceHead(spec, len(self.labels), hidden=self.options.hidden, dropout=self.options.dropout)

    def loss(self, outputs: torch.Tensor, batch: Batch) -> torch.Tensor:
        return nn.functional.cross_entropy(
            outputs.float().flatten(0, 1), batch["targets"].flatten(), ignore_index=IGNORE
        )

    def _word_tags(self, outputs: torch.Tensor, batch: Batch, words: list[int]) -> list[list[str]]:
        """Per sentence, the predicted tag of each of its ``words[i]`` words (cut-off words: ``O``)."""
        best = outputs.argmax(-1).cpu()
        word_index = batch["word_index"].cpu()
        outside = "O" if "O" in self.labels else self.labels[0]
        out = []
        for i, n in enumerate(words):
            tags = [outside] * n
            for j in (word_index[i] >= 0).nonzero().flatten().tolist():
                tags[int(word_index[i, j])] = self.labels[int(best[i, j])]
            out.append(tags)
        return out

    def predictions(self, outputs: torch.Tensor, batch: Batch) -> tuple[list[Any], list[Any]]:
        """Per sentence, the predicted and gold tags of every word (cut-off words: ``O``)."""
        preds = self._word_tags(outputs, batch, [len(g) for g in batch["gold"]])
        return preds, [[self.labels[t] for t in gold] for gold in batch["gold"]]

    # --- inference (PredictingTask): the trained model without its training data ------------------
    def inference_state(self) -> dict[str, Any]:
        return {**super().inference_state(), "labels": list(self.labels), "scheme": self.options.scheme}

    def restore(self, state: Mapping[str, Any], source: SourceModel) -> None:
        super().restore(state, source)
        self.labels = self.given_labels = [str(t) for t in state["labels"]]

    def predict_example(self, raw: Any) -> Sentence:
        """A sentence: a text (split at whitespace), a list of words, or a dict with ``tokens``
        (a list) or ``text``."""
        if isinstance(raw, Mapping):
            raw = raw.get("tokens", raw.get("words", raw.get("text")))
        words = raw.split() if isinstance(raw, str) else raw
        if not isinstance(words, list | tuple) or not all(isinstance(w, str) and w for w in words):
            raise DataError("expected a sentence: a text, a list of words, or a dict with tokens / text")
        if not words:
            raise DataError("empty sentence")
        return tuple(words), ()

    def example_batch(self) -> Batch:
        """Two sentences of different lengths (what exporters trace)."""
        return self.predict_collate(
            [(("John", "visited", "Paris"), ()), (("Mary", "works", "for", "Acme", "Corp", "today"), ())]
        )

    def predict_collate(self, examples: list[Sentence]) -> Batch:
        enc, word_index = self._encode(examples)
        return {"inputs": {k: v for k, v in enc.items()}, "word_index": word_index, "words": [w for w, _ in examples]}

    def decode(self, outputs: torch.Tensor, batch: Batch, top_k: int = 1) -> list[dict[str, Any]]:
        """Per sentence: its words, a tag per word, and the entity spans (``end`` exclusive)."""
        out = []
        for words, tags in zip(
            batch["words"], self._word_tags(outputs, batch, [len(w) for w in batch["words"]]), strict=True
        ):
            spans = sorted(entities(tags), key=lambda e: e[1])
            found = [{"type": t, "start": a, "end": b, "text": " ".join(words[a:b])} for t, a, b in spans]
            out.append({"words": list(words), "tags": tags, "entities": found})
        return out

    def labelled_dataset(self, data: Any) -> list[Sentence]:
        """A CoNLL file in the training format, checked against the trained tag set."""
        index = {t: i for i, t in enumerate(self.labels)}
        out = []
        for sent in read_conll(str(data), self.options.fields):
            tags = self._tags(sent, str(data))
            for tag, line in zip(tags, sent["lines"], strict=True):
                if tag not in index:
                    raise DataError(f"{data}:{line}: tag {tag!r} is not one the model knows ({', '.join(self.labels)})")
            out.append((tuple(sent["tokens"]), tuple(index[t] for t in tags)))
        if not out:
            raise DataError(f"{data}: no sentences to evaluate")
        return out

    def summary(self) -> dict[str, Any]:
        return {
            **super().summary(),
            "words": {s: sum(len(w) for w, _ in e) for s, e in self.examples.items()},
            "labels": self.labels,
            "scheme": self.options.scheme,
        }

    @staticmethod
    def contract_example(tmp_path: Path) -> dict[str, Any]:
        from .tiny import save_tiny_encoder

        tmp_path.mkdir(parents=True, exist_ok=True)
        text = (
            "-DOCSTART- -X- -X- O\n\n"
            "John NNP B-NP B-PER\nvisited VBD B-VP O\nZurich NNP B-NP B-LOC\n\n"
            "Mary NNP B-NP B-PER\nworks VBZ B-VP O\nfor IN B-PP O\nAcme NNP B-NP B-ORG\nCorp NNP I-NP I-ORG\n"
        )
        for split in SPLITS:
            (tmp_path / f"{split}.conll").write_text(text, encoding="utf-8")
        model = save_tiny_encoder(tmp_path / "tiny-bert")
        return {
            "source": {"name": f"hf:{model}"},
            "task": {"data": {s: str(tmp_path / f"{s}.conll") for s in SPLITS}},
            "inputs": ["John visited Zurich", ["Mary", "works", "for", "Acme"]],
        }
