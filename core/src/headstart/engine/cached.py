"""Which cached features a head-only phase trains and evaluates on, label budgets included.

A phase that trains only the head reads the source's features of each split from the
:class:`~.feature_cache.FeatureCache` (computed on first use). A run with a label budget
(:class:`~headstart.data.budget.BudgetDraw`) takes its training examples' rows of the *full*
split's entry — keyed as a run without the budget keys it, so every budget and seed of a
``compare`` matrix shares one computation — and keys its val and test splits the same way (a
budget draws training examples only). The full split is computed when the entry is missing and
the cache is shared (``feature_cache_dir`` set, as ``compare`` sets it); a run on its own computes
just its budgeted examples, which costs less than the whole split. ``cached_features`` (tools
that need features without a run) reads and writes the same entries through :func:`entry`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.utils.data import DataLoader

from ..data.budget import BudgetDraw
from ..freeze.plan import FreezePlan
from ..model import TransferModel
from .feature_cache import CachedSplit, FeatureCache, Values, compute_features, feature_batch_size, split_key
from .loaders import make_loader
from .run_state import RunContext
from .settings import TrainerSettings, resolve_workers

Computed = tuple[Values, bool, dict[str, Any] | None]


def cached_split(run: RunContext, cache: FeatureCache, plan: FreezePlan, split: str) -> CachedSplit | None:
    """Cached features of ``split`` when ``plan`` trains only the head (else None)."""
    head_only = plan.frozen_prefix == len(run.freezer.blocks) - 1 and plan.rows[-1].trainable
    if not head_only or run.settings.feature_cache == "off" or run.dist.enabled or split not in run.task.splits():
        return None
    if run.settings.feature_cache == "auto" and run.settings.max_steps_per_epoch is not None:
        return None  # a capped (smoke) epoch uses a few examples: computing them all would cost more

    def own() -> Computed:
        size = feature_batch_size(run.settings.eval_batch_size or run.settings.batch_size, run.device)
        loader = make_loader(run, split, train=False, batch_size=size)
        return compute_features(run.model, loader, run.device, run.precision)  # type: ignore[arg-type]

    def other(task: Any, data: Any) -> Computed:
        return compute_features(run.model, task_loader(task, data, run.settings, run.device), run.device, run.precision)

    size = len(run.task.dataset(split, train=False))
    return entry(cache, run.config, run.budget, split, size, run.model, run.precision, own, other)


def entry(
    cache: FeatureCache,
    config: dict[str, Any],
    draw: BudgetDraw | None,
    split: str,
    size: int,
    model: TransferModel,
    precision: str,
    own: Callable[[], Computed],
    other: Callable[[Any, Any], Computed],
) -> CachedSplit:
    """The cache entry of ``split`` (``size`` examples) for a run's resolved ``config``: with a
    label budget ``draw``, the drawn rows of the full split's entry (see the module's docstring).
    ``own()`` computes the run's own split; ``other(task, data)`` a split of another task."""
    backbone = model.backbone
    if draw is not None and (split != "train" or size == len(draw.indices)):
        if split != "train":  # the budget leaves val and test whole: share them across budgets and seeds
            return cache.get(split_key(draw.full_config, split, size, backbone, precision), own)
        key = split_key(draw.full_config, split, draw.size, backbone, precision)
        full = cache.find(key)
        if full is None and cache.shared:
            data = (task := draw.full_task()).dataset(split, train=False)
            if len(data) == draw.size:  # the split the budget was drawn from
                full = cache.get(key, lambda: other(task, data))
        if full is not None:
            return full.subset(draw.indices)
    return cache.get(split_key(config, split, size, backbone, precision), own)


def task_loader(task: Any, data: Any, settings: TrainerSettings, device: torch.device) -> DataLoader[Any]:
    """Batches of ``data`` (a split of ``task``), in order, for computing features."""
    return DataLoader(
        data,
        batch_size=feature_batch_size(settings.eval_batch_size or settings.batch_size, device),
        shuffle=False,
        collate_fn=task.collate,
        num_workers=resolve_workers(settings.num_workers, device.type),
    )
