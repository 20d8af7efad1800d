"""Speech tasks: ``speech-recognition`` (CTC over characters) and ``audio-classification``.

Both read their splits through a dataset format (``data: {train: …, val: …, test: …}`` or one
dataset root), check every audio file up front (see :mod:`.data`), and collate waveforms with the
source's :class:`~headstart_speech.audio.AudioPreprocessor`. ``synthesize`` makes a dataset offline
with espeak-ng / flite on first use (see :mod:`.synth`) and reads it like any other.
"""

from __future__ import annotations

import functools
import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
from torch import nn

from headstart import (
    SPLITS,
    Batch,
    ClassificationHead,
    DataError,
    Features,
    FeatureSpec,
    SequenceHead,
    SourceModel,
    check_options,
    check_splits,
    input_path,
    require_every_class,
    sample_per_class,
    top_labels,
)

from .audio import AudioPreprocessor
from .data import AudioDataset, AudioItem, SplitReport, check_split
from .formats import AUDIO_SUFFIXES, reader, split_locations
from .vocab import BLANK, CharVocabulary, normalize_text

log = logging.getLogger("headstart.speech")


@dataclass(frozen=True, kw_only=True)
class AudioOptions:
    """The options every speech task has; each task's ``Options`` adds its own (``docs/guide-speech.md``)."""

    data: str | dict[str, str] | None = None
    format: str = "audio-folder"
    head_hidden: int | None = None
    dropout: float = 0.0
    min_seconds: float | None = None
    max_seconds: float | None = 30.0
    skip_bad: bool = False
    cache_audio: bool | None = None
    synthesize: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if (self.data is None) == (self.synthesize is None):
            raise ValueError("give data (a dataset root, or {train: …, val: …, test: …}) or synthesize, not both")
        check_splits(self.data if isinstance(self.data, dict) else None)
        reader(self.format)  # an unknown format fails now, with the valid choices
        if self.synthesize is not None:
            from .synth import synth_options

            object.__setattr__(self, "synthesize", check_options(synth_options, self.synthesize, "task.synthesize"))


@dataclass(frozen=True, kw_only=True)
class RecognitionOptions(AudioOptions):
    """``speech-recognition``'s options: the shared ones, the transcript column and normalisation."""

    format: str = "audio-csv"
    dropout: float = 0.1
    transcript_column: str = "transcript"
    vocabulary: str | list[str] | None = None
    lowercase: bool = True
    remove_punctuation: bool = True


@dataclass(frozen=True, kw_only=True)
class AudioClassificationOptions(AudioOptions):
    """``audio-classification``'s options: the shared ones, the label column and set, pooling, a budget."""

    label_column: str = "label"
    labels: list[str] | None = None
    pooling: Literal["mean", "max"] = "mean"
    max_per_class: int | None = None
    data_seed: int | None = None  # the draw of max_per_class (build sets the run's seed)

    def __post_init__(self) -> None:
        if self.max_per_class is not None and self.max_per_class < 1:
            raise ValueError(f"max_per_class = {self.max_per_class}: expected a number of examples >= 1 (or null)")
        super().__post_init__()


