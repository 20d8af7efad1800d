"""What the speech tasks share: their common options, reading the splits through a dataset
format, checking every audio file up front, and collating waveforms.

Both tasks (``recognition.py``: ``speech-recognition``; ``classification.py``:
``audio-classification``) read their splits through a dataset format (``data: {train: …, val: …,
test: …}`` or one dataset root), check every audio file up front (see :mod:`.data`), and collate
waveforms with the source's :class:`~headstart_speech.audio.AudioPreprocessor`. ``synthesize``
makes a dataset offline with espeak-ng / flite on first use (see :mod:`.synth`) and reads it like
any other.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch

from headstart import (
    SPLITS,
    Batch,
    DataError,
    SourceModel,
    check_options,
    check_splits,
    input_path,
    source_preprocessor,
)

from .audio import AudioPreprocessor
from .data import AudioDataset, AudioItem, SplitReport, check_split
from .formats import AUDIO_SUFFIXES, reader, split_locations

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


class AudioTask:
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

    def _use_source(self, source: SourceModel) -> None:
        """Collate with the source's audio preprocessor; ConfigError for a source without one."""
        wanted = "a speech source (hf: wav2vec2/HuBERT/WavLM, torchaudio:, or a run of one)"
        self.preprocessor = source_preprocessor(source, AudioPreprocessor, self.name, wanted)
        self.frame_rate = float(source.output_spec.extras.get("frame_rate", 50.0))

    def prepare(self, source: SourceModel) -> None:
        self._use_source(source)
        pre = self.preprocessor
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
        self._use_source(source)

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
