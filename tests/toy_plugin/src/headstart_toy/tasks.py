"""``vector-classification``: feature vectors with a label, from CSV files or synthetic blobs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from headstart import (
    Batch,
    DataError,
    Features,
    FeatureSpec,
    SingleLabelTask,
    SourceModel,
    check_splits,
    get_registry,
    require_columns,
    sample_per_class,
)


class LinearHead(nn.Module):
    def __init__(self, dim: int, classes: int) -> None:
        super().__init__()
        self.fc = nn.Linear(dim, classes)

    def forward(self, features: Features) -> torch.Tensor:
        return self.fc(features.values)  # type: ignore[no-any-return]


class VectorClassification(SingleLabelTask):
    """Options: ``data`` (``{train: file.csv, val: …, test: …}``, columns ``x0..`` and ``label``)
    or ``synthetic`` (``{classes, per_class, in_features, seed, spread}``: Gaussian blobs);
    ``max_per_class`` keeps that many training examples per class (a label budget, drawn with
    ``data_seed``, by default the run's seed)."""

    name = "vector-classification"
    metrics = ("accuracy", "macro-f1")

    def __init__(
        self,
        data: dict[str, str] | None = None,
        synthetic: dict[str, Any] | None = None,
        label_column: str = "label",
        max_per_class: int | None = None,
        data_seed: int | None = None,
    ) -> None:
        if (data is None) == (synthetic is None):
            raise ValueError("give either data (CSV files per split) or synthetic, not both or neither")
        check_splits(data)
        self.data, self.synthetic, self.label_column, self.max_per_class = data, synthetic, label_column, max_per_class
        self.data_seed = data_seed or 0
        self.examples: dict[str, list[tuple[torch.Tensor, int]]] = {}
        self.labels: list[str] = []

    def prepare(self, source: SourceModel) -> None:
        if self.synthetic is not None:
            self._make_synthetic(**self.synthetic)
        else:
            self._read_csv(self.data or {})
        train = self.examples["train"]
        keep = sample_per_class([y for _, y in train], self.max_per_class, self.data_seed)  # the label budget
        self.examples["train"] = [train[i] for i in keep]

    def _make_synthetic(
        self, classes: int = 3, per_class: int = 20, in_features: int = 8, seed: int = 0, spread: float = 1.0
    ) -> None:
        g = torch.Generator().manual_seed(seed)
        centers = torch.randn(classes, in_features, generator=g) * 2
        self.labels = [str(c) for c in range(classes)]
        for split, n in (("train", per_class), ("val", per_class), ("test", per_class)):
            xs = centers.repeat_interleave(n, 0) + spread * torch.randn(classes * n, in_features, generator=g)
            ys = torch.arange(classes).repeat_interleave(n)
            self.examples[split] = [(x, int(y)) for x, y in zip(xs, ys, strict=True)]

    def _read_csv(self, files: dict[str, str]) -> None:
        read = get_registry().dataset_format("csv").read
        rows = {split: read(path) for split, path in files.items()}
        for split, path in files.items():
            require_columns(rows[split], [self.label_column], path)
        self.labels = sorted({r[self.label_column] for r in rows["train"]})
        index = {label: i for i, label in enumerate(self.labels)}
        features = [c for c in rows["train"][0] if c not in (self.label_column, "_where")]
        for split, split_rows in rows.items():
            out = []
            for r in split_rows:
                if r[self.label_column] not in index:
                    raise DataError(
                        f"{r['_where']}: label {r[self.label_column]!r} does not occur in the train split "
                        f"(known: {', '.join(self.labels)})"
                    )
                try:
                    x = torch.tensor([float(r[c]) for c in features])
                except (KeyError, ValueError):
                    raise DataError(f"{r['_where']}: feature columns {', '.join(features)} must be numbers") from None
                out.append((x, index[r[self.label_column]]))
            self.examples[split] = out

    def splits(self) -> list[str]:
        return [s for s in ("train", "val", "test") if s in self.examples]

    def dataset(self, split: str, train: bool) -> list[tuple[torch.Tensor, int]]:  # type: ignore[override]
        return self.examples[split]

    def collate(self, examples: list[tuple[torch.Tensor, int]]) -> Batch:
        return {
            "inputs": {"x": torch.stack([x for x, _ in examples])},
            "targets": torch.tensor([y for _, y in examples]),
        }

    def build_head(self, spec: FeatureSpec) -> nn.Module:
        return LinearHead(spec.dim, len(self.labels))

    def summary(self) -> dict[str, Any]:
        return {"classes": len(self.labels), "examples": {s: len(e) for s, e in self.examples.items()}}

    # --- PredictingTask: what `headstart predict` / `evaluate` / `headstart.load` need ------------
    def inference_state(self) -> dict[str, Any]:
        return {"labels": self.labels, "in_features": len(self.examples["train"][0][0])}

    def restore(self, state: Mapping[str, Any], source: SourceModel) -> None:
        self.labels, self.in_features = list(state["labels"]), int(state["in_features"])

    def predict_example(self, raw: Any) -> torch.Tensor:
        """A list of numbers, or a dict of columns ``x0 … x{n-1}``."""
        values: Any = [raw.get(f"x{i}") for i in range(self.in_features)] if isinstance(raw, Mapping) else raw
        try:
            x = torch.tensor([float(v) for v in values])
        except (TypeError, ValueError):
            raise DataError(f"expected {self.in_features} numbers, got {raw!r}") from None
        if x.shape != (self.in_features,):
            raise DataError(f"expected {self.in_features} numbers, got {len(x)}")
        return x

    def predict_collate(self, examples: list[torch.Tensor]) -> Batch:
        return {"inputs": {"x": torch.stack(examples)}}

    def example_batch(self) -> Batch:
        return self.predict_collate(list(torch.randn(2, self.in_features, generator=torch.Generator().manual_seed(0))))

    def labelled_dataset(self, data: Any) -> list[tuple[torch.Tensor, int]]:
        """A CSV file with columns ``x0 …`` and the label column."""
        index = {label: i for i, label in enumerate(self.labels)}
        out = []
        for row in get_registry().dataset_format("csv").read(str(data)):
            if str(row.get(self.label_column)) not in index:
                raise DataError(f"{row['_where']}: label {row.get(self.label_column)!r} is not one of {self.labels}")
            out.append((self.predict_example(row), index[str(row[self.label_column])]))
        return out
