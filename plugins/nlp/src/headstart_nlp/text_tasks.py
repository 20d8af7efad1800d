"""``text-classification`` and ``text-regression``: one label or score per text or text pair.

Both read CSV / TSV / GLUE-style TSV / JSONL files with named columns and tokenize in ``collate``
(see :class:`~headstart_nlp.text_base.TextTask` for what they share).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from headstart import (
    SPLITS,
    Batch,
    ClassificationHead,
    DataError,
    FeatureSpec,
    SingleLabelTask,
    SourceModel,
    require_every_class,
    sample_per_class,
)

from .text_base import Example, TextOptions, TextTask


@dataclass(frozen=True, kw_only=True)
class ClassificationOptions(TextOptions):
    """``text-classification``'s options: the shared ones and the label set and budget."""

    labels: list[str | int] | None = None
    unknown_labels: Literal["error", "skip"] = "error"
    max_per_class: int | None = None
    data_seed: int | None = None  # the draw of max_per_class (build sets the run's seed)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.labels is not None and len(set(map(str, self.labels))) < 2:
            raise ValueError(f"labels needs at least two distinct labels, got {self.labels}")
        if self.max_per_class is not None and self.max_per_class < 1:
            raise ValueError(f"max_per_class must be >= 1, got {self.max_per_class}")


@dataclass(frozen=True, kw_only=True)
class RegressionOptions(TextOptions):
    """``text-regression``'s options: the shared ones and whether targets are standardised."""

    normalize: bool = True


