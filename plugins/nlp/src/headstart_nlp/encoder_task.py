"""What every task on a text encoder shares: its options' common part, the source's tokenizer and
the truncation length, the splits it serves and the start of its summary.

``TextTask`` (``text_base.py``: classification and regression of texts) and
``TokenClassification`` (``ner.py``: a tag per word) build on :class:`EncoderTask`. Options are
data: a task's ``Options`` dataclass extends :class:`EncoderOptions`, and option checking reads
them from there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from headstart import SourceModel


@dataclass(frozen=True, kw_only=True)
class EncoderOptions:
    """The options of every text-encoder task (``docs/guide-nlp.md``)."""

    data: dict[str, str]
    max_length: int = 128
    hidden: int | None = None
    dropout: float = 0.1
    seed: int = 0

    def __post_init__(self) -> None:
        if self.max_length < 4:
            raise ValueError(f"max_length must be at least 4 tokens, got {self.max_length}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")


class EncoderTask:
    """A task built from keyword options (``Task(data=…, …)``, checked by its ``Options``) that
    tokenizes with the source's tokenizer, truncating at ``max_length`` tokens (or the source's
    limit, when lower)."""

    name = ""
    metrics: tuple[str, ...] = ()
    Options: ClassVar[type[EncoderOptions]] = EncoderOptions
    options: EncoderOptions

    def __init__(self, **options: Any) -> None:
        self.options = self.Options(**options)
        self.examples: dict[str, list[Any]] = {}
        self.tokenizer: Any = None
        self.truncate_at = self.options.max_length
        self.facts: dict[str, Any] = {}

    def use_tokenizer(self, source: SourceModel, tokenizer: Any) -> None:
        """Tokenize with ``tokenizer`` (the source's), cut at ``max_length`` or the source's limit."""
        self.tokenizer = tokenizer
        limit = getattr(source, "max_length", None)
        self.truncate_at = min(self.options.max_length, int(limit)) if limit else self.options.max_length

    def splits(self) -> list[str]:
        return list(self.examples)

    def dataset(self, split: str, train: bool) -> list[Any]:
        return self.examples[split]

    def inference_state(self) -> dict[str, Any]:
        return {"truncate_at": self.truncate_at}

    def restore(self, state: Mapping[str, Any], source: SourceModel) -> None:
        """The source's tokenizer and the trained truncation length; subclasses add their targets."""
        self.tokenizer = source.preprocessor
        self.truncate_at = int(state["truncate_at"])

    def summary(self) -> dict[str, Any]:
        return {
            "task": self.name,
            "examples": {s: len(e) for s, e in self.examples.items()},
            "max_length": self.truncate_at,
            **self.facts,
        }
