"""``image-classification``: one label per image, from an ImageFolder tree, CSV files, or built-in digits.

Options (the ``task`` section of an experiment):

* ``data``: where the images are —
  ``builtin:digits`` (scikit-learn's digits, written once as an ImageFolder tree in the cache);
  a folder with ``train/`` (and ``val/``, ``test/``) ImageFolder trees; one ImageFolder tree or
  one CSV file (split by ``split``); or a mapping ``{train: …, val: …, test: …}`` of folders or
  CSV files (``path,label`` columns, paths relative to the CSV).
* ``split``: fractions for one tree, e.g. ``{val: 0.15, test: 0.15}``; stratified by class and
  seeded by ``split_seed``. ``max_per_class``: a label budget — that many train examples per
  class, drawn by core's ``sample_per_class`` with ``data_seed`` (default: the run's seed).
* ``head``: ``linear`` or ``mlp`` (``hidden`` units, ``dropout``).
* ``class_weights``: weight the loss by inverse class frequency (for imbalanced data).
* ``image_size``: override the source's input size (smaller is faster on a CPU).
* ``augment``: ``true`` (random resized crop + horizontal flip), ``false``, or a mapping
  ``{scale: [0.08, 1], ratio: [0.75, 1.33], hflip: 0.5, color_jitter: 0}``. Evaluation and
  feature caching always use the eval transform.
* ``skip_bad``: leave out unreadable images (counted in the summary) instead of stopping;
  ``check_images``: decode every image once while preparing (finds bad files before training).
"""

from __future__ import annotations

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
    Examples,
    FeatureSpec,
    Ranked,
    SingleLabelTask,
    SourceModel,
    check_splits,
    input_path,
    require_every_class,
    sample_per_class,
    source_preprocessor,
)

from .data import (
    BUILTIN_DATASETS,
    IMAGE_EXTENSIONS,
    BadImage,
    ImageDataset,
    ImageItem,
    check_labels,
    class_counts,
    open_image,
    read_items,
    stratified_split,
    verify_images,
)
from .transforms import Augment, ImagePreprocessor

BUILTIN_PREFIX = "builtin:"


@dataclass(frozen=True, kw_only=True)
class ImageOptions:
    """``image-classification``'s options (see the module docstring)."""

    data: str | dict[str, str]
    split: dict[str, float] | None = None
    split_seed: int = 0
    max_per_class: int | None = None
    data_seed: int | None = None
    head: Literal["linear", "mlp"] = "linear"
    hidden: int = 256
    dropout: float = 0.0
    class_weights: bool = False
    image_size: int | None = None
    augment: bool | dict[str, Any] = True
    skip_bad: bool = False
    check_images: bool = True
    path_column: str = "path"
    label_column: str = "label"

    def __post_init__(self) -> None:
        data = self.data
        check_splits(data if isinstance(data, dict) else None, self.split)
        if (
            isinstance(data, str)
            and data.startswith(BUILTIN_PREFIX)
            and data[len(BUILTIN_PREFIX) :] not in BUILTIN_DATASETS
        ):
            raise ValueError(
                f"data = {data!r}: unknown built-in dataset; valid: "
                + ", ".join(BUILTIN_PREFIX + n for n in BUILTIN_DATASETS)
            )
        if self.max_per_class is not None and self.max_per_class < 1:
            raise ValueError(f"max_per_class = {self.max_per_class}: expected >= 1")
        if self.hidden < 1 or not 0.0 <= self.dropout < 1.0:
            raise ValueError(
                f"hidden = {self.hidden}, dropout = {self.dropout}: expected hidden >= 1 and 0 <= dropout < 1"
            )
        if self.image_size is not None and self.image_size < 8:
            raise ValueError(f"image_size = {self.image_size}: expected at least 8 pixels")