class TextClassification(SingleLabelTask, TextTask):
    """One label per text or text pair (sentiment, topic, NLI, paraphrase …).

    Options besides the shared ones (see the guide): ``labels`` (the label set, in order; default:
    the labels of the train split, sorted), ``unknown_labels`` (``error``: a label outside the set
    is a DataError naming file:line; ``skip``: such rows are left out and counted), ``max_per_class``
    (a label budget: keep that many training examples per class, drawn by core's
    ``sample_per_class`` with ``data_seed``, by default the run's seed).
    """

    name = "text-classification"
    metrics = ("accuracy", "macro-f1", "mcc")
    Options = ClassificationOptions
    options: ClassificationOptions

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        labels = self.options.labels
        self.given_labels = [str(x) for x in labels] if labels is not None else None
        self.use_labels([])
        self.skipped: Counter[str] = Counter()

    def prepare_targets(self, rows: dict[str, list[dict[str, Any]]]) -> None:
        if self.given_labels is not None:
            self.use_labels(self.given_labels)
            return
        self.use_labels(sorted({str(r[self.options.label_column]).strip() for r in rows["train"]}))
        if len(self.labels) < 2:
            raise DataError(
                f"{self.options.data['train']}: the train split has only the label(s) {self.labels}; need two"
            )

    def target(self, row: dict[str, Any], split: str) -> int | None:
        label = str(row[self.options.label_column]).strip()
        if label in self.index:
            return self.index[label]
        if self.options.unknown_labels == "skip":
            self.skipped[split] += 1
            return None
        origin = "task.labels" if self.given_labels is not None else "the train split"
        raise DataError(
            f"{row['_where']}: label {label!r} in column {self.options.label_column!r} is not in the label set "
            f"({', '.join(self.labels)}, from {origin}); set task.unknown_labels: skip to leave such rows out"
        )

    def select(self, train: list[Example]) -> list[Example]:
        kept = self._budget(train)
        require_every_class(self.labels, [self.labels[ex[2]] for ex in kept], self.options.data["train"])
        return kept

    def _budget(self, train: list[Example]) -> list[Example]:
        seed = self.options.data_seed if self.options.data_seed is not None else self.options.seed
        return [train[i] for i in sample_per_class([ex[2] for ex in train], self.options.max_per_class, seed)]

    def collate(self, examples: list[Example]) -> Batch:
        return {"inputs": self.encode(examples), "targets": torch.tensor([e[2] for e in examples], dtype=torch.long)}

    def build_head(self, spec: FeatureSpec) -> nn.Module:
        return ClassificationHead(
            spec,
            len(self.labels),
            hidden=self.options.hidden,
            dropout=self.options.dropout,
            pooling=self.head_pooling(spec),
        )

    def inference_state(self) -> dict[str, Any]:
        return {**super().inference_state(), "labels": list(self.labels)}

    def restore(self, state: Mapping[str, Any], source: SourceModel) -> None:
        super().restore(state, source)
        self.use_labels(state["labels"])
        self.given_labels = self.labels

    def summary(self) -> dict[str, Any]:
        counts = {
            s: {self.labels[k]: v for k, v in sorted(Counter(e[2] for e in ex).items())}
            for s, ex in self.examples.items()
        }
        return {**super().summary(), "labels": self.labels, "class_counts": counts, "skipped": dict(self.skipped)}

    @staticmethod
    def contract_example(tmp_path: Path) -> dict[str, Any]:
        from .tiny import save_tiny_encoder

        tmp_path.mkdir(parents=True, exist_ok=True)
        rows = ["premise,hypothesis,label"] + [
            f"{a},{b},{lab}"
            for a, b, lab in [
                ("the movie was good", "it was good", "entail"),
                ("the plot was dull", "it was fun", "contradict"),
                ("john visited paris", "john was in paris", "entail"),
                ("mary hates the film", "mary loves the film", "contradict"),
            ]
        ]
        for split in SPLITS:
            (tmp_path / f"{split}.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
        model = save_tiny_encoder(tmp_path / "tiny-bert")
        return {
            "source": {"name": f"hf:{model}"},
            "task": {
                "data": {s: str(tmp_path / f"{s}.csv") for s in SPLITS},
                "text_column": "premise",
                "text_pair_column": "hypothesis",
                "max_length": 16,
            },
            "inputs": [("the film was good", "it was good"), {"premise": "paris", "hypothesis": "not paris"}],
        }


class TextRegression(TextTask):
    """One number per text or text pair (STS-B similarity, ratings). Targets are standardised
    with the train split's mean and standard deviation for training (``normalize``);
    predictions are reported on the original scale."""

    name = "text-regression"
    metrics = ("pearson", "spearman", "mse")
    Options = RegressionOptions
    options: RegressionOptions
    #: the train split's target mean and standard deviation (set by ``read`` / ``restore``)
    mean, std = 0.0, 1.0

    def target(self, row: dict[str, Any], split: str) -> float:
        value = row[self.options.label_column]
        try:
            y = float(value)
        except (TypeError, ValueError):
            y = math.nan
        if isinstance(value, bool) or not math.isfinite(y):
            raise DataError(f"{row['_where']}: column {self.options.label_column!r} must hold a number, got {value!r}")
        return y

    def read(self, source: SourceModel) -> None:
        super().read(source)
        ys = [e[2] for e in self.examples["train"]]
        if self.options.normalize and len(ys) > 1:
            self.mean = sum(ys) / len(ys)
            self.std = math.sqrt(sum((y - self.mean) ** 2 for y in ys) / (len(ys) - 1)) or 1.0

    def collate(self, examples: list[Example]) -> Batch:
        return {"inputs": self.encode(examples), "targets": torch.tensor([e[2] for e in examples], dtype=torch.float32)}

    def build_head(self, spec: FeatureSpec) -> nn.Module:
        return ClassificationHead(
            spec, 1, hidden=self.options.hidden, dropout=self.options.dropout, pooling=self.head_pooling(spec)
        )

    def loss(self, outputs: torch.Tensor, batch: Batch) -> torch.Tensor:
        target = (batch["targets"] - self.mean) / self.std
        return nn.functional.mse_loss(outputs.float().squeeze(-1), target)

    def predictions(self, outputs: torch.Tensor, batch: Batch) -> tuple[list[Any], list[Any]]:
        return (outputs.float().squeeze(-1) * self.std + self.mean).tolist(), batch["targets"].tolist()

    def inference_state(self) -> dict[str, Any]:
        return {**super().inference_state(), "target_mean": self.mean, "target_std": self.std}

    def restore(self, state: Mapping[str, Any], source: SourceModel) -> None:
        super().restore(state, source)
        self.mean, self.std = float(state["target_mean"]), float(state["target_std"])

    def decode(self, outputs: torch.Tensor, batch: Batch, top_k: int = 1) -> list[dict[str, Any]]:
        return [{"value": v} for v in (outputs.float().squeeze(-1) * self.std + self.mean).tolist()]

    def summary(self) -> dict[str, Any]:
        return {**super().summary(), "target_mean": self.mean, "target_std": self.std}

    @staticmethod
    def contract_example(tmp_path: Path) -> dict[str, Any]:
        from .tiny import save_tiny_encoder

        tmp_path.mkdir(parents=True, exist_ok=True)
        lines = [
            "sentence1\tsentence2\tscore",
            "a good movie\ta great film\t4.5",
            "the plot\tparis\t0.5",
            "john is fun\tjohn is not dull\t3.8",
            "it was bad\tit was awful\t4.0",
        ]
        for split in SPLITS:
            (tmp_path / f"{split}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        model = save_tiny_encoder(tmp_path / "tiny-bert")
        return {
            "source": {"name": f"hf:{model}", "pooling": "mean"},
            "task": {
                "data": {s: str(tmp_path / f"{s}.tsv") for s in SPLITS},
                "text_column": "sentence1",
                "text_pair_column": "sentence2",
                "label_column": "score",
            },
            "inputs": [("a good movie", "a great film"), ("the plot", "john")],
        }
