"""Which cached features a head-only phase trains and evaluates on, label budgets included.

A phase that trains only the head reads the source's features of each split from the
:class:`~.feature_cache.FeatureCache` (computed on first use). A run with a label budget
(:class:`~headstart.data.budget.BudgetDraw`) takes its training examples' rows of the *full*
split's entry — keyed as a run without the budget keys it, so every budget and seed of a
``compare`` matrix shares one computation — and keys its val and test splits the same way (a
budget draws training examples only). The full split is computed when the entry is missing and
the cache is shared (``feature_cache_dir`` set, as ``compare`` sets it); a run on its own computes
just its budgeted examples, which costs less than the whole split.
"""

from __future__ import annotations

from typing import Any

from torch.utils.data import DataLoader

from ..freeze.plan import FreezePlan
from .feature_cache import CachedSplit, FeatureCache, compute_features, split_key
from .loaders import make_loader
from .run_state import RunContext
from .settings import resolve_workers


def cached_split(run: RunContext, cache: FeatureCache, plan: FreezePlan, split: str) -> CachedSplit | None:
    """Cached features of ``split`` when ``plan`` trains only the head (else None)."""
    head_only = plan.frozen_prefix == len(run.freezer.blocks) - 1 and plan.rows[-1].trainable
    if not head_only or run.settings.feature_cache == "off" or run.dist.enabled or split not in run.task.splits():
        return None
    if run.settings.feature_cache == "auto" and run.settings.max_steps_per_epoch is not None:
        return None  # a capped (smoke) epoch uses a few examples: computing them all would cost more
    size = len(run.task.dataset(split, train=False))
    draw = run.budget
    if draw is not None and (split != "train" or size == len(draw.indices)):
        backbone = run.model.backbone
        if split != "train":  # the budget leaves val and test whole: share them across budgets and seeds
            return cache.get(split_key(draw.full_config, split, size, backbone, run.precision), lambda: _compute(run, split))
        key = split_key(draw.full_config, split, draw.size, backbone, run.precision)
        full = cache.find(key)
        if full is None and cache.shared:
            data = (task := draw.full_task()).dataset(split, train=False)
            if len(data) == draw.size:  # the split the budget was drawn from
                full = cache.get(key, lambda: _compute_full(run, task, data))
        if full is not None:
            return full.subset(draw.indices)
    key = split_key(run.config, split, size, run.model.backbone, run.precision)
    return cache.get(key, lambda: _compute(run, split))


def _compute(run: RunContext, split: str) -> tuple[Any, ...]:
    loader = make_loader(run, split, train=False)
    return compute_features(run.model, loader, run.device, run.precision)  # type: ignore[arg-type]


def _compute_full(run: RunContext, task: Any, data: Any) -> tuple[Any, ...]:
    """The features of ``data``, a split of ``task`` (the run's task without its label budget)."""
    s = run.settings
    loader: DataLoader[Any] = DataLoader(
        data,
        batch_size=s.eval_batch_size or s.batch_size,
        shuffle=False,
        collate_fn=task.collate,
        num_workers=resolve_workers(s.num_workers, run.device.type),
    )
    return compute_features(run.model, loader, run.device, run.precision)