class ImageClassification(SingleLabelTask):
    """The ``image-classification`` task (see the module docstring for its options).

    Built from keyword options (``ImageClassification(data=…, image_size=…)``); its ``Options``
    dataclass declares them, and option checking reads them from there."""

    name = "image-classification"
    #: file types ``headstart predict`` picks from a folder
    input_extensions = tuple(sorted(IMAGE_EXTENSIONS))
    Options = ImageOptions

    def __init__(self, **options: Any) -> None:
        self.options = o = self.Options(**options)
        self.data_seed = o.data_seed if o.data_seed is not None else o.split_seed
        self.augment = Augment.from_option(o.augment)
        self.metrics: tuple[str, ...] = ("accuracy", "macro-f1")
        self.use_labels([])
        self.items: dict[str, list[ImageItem]] = {}
        self.skipped: list[str] = []
        self._skipped_late: set[str] = set()
        self.preprocessor: ImagePreprocessor | None = None
        self.origin = ""

    @staticmethod
    def contract_example(tmp_path: Path) -> dict[str, Any]:
        """A tiny offline example for Headstart's contract kit: three colour classes, 32 px."""
        from PIL import Image

        colours = {"red": (220, 30, 30), "green": (30, 200, 30), "blue": (30, 30, 220)}
        for split, n in (("train", 4), ("val", 2), ("test", 2)):
            for label, rgb in colours.items():
                folder = tmp_path / "images" / split / label
                folder.mkdir(parents=True, exist_ok=True)
                for i in range(n):
                    shade = tuple(max(0, c - 20 * i) for c in rgb)
                    Image.new("RGB", (16, 16), shade).save(folder / f"{i}.png")
        return {
            "source": {"name": "timm:test_resnet", "pretrained": False},
            "task": {"data": str(tmp_path / "images"), "image_size": 32, "augment": False},
            "inputs": [str(tmp_path / "images" / "test" / c / "0.png") for c in colours],
        }

    # --- reading --------------------------------------------------------------------------
    def _read(self, location: str) -> list[ImageItem]:
        return read_items(location, self.options.path_column, self.options.label_column)

    def _load_splits(self) -> dict[str, list[ImageItem]]:
        data = self.options.data
        if isinstance(data, str) and data.startswith(BUILTIN_PREFIX):
            data = str(BUILTIN_DATASETS[data[len(BUILTIN_PREFIX) :]]())
        self.origin = str(data)
        if isinstance(data, dict):
            return {s: self._read(data[s]) for s in SPLITS if s in data}
        root = Path(data).expanduser()
        if root.is_dir() and (root / "train").is_dir():
            return {s: self._read(str(root / s)) for s in SPLITS if (root / s).is_dir()}
        fractions = self.options.split if self.options.split is not None else {"val": 0.15, "test": 0.15}
        kept = {k: v for k, v in fractions.items() if v > 0}
        return stratified_split(self._read(data), kept, self.options.split_seed)

    def prepare(self, source: SourceModel) -> None:
        """Read and check the data; keep the source's preprocessing (with ``image_size``)."""
        pre = source_preprocessor(source, ImagePreprocessor, self.name, "an image source (timm:…, torchvision:…)")
        size = self.options.image_size
        self.preprocessor = pre.with_overrides({"input_size": size} if size else None)
        splits = self._load_splits()
        train = splits.get("train", [])
        splits["train"] = [
            train[i] for i in sample_per_class([t.label for t in train], self.options.max_per_class, self.data_seed)
        ]
        self.use_labels(check_labels(splits))
        if self.options.check_images:
            for split in list(splits):
                splits[split], bad = verify_images(splits[split], self.options.skip_bad)
                self.skipped.extend(bad)
            fix = "every training image of it is unreadable (skip_bad left them out); fix or replace those files"
            require_every_class(self.labels, [i.label for i in splits["train"]], self.origin, fix)
            self.use_labels(check_labels(splits))
        self.items = {s: v for s, v in splits.items() if v}
        counts = class_counts(self.items["train"])
        if self.options.class_weights:
            total, k = sum(counts.values()), len(self.labels)
            self.class_weight = torch.tensor([total / (k * counts[c]) for c in self.labels])
        if len(self.labels) >= 5:
            self.metrics = ("accuracy", "macro-f1", "top5-accuracy")
        if len(self.labels) < 2:
            raise DataError(f"{self.origin}: only one class ({', '.join(self.labels)}); classification needs two")

    # --- the TargetTask protocol ----------------------------------------------------------------
    def splits(self) -> list[str]:
        return [s for s in SPLITS if s in self.items]

    def dataset(self, split: str, train: bool) -> Examples:
        """Images of ``split`` with the train transform (augmentation) when ``train``, else eval."""
        assert self.preprocessor is not None, "prepare() first"
        transform = self.preprocessor.train_transform(self.augment) if train else self.preprocessor.eval_transform()
        return ImageDataset(self.items[split], self.index, transform, self.options.skip_bad)

    def collate(self, examples: list[Any]) -> Batch:
        good = []
        for ex in examples:
            if isinstance(ex, BadImage):
                self._skipped_late.add(ex.path)
            else:
                good.append(ex)
        if not good:
            raise DataError(f"every image of a batch failed to load: {', '.join(e.path for e in examples)}")
        return {
            "inputs": torch.stack([x for x, _ in good]),
            "targets": torch.tensor([y for _, y in good], dtype=torch.long),
        }

    def build_head(self, spec: FeatureSpec) -> nn.Module:
        hidden = self.options.hidden if self.options.head == "mlp" else None
        return ClassificationHead(spec, len(self.labels), hidden=hidden, dropout=self.options.dropout)

    def predictions(self, outputs: torch.Tensor, batch: Batch) -> tuple[list[Any], list[Any]]:
        """Class indices; with five labels or more, the top five ranked (for ``top5-accuracy``)."""
        if len(self.labels) < 5:
            return super().predictions(outputs, batch)
        top = outputs.float().topk(5, dim=-1).indices.tolist()
        return Ranked.rows(top), batch["targets"].tolist()

    # --- inference (PredictingTask): a trained run used without its training data ---------------
    def inference_state(self) -> dict[str, Any]:
        assert self.preprocessor is not None, "prepare() first"
        return {"labels": list(self.labels), "preprocess": self.preprocessor.describe(), "metrics": list(self.metrics)}

    def restore(self, state: Mapping[str, Any], source: SourceModel) -> None:
        """Labels and the task's preprocessing (``image_size`` included) as trained; no data read."""
        self.use_labels(state["labels"])
        self.preprocessor = ImagePreprocessor().with_overrides(state["preprocess"])
        self.metrics = tuple(state.get("metrics", self.metrics))

    def predict_example(self, raw: Any) -> torch.Tensor:
        """An image file (``str`` / ``Path``, or a dict with ``path_column``) or a PIL image."""
        assert self.preprocessor is not None, "restore() or prepare() first"
        from PIL import Image

        image = (
            raw.convert("RGB")
            if isinstance(raw, Image.Image)
            else open_image(input_path(raw, self.options.path_column))
        )
        return self.preprocessor.eval_transform()(image)

    def predict_collate(self, examples: list[torch.Tensor]) -> Batch:
        return {"inputs": torch.stack(examples)}

    def example_batch(self) -> Batch:
        """Two random images of the trained size (what exporters trace)."""
        assert self.preprocessor is not None, "restore() or prepare() first"
        size = self.preprocessor.input_size
        return {"inputs": torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(0))}

    def labelled_dataset(self, data: Any) -> Examples:
        """An ImageFolder tree or a CSV of ``path,label``, with the trained label set."""
        items = self._read(str(data))
        for item in items:
            if item.label not in self.index:
                raise DataError(
                    f"{item.where}: label {item.label!r} is not one the model knows ({', '.join(self.labels)})"
                )
        assert self.preprocessor is not None, "restore() or prepare() first"
        return ImageDataset(items, self.index, self.preprocessor.eval_transform(), self.options.skip_bad)

    def summary(self) -> dict[str, Any]:
        skipped = sorted(set(self.skipped) | self._skipped_late)
        return {
            "data": self.origin,
            "classes": len(self.labels),
            "labels": list(self.labels),
            "examples": {s: len(v) for s, v in self.items.items()},
            "train_class_counts": class_counts(self.items.get("train", [])),
            "class_weights": self.class_weight.tolist() if self.class_weight is not None else None,
            "skipped_images": len(skipped),
            "skipped_files": skipped[:20],
            "image_size": self.preprocessor.input_size if self.preprocessor else None,
            "augment": self.augment is not None,
        }
