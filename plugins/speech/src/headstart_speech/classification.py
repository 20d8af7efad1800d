"""``audio-classification``: one label per recording (see :mod:`.task_base` for what it shares
with ``speech-recognition``)."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from headstart import (
    Batch,
    ClassificationHead,
    DataError,
    FeatureSpec,
    SingleLabelTask,
    SourceModel,
    require_every_class,
    sample_per_class,
)

from .data import AudioItem
from .task_base import AudioOptions, AudioTask


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


class AudioClassification(SingleLabelTask, AudioTask):
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
        self.use_labels(self.options.labels or [])
        self.given = bool(self.labels)

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
            self.use_labels(sorted({self._column(r, self.options.label_column) for r in rows["train"]}))

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

    def inference_state(self) -> dict[str, Any]:
        return {"labels": list(self.labels)}

    def restore(self, state: Mapping[str, Any], source: SourceModel) -> None:
        super().restore(state, source)
        self.use_labels(state["labels"])
        self.given = True

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
