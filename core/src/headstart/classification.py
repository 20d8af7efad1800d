"""How a single-label classification task is scored, written once for every domain.

A task whose examples each have one label of ``self.labels`` (images, texts, recordings …)
subclasses :class:`SingleLabelTask` and gets what is the same everywhere: the label set and
its index (:meth:`~SingleLabelTask.use_labels`), the loss (cross-entropy on the logits, weighted per class when ``class_weight`` is set), the
predictions the metrics compare (class indices, against ``batch["targets"]``), and decoding for
``headstart predict`` (the top labels with their probabilities).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from .inference.decode import top_labels
from .interfaces import Batch


class SingleLabelTask:
    """Loss, predictions and decoding of a task that gives each example one of ``labels``.

    Outputs are logits ``[batch, len(labels)]``; ``batch["targets"]`` holds class indices.
    """

    #: the label set, in order; ``index`` maps a label to its class index (see :meth:`use_labels`)
    labels: list[str]
    index: dict[str, int]
    #: a weight per class for the loss (``None``: every class counts the same)
    class_weight: torch.Tensor | None = None

    def use_labels(self, labels: Iterable[Any]) -> None:
        """Make ``labels`` (as strings, in this order) the label set: ``labels`` and ``index``."""
        self.labels = [str(label) for label in labels]
        self.index = {label: i for i, label in enumerate(self.labels)}

    def loss(self, outputs: torch.Tensor, batch: Batch) -> torch.Tensor:
        weight = self.class_weight.to(outputs.device) if self.class_weight is not None else None
        return nn.functional.cross_entropy(outputs.float(), batch["targets"], weight=weight)

    def predictions(self, outputs: torch.Tensor, batch: Batch) -> tuple[list[Any], list[Any]]:
        return outputs.argmax(-1).tolist(), batch["targets"].tolist()

    def decode(self, outputs: torch.Tensor, batch: Batch, top_k: int = 1) -> list[dict[str, Any]]:
        return top_labels(outputs, self.labels, top_k)
