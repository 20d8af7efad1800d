"""``speech-recognition``: speech to text with a CTC head over characters (see
:mod:`.task_base` for what it shares with ``audio-classification``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from headstart import Batch, Features, FeatureSpec, SequenceHead, SourceModel

from .data import AudioItem
from .task_base import AudioOptions, AudioTask, log
from .vocab import BLANK, CharVocabulary, normalize_text


@dataclass(frozen=True, kw_only=True)
class RecognitionOptions(AudioOptions):
    """``speech-recognition``'s options: the shared ones, the transcript column and normalisation."""

    format: str = "audio-csv"
    dropout: float = 0.1
    transcript_column: str = "transcript"
    vocabulary: str | list[str] | None = None
    lowercase: bool = True
    remove_punctuation: bool = True


class SpeechRecognition(AudioTask):
    """Speech to text: a CTC head over characters on the source's frames.

    The vocabulary is every character of the (normalised) training transcripts, or
    ``vocabulary`` (a string of characters). Characters of any split that are not in it are left
    out of the CTC targets and counted in ``summary()["unknown_characters"]``; the references for
    WER / CER keep them, so they count as errors. Decoding is greedy (best path).
    """

    name = "speech-recognition"
    metrics = ("cer", "wer")
    kind: Literal["transcripts", "labels"] = "transcripts"
    Options = RecognitionOptions
    options: RecognitionOptions

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        vocabulary = self.options.vocabulary
        self.vocab = CharVocabulary(vocabulary) if vocabulary else None
        self.unknown: dict[str, Counter[str]] = {}
        self.too_short: Counter[str] = Counter()

    @staticmethod
    def contract_example(tmp_path: Path) -> dict[str, Any]:
        """A tiny offline example for Headstart's contract kit: a LibriSpeech tree, a tiny model."""
        from .contract import speech_recognition_example

        return speech_recognition_example(tmp_path)

    def _text(self, row: dict[str, Any]) -> str:
        return normalize_text(
            self._column(row, self.options.transcript_column),
            lowercase=self.options.lowercase,
            remove_punctuation=self.options.remove_punctuation,
        )

    def _setup(self, rows: dict[str, list[dict[str, Any]]]) -> None:
        if self.options.vocabulary is None:
            self.vocab = CharVocabulary.from_texts(self._text(r) for r in rows["train"])

    def _item(self, split: str, row: dict[str, Any]) -> AudioItem:
        assert self.vocab is not None
        text = self._text(row)
        ids, unknown = self.vocab.encode(text)
        if unknown:
            counts = self.unknown.setdefault(split, Counter())
            if not counts:
                log.warning(
                    "%s: characters not in the vocabulary in %s, e.g. %r at %s",
                    self.name,
                    split,
                    "".join(unknown),
                    row["_where"],
                )
            counts.update(unknown)
        return AudioItem(row["path"], ids, row["_where"], text)

    def prepare(self, source: SourceModel) -> None:
        super().prepare(source)
        for split, ds in self.datasets.items():  # CTC needs at least one frame per target symbol
            self.too_short[split] = sum(len(i.target) > i.seconds * self.frame_rate for i in ds.items)

    def collate(self, examples: list[tuple[torch.Tensor, AudioItem]]) -> Batch:
        lengths = [len(item.target) for _, item in examples]
        targets = torch.full((len(examples), max(max(lengths), 1)), -1, dtype=torch.long)
        for i, (_, item) in enumerate(examples):
            targets[i, : len(item.target)] = torch.tensor(item.target, dtype=torch.long)
        return {
            "inputs": self.preprocessor.collate([w for w, _ in examples]),
            "targets": targets,
            "target_lengths": torch.tensor(lengths, dtype=torch.long),
            "references": [item.reference for _, item in examples],
        }

    def build_head(self, spec: FeatureSpec) -> nn.Module:
        assert self.vocab is not None, "prepare() builds the vocabulary"
        return CTCHead(spec, len(self.vocab), hidden=self.options.head_hidden, dropout=self.options.dropout)

    def loss(self, outputs: tuple[torch.Tensor, torch.Tensor], batch: Batch) -> torch.Tensor:
        logits, lengths = outputs
        log_probs = logits.float().log_softmax(-1).transpose(0, 1)
        targets = batch["targets"]
        return nn.functional.ctc_loss(
            log_probs,
            targets.clamp(min=0),
            lengths,
            batch["target_lengths"],
            blank=BLANK,
            reduction="mean",
            zero_infinity=True,
        )

    def predictions(self, outputs: tuple[torch.Tensor, torch.Tensor], batch: Batch) -> tuple[list[Any], list[Any]]:
        assert self.vocab is not None
        logits, lengths = outputs
        return self.vocab.greedy(logits, lengths), list(batch["references"])

    def inference_state(self) -> dict[str, Any]:
        assert self.vocab is not None, "prepare() builds the vocabulary"
        return {"vocabulary": "".join(self.vocab.chars)}

    def restore(self, state: Mapping[str, Any], source: SourceModel) -> None:
        super().restore(state, source)
        self.vocab = CharVocabulary(state["vocabulary"])

    def decode(self, outputs: tuple[torch.Tensor, torch.Tensor], batch: Batch, top_k: int = 1) -> list[dict[str, Any]]:
        assert self.vocab is not None
        logits, lengths = outputs
        return [{"transcript": t} for t in self.vocab.greedy(logits, lengths)]

    def summary(self) -> dict[str, Any]:
        assert self.vocab is not None
        out = super().summary()
        out["vocabulary"] = "".join(self.vocab.chars)
        out["unknown_characters"] = {s: dict(c) for s, c in self.unknown.items()}
        out["too_short_for_transcript"] = {s: n for s, n in self.too_short.items() if n}
        return out


class CTCHead(nn.Module):
    """Per-frame character logits and the number of real frames: ``(logits [B, T, C], lengths [B])``."""

    def __init__(self, spec: FeatureSpec, outputs: int, *, hidden: int | None = None, dropout: float = 0.0) -> None:
        super().__init__()
        self.net = SequenceHead(spec, outputs, hidden=hidden, dropout=dropout)

    def forward(self, features: Features) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.net(features)
        mask = features.mask
        lengths = mask.long().sum(1) if mask is not None else torch.full((logits.shape[0],), logits.shape[1])
        return logits, lengths
