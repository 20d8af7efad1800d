"""What the text tasks share: reading table files, checking texts, tokenizing batches, pooling.

``TextTask`` is the base of ``text-classification`` and ``text-regression`` (``text_tasks.py``).
Data: a file per split (``data: {train: …, val: …, test: …}``) in CSV, TSV, GLUE-style TSV or
JSONL with named columns; ``split`` carves val / test out of train instead. Texts are tokenized
once, when the task reads its data (one batched call per split, like ``datasets.map`` before the
HF Trainer): ``collate`` looks each example's token ids up and pads the batch to its longest
example. Truncation is at ``max_length`` tokens (pairs: the longer text is cut first). The cache
belongs to the tokenizer and the truncation length it was made with; a different tokenizer
(``restore``) or length starts an empty one, and texts it does not hold are tokenized per batch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch

from headstart import SPLITS, Batch, DataError, FeatureSpec, SourceModel, check_splits, require_columns

from .data import carve, read_table
from .encoder_task import EncoderOptions, EncoderTask
from .tokens import TokenCache, pad_batch

TableFormat = Literal["auto", "csv", "tsv", "glue-tsv", "jsonl"]
Pooling = Literal["auto", "mean", "cls"]

#: One example: (text, second text or None, target).
Example = tuple[str, str | None, Any]


def text_of(row: dict[str, Any], column: str) -> str:
    """The non-empty text in ``column`` of ``row``; DataError naming file:line otherwise."""
    value = row[column]
    if not isinstance(value, str):
        raise DataError(f"{row['_where']}: column {column!r} must hold text, got {type(value).__name__} {value!r}")
    if not value.strip():
        raise DataError(f"{row['_where']}: empty text in column {column!r}")
    return value


@dataclass(frozen=True, kw_only=True)
class TextOptions(EncoderOptions):
    """The options every text task has; each task's ``Options`` adds its own (``docs/guide-nlp.md``)."""

    format: TableFormat = "auto"
    columns: list[str] | None = None
    text_column: str = "text"
    text_pair_column: str | None = None
    label_column: str = "label"
    split: dict[str, float] | None = None
    pooling: Pooling = "auto"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_splits(self.data, self.split)


