"""Evaluation of one split: loss and the task's metrics."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import torch

from ..interfaces import TargetTask
from ..model import TransferModel
from ..registry import get_registry
from .device import autocast, to_device


def compute_metrics(names: Sequence[str], preds: list[Any], refs: list[Any]) -> dict[str, float]:
    registry = get_registry()
    out: dict[str, float] = {}
    for name in names:
        value = registry.metric(name).fn(preds, refs)
        if isinstance(value, dict):  # a metric may report several numbers (precision / recall / f1)
            out.update({k: float(v) for k, v in value.items()})
        else:
            out[name] = float(value)
    return out


@torch.no_grad()
def evaluate(
    model: TransferModel,
    task: TargetTask,
    loader: Iterable[Any],
    device: torch.device,
    precision: str,
) -> dict[str, float]:
    """Mean loss (weighted by batch size) and every metric the task names."""
    was_training = model.training
    model.eval()
    total, count = torch.zeros((), device=device), 0
    preds: list[Any] = []
    refs: list[Any] = []
    try:
        for batch in loader:
            batch = to_device(batch, device)
            with autocast(device, precision):
                outputs = model(batch["inputs"])
                loss = task.loss(outputs, batch)
            n = _batch_size(batch)
            total += loss.detach().float() * n
            count += n
            p, r = task.predictions(outputs, batch)
            preds.extend(p)
            refs.extend(r)
    finally:
        model.train(was_training)
    metrics = {"loss": (total / max(count, 1)).item() if count else math.nan}
    metrics.update(compute_metrics(task.metrics, preds, refs))
    return metrics


def _batch_size(batch: dict[str, Any]) -> int:
    targets = batch.get("targets")
    if isinstance(targets, torch.Tensor):
        return int(targets.shape[0])
    if isinstance(targets, list | tuple):
        return len(targets)
    return 1