class _AudioTask:
    """Reading, checking and collating audio; subclasses turn rows into targets.

    A task is built from keyword options (``AudioClassification(data=…, labels=…)``); its
    ``Options`` dataclass declares them, and option checking reads them from there."""

    name = ""
    metrics: tuple[str, ...] = ()
    kind: Literal["transcripts", "labels"] = "labels"
    Options: ClassVar[type[AudioOptions]] = AudioOptions
    options: AudioOptions
    #: file types ``headstart predict`` picks from a folder
    input_extensions = tuple(sorted(AUDIO_SUFFIXES))

    def __init__(self, **options: Any) -> None:
        self.options = self.Options(**options)
        self.format = self.options.format  # the format read (synthesized data has its own)
        self.reports: dict[str, SplitReport] = {}
        self.datasets: dict[str, AudioDataset] = {}
        self.preprocessor = AudioPreprocessor()
        self.locations: dict[str, str] = {}

    # --- reading ----------------------------------------------------------------------------
    def _rows(self) -> dict[str, list[dict[str, Any]]]:
        if self.options.synthesize is not None:
            from .synth import synthesize

            self.format, root = synthesize(kind=self.kind, **self.options.synthesize)
            self.locations = split_locations(self.format, root)
        elif isinstance(self.options.data, str):
            self.locations = split_locations(self.format, self.options.data)
        else:
            self.locations = dict(self.options.data or {})
        read = reader(self.format)
        return {split: read(path) for split, path in self.locations.items()}

    def prepare(self, source: SourceModel) -> None:
        pre = getattr(source, "preprocessor", None)
        if not isinstance(pre, AudioPreprocessor):
            raise DataError(
                f"{self.name} needs a speech source (hf: wav2vec2/HuBERT/WavLM, torchaudio:, or a run of one); "
                f"{source.name} has no audio preprocessor"
            )
        self.preprocessor = pre
        self.frame_rate = float(source.output_spec.extras.get("frame_rate", 50.0))
        rows = self._rows()
        self._setup(rows)
        for split, split_rows in rows.items():
            items = [self._item(split, row) for row in split_rows]
            kept, report, waves = self._check(items, split, self._select(split))
            if report.skipped:
                log.warning(
                    "%s: skipped %d bad file(s) in %s: %s",
                    self.name,
                    sum(report.skipped.values()),
                    split,
                    dict(report.skipped),
                )
            self.reports[split] = report
            self.datasets[split] = AudioDataset(kept, pre, waves)

    def _check(
        self, items: list[AudioItem], split: str, select: Callable[[list[AudioItem]], list[AudioItem]] | None = None
    ) -> tuple[list[AudioItem], SplitReport, dict[int, torch.Tensor] | None]:
        """The usable items of a split under the task's duration and skipping options (see ``check_split``)."""
        o, pre = self.options, self.preprocessor
        return check_split(
            items,
            pre,
            split=split,
            min_seconds=o.min_seconds if o.min_seconds is not None else pre.min_samples / pre.sample_rate,
            max_seconds=o.max_seconds,
            skip_bad=o.skip_bad,
            cache=o.cache_audio,
            select=select,
        )

    def _setup(self, rows: dict[str, list[dict[str, Any]]]) -> None:
        raise NotImplementedError

    def _select(self, split: str) -> Callable[[list[AudioItem]], list[AudioItem]] | None:
        """What to keep of a split's usable items (before they are decoded); ``None``: all of them."""
        return None

    def _item(self, split: str, row: dict[str, Any]) -> AudioItem:
        raise NotImplementedError

    def _column(self, row: dict[str, Any], column: str) -> str:
        if column not in row:
            present = ", ".join(k for k in row if k != "_where")
            raise DataError(f"{row.get('_where', '?')}: no {column!r} field (fields: {present})")
        return str(row[column])

    # --- serving ----------------------------------------------------------------------------
    def splits(self) -> list[str]:
        return [s for s in SPLITS if s in self.datasets]

    def dataset(self, split: str, train: bool) -> AudioDataset:
        return self.datasets[split]

    # --- inference (PredictingTask): the trained model without its training data ------------------
    def restore(self, state: Mapping[str, Any], source: SourceModel) -> None:
        pre = getattr(source, "preprocessor", None)
        if not isinstance(pre, AudioPreprocessor):
            raise DataError(f"{self.name} needs a speech source; {source.name} has no audio preprocessor")
        self.preprocessor = pre
        self.frame_rate = float(source.output_spec.extras.get("frame_rate", 50.0))

    def predict_example(self, raw: Any) -> torch.Tensor:
        """An audio file (``str`` / ``Path``, or a dict with ``path``), decoded, mixed down and
        resampled to the source's rate; or a 1-D waveform tensor already at that rate."""
        if isinstance(raw, torch.Tensor):
            if raw.ndim != 1 or not raw.is_floating_point():
                raise DataError(f"a waveform must be a 1-D float tensor, got shape {tuple(raw.shape)} {raw.dtype}")
            return raw
        return self.preprocessor.load(input_path(raw))

    def predict_collate(self, examples: list[torch.Tensor]) -> Batch:
        return {"inputs": self.preprocessor.collate(examples)}

    def example_batch(self) -> Batch:
        """Two random waveforms, 1.0 s and 0.6 s (what exporters trace)."""
        g, rate = torch.Generator().manual_seed(0), self.preprocessor.sample_rate
        return self.predict_collate(
            [0.1 * torch.randn(rate, generator=g), 0.1 * torch.randn(rate * 3 // 5, generator=g)]
        )

    def labelled_dataset(self, data: Any) -> AudioDataset:
        """One split in the task's ``format`` (a CSV / TSV, a LibriSpeech or audio folder …)."""
        items = [self._item("evaluate", row) for row in reader(self.format)(str(data))]
        kept, _, waves = self._check(items, "evaluate")
        return AudioDataset(kept, self.preprocessor, waves)

    def summary(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "data": self.locations,
            "sample_rate": self.preprocessor.sample_rate,
            "splits": {s: r.as_dict() for s, r in self.reports.items()},
            "skipped": sum(sum(r.skipped.values()) for r in self.reports.values()),
        }


class SpeechRecognition(_AudioTask):
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


class AudioClassification(_AudioTask):
    """One label per recording (keyword spotting, speaker, emotion): pooled frames -> a head.

    Labels are those of the training split (or ``labels``); a val / test label outside them is an
    error naming the file. ``max_per_class`` is a label budget: that many usable training
    recordings of each label, drawn by core's ``sample_per_class`` with ``data_seed`` (default:
    the run's seed); val / test are untouched.
    """

    name = "audio-classification"
    metrics = ("accuracy", "macro-f1")
    Options = AudioClassificationOptions
    options: AudioClassificationOptions

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        labels = self.options.labels
        self.labels: list[str] = list(labels) if labels else []
        self.given = bool(labels)

    @staticmethod
    def contract_example(tmp_path: Path) -> dict[str, Any]:
        """A tiny offline example for Headstart's contract kit: an audio folder, a tiny model."""
        from .contract import audio_classification_example

        return audio_classification_example(tmp_path)

    def _select(self, split: str) -> Callable[[list[AudioItem]], list[AudioItem]] | None:
        if split != "train" or self.options.max_per_class is None:
            return None
        seed = self.options.data_seed if self.options.data_seed is not None else 0
        return functools.partial(budget_per_class, limit=self.options.max_per_class, seed=seed)

    def prepare(self, source: SourceModel) -> None:
        """Read and check every split; each label must keep a usable training recording."""
        super().prepare(source)
        fix = "add recordings of it or remove it from task.labels"
        if not self.given:  # the labels came from the train rows: skip_bad left out every file of it
            fix = "every training recording of it is unusable (skip_bad left them out); fix or replace those files"
        if "train" in self.datasets:
            kept = [item.reference for item in self.datasets["train"].items]
            require_every_class(self.labels, kept, self.locations["train"], fix)

    def _setup(self, rows: dict[str, list[dict[str, Any]]]) -> None:
        if not self.given:
            self.labels = sorted({self._column(r, self.options.label_column) for r in rows["train"]})
        self.index = {label: i for i, label in enumerate(self.labels)}

    def _item(self, split: str, row: dict[str, Any]) -> AudioItem:
        label = self._column(row, self.options.label_column)
        if label not in self.index:
            raise DataError(
                f"{row['_where']}: label {label!r} is not among the {'given' if self.given else 'training'} "
                f"labels ({', '.join(self.labels[:20])})"
            )
        return AudioItem(row["path"], self.index[label], row["_where"], label)

    def collate(self, examples: list[tuple[torch.Tensor, AudioItem]]) -> Batch:
        return {
            "inputs": self.preprocessor.collate([w for w, _ in examples]),
            "targets": torch.tensor([item.target for _, item in examples], dtype=torch.long),
        }

    def build_head(self, spec: FeatureSpec) -> nn.Module:
        return ClassificationHead(
            spec,
            len(self.labels),
            hidden=self.options.head_hidden,
            dropout=self.options.dropout,
            pooling=self.options.pooling,
        )

    def loss(self, outputs: torch.Tensor, batch: Batch) -> torch.Tensor:
        return nn.functional.cross_entropy(outputs.float(), batch["targets"])

    def predictions(self, outputs: torch.Tensor, batch: Batch) -> tuple[list[Any], list[Any]]:
        return outputs.argmax(-1).tolist(), batch["targets"].tolist()

    def inference_state(self) -> dict[str, Any]:
        return {"labels": list(self.labels)}

    def restore(self, state: Mapping[str, Any], source: SourceModel) -> None:
        super().restore(state, source)
        self.labels, self.given = [str(x) for x in state["labels"]], True
        self.index = {label: i for i, label in enumerate(self.labels)}

    def decode(self, outputs: torch.Tensor, batch: Batch, top_k: int = 1) -> list[dict[str, Any]]:
        return top_labels(outputs, self.labels, top_k)

    def summary(self) -> dict[str, Any]:
        out = super().summary()
        out["labels"] = self.labels
        out["classes"] = len(self.labels)
        train = self.datasets.get("train")
        counts = Counter(item.reference for item in train.items) if train is not None else Counter()
        out["train_class_counts"] = {label: counts[label] for label in self.labels}
        out["max_per_class"] = self.options.max_per_class
        return out


def budget_per_class(items: list[AudioItem], limit: int, seed: int) -> list[AudioItem]:
    """At most ``limit`` items of each class (by ``reference``, the label), drawn with ``seed``."""
    return [items[i] for i in sample_per_class([item.reference for item in items], limit, seed)]