class TextTask(EncoderTask):
    """What classification and regression share: reading, tokenizing, collating, pooling.

    A task is built from keyword options (``TextClassification(data=…, labels=…)``); its
    ``Options`` dataclass declares them, and option checking reads them from there."""

    name = "text"
    Options: ClassVar[type[TextOptions]] = TextOptions
    options: TextOptions
    examples: dict[str, list[Example]]

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._tokens = TokenCache()

    # --- reading ---------------------------------------------------------------------------------
    def _needed(self) -> list[str]:
        o = self.options
        return [o.text_column, *([o.text_pair_column] if o.text_pair_column else []), o.label_column]

    def _rows(self) -> dict[str, list[dict[str, Any]]]:
        needed = self._needed()
        rows: dict[str, list[dict[str, Any]]] = {}
        for split, path in self.options.data.items():
            rows[split] = read_table(path, self.options.format, self.options.columns)
            require_columns(rows[split], needed, path)
        return rows

    def target(self, row: dict[str, Any], split: str) -> Any:
        """The target of ``row`` (``None``: skip the row); DataError naming file:line if invalid."""
        raise NotImplementedError

    def _examples(self, rows: list[dict[str, Any]], split: str) -> list[Example]:
        out = []
        for row in rows:
            text = text_of(row, self.options.text_column)
            pair = text_of(row, self.options.text_pair_column) if self.options.text_pair_column else None
            y = self.target(row, split)
            if y is not None:
                out.append((text, pair, y))
        return out

    def select(self, train: list[Example]) -> list[Example]:
        """The training examples kept (a label budget); all of them by default."""
        return train

    def read(self, source: SourceModel) -> None:
        """Read every split, carve val/test if asked, and keep the tokenizer."""
        tokenizer = source.preprocessor
        if tokenizer is None or not callable(tokenizer):
            raise ValueError(f"source {source.name!r} has no tokenizer (preprocessor); use an hf: text encoder")
        self.use_tokenizer(source, tokenizer)
        rows = self._rows()
        self.prepare_targets(rows)
        examples = {split: self._examples(r, split) for split, r in rows.items()}
        if self.options.split:
            carved = carve(examples["train"], self.options.split, self.options.seed, "split")
            examples.update(carved)
        examples["train"] = self.select(examples["train"])
        for split, ex in examples.items():
            if not ex:
                raise DataError(f"{self.options.data.get(split, self.options.data['train'])}: no {split} examples left")
        self.examples = {s: examples[s] for s in SPLITS if s in examples}
        self.facts["truncated"] = {s: self._count_truncated(e) for s, e in self.examples.items()}
        self._tokens = TokenCache(self.tokenizer, self.truncate_at)
        for ex in self.examples.values():
            self._tokens.add(ex, self._tokenize(ex))

    def prepare_targets(self, rows: dict[str, list[dict[str, Any]]]) -> None:
        """Build whatever the targets need (the label set) from the rows of every split."""

    def _count_truncated(self, examples: list[Example]) -> int:
        texts = [e[0] for e in examples]
        pairs = [e[1] for e in examples] if self.options.text_pair_column else None
        enc = self.tokenizer(texts, pairs, truncation=False, verbose=False)
        return sum(len(ids) > self.truncate_at for ids in enc["input_ids"])

    # --- the TargetTask interface ---------------------------------------------------------------
    def prepare(self, source: SourceModel) -> None:
        self.read(source)

    def _tokenize(self, examples: list[Example]) -> dict[str, list[list[int]]]:
        """Token ids of ``examples``, truncated at ``max_length``, unpadded (one batched call)."""
        texts = [e[0] for e in examples]
        pairs = [e[1] or "" for e in examples] if self.options.text_pair_column else None
        enc = self.tokenizer(texts, pairs, truncation=True, max_length=self.truncate_at, verbose=False)
        return {k: list(v) for k, v in enc.items()}

    def encode(self, examples: list[Example]) -> dict[str, torch.Tensor]:
        """A batch's token ids (from the cache; tokenized now if absent), padded to its longest example."""
        if not self._tokens.valid_for(self.tokenizer, self.truncate_at):
            self._tokens = TokenCache(self.tokenizer, self.truncate_at)
        rows = self._tokens.lookup(examples)
        missing = [i for i, r in enumerate(rows) if r is None]
        if missing:
            fresh = self._tokenize([examples[i] for i in missing])
            for j, i in enumerate(missing):
                rows[i] = {k: v[j] for k, v in fresh.items()}
        return pad_batch(self.tokenizer, [r for r in rows if r is not None])

    def head_pooling(self, spec: FeatureSpec) -> Literal["mean", "cls"]:
        if self.options.pooling != "auto":
            return self.options.pooling
        return "mean" if spec.extras.get("pooling") == "mean" else "cls"

    # --- inference (PredictingTask): the trained model without its training data ------------------
    def inference_state(self) -> dict[str, Any]:
        return {**super().inference_state(), "pairs": self.options.text_pair_column is not None}

    def restore(self, state: Mapping[str, Any], source: SourceModel) -> None:
        super().restore(state, source)
        self._tokens = TokenCache(self.tokenizer, self.truncate_at)

    def predict_example(self, raw: Any) -> Example:
        """A text, a ``(text, pair)`` tuple, or a dict with the task's text column(s)."""
        if isinstance(raw, Mapping):
            row = {"_where": "input", **raw}
            text = text_of(row, self.options.text_column)
            pair = text_of(row, self.options.text_pair_column) if self.options.text_pair_column else None
        elif isinstance(raw, tuple | list) and len(raw) == 2 and all(isinstance(x, str) for x in raw):
            text, pair = raw
        elif isinstance(raw, str):
            text, pair = raw, None
        else:
            raise DataError(f"expected a text, a (text, pair) tuple or a dict of columns, got {type(raw).__name__}")
        if not text.strip():
            raise DataError("empty text")
        if self.options.text_pair_column and pair is None:
            raise DataError(
                f"this model reads text pairs ({self.options.text_column}, {self.options.text_pair_column}); "
                "give a (text, pair) tuple or a dict with both columns"
            )
        return (text, pair, None)

    def predict_collate(self, examples: list[Example]) -> Batch:
        return {"inputs": self.encode(examples)}

    def example_batch(self) -> Batch:
        """Two texts (pairs for a pair task) of different lengths (what exporters trace)."""
        pair = "a second text" if self.options.text_pair_column else None
        texts = [("a short text", pair, None), ("a somewhat longer text, with more words in it", pair, None)]
        return self.predict_collate(texts)

    def labelled_dataset(self, data: Any) -> list[Example]:
        """A labelled file in the training format (CSV / TSV / GLUE TSV / JSONL, same columns)."""
        needed = self._needed()
        rows = read_table(str(data), self.options.format, self.options.columns)
        require_columns(rows, needed, str(data))
        examples = self._examples(rows, "evaluate")
        if not examples:
            raise DataError(f"{data}: no examples to evaluate")
        return examples

    def summary(self) -> dict[str, Any]:
        return {**super().summary(), "pairs": self.options.text_pair_column is not None}
