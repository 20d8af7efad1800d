"""Evaluation of one split: loss and the task's metrics, over every rank's shard."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import torch

from ..registry import get_registry
from . import distributed as ddp
from . import fsdp
from .device import autocast, to_device
from .loaders import CachedBatches

if TYPE_CHECKING:
    from .feature_cache import CachedSplit
    from .run_state import RunContext


def compute_metrics(names: Sequence[str], preds: list[Any], refs: list[Any]) -> dict[str, float]:
    registry = get_registry()
    out: dict[str, float] = {}
    for name in names:
        value = registry.metric(name).fn(preds, refs)
        if isinstance(value, Mapping):  # a metric may report several numbers (precision / recall / f1)
            out.update({k: float(v) for k, v in value.items()})
        else:
            out[name] = float(value)
    return out


@torch.no_grad()
def evaluate(run: RunContext, loader: Iterable[Any], cached: CachedSplit | None = None) -> dict[str, float]:
    """Mean loss (weighted by batch size) and every metric the task names. ``cached`` features,
    when given, stand in for the source's forward."""
    model, task, device = run.model, run.task, run.device
    switched = model.head if cached is not None else model  # on cached features only the head runs
    was_training = switched.training
    switched.eval()
    total, count = torch.zeros((), device=device), 0
    preds: list[Any] = []
    refs: list[Any] = []

    def forward_only(batch: Any) -> None:  # fsdp: a rank one batch short joins the others' gathers
        with autocast(device, run.precision):
            model(to_device(batch, device)["inputs"])

    on_device = isinstance(loader, CachedBatches)  # built from the cache, on the run's device
    try:
        for batch in fsdp.same_batch_count(model, loader, forward_only):
            batch = batch if on_device else to_device(batch, device)
            with autocast(device, run.precision):
                if cached is not None:
                    outputs = model.head(cached.features_of(batch, device))
                else:
                    outputs = model(batch["inputs"])
                loss = task.loss(outputs, batch)
            n = len(batch["_index"])
            total += loss.detach().float() * n
            count += n
            p, r = task.predictions(outputs, batch)
            preds.extend(p)
            refs.extend(r)
    finally:
        switched.train(was_training)
    total_sum = ddp.sum_scalar(total.item(), run.dist, device)
    count_sum = ddp.sum_scalar(float(count), run.dist, device)
    preds, refs = ddp.gather_lists(preds, run.dist), ddp.gather_lists(refs, run.dist)
    metrics = {"loss": total_sum / count_sum if count_sum else math.nan}
    metrics.update(compute_metrics(task.metrics, preds, refs))
    return metrics
