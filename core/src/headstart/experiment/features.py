"""Cached source features for an experiment, without training: ``cached_features(config, split)``.

The same entries the training engine uses (same keys, same files, the same rows of the full
split for a label budget: ``engine/cached.py``), so a tool that looks at features — ranking
sources before training, a probe fit outside a run — and the runs of a ``compare`` matrix share
one computation per (source, task, split).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..engine.cached import Computed, entry, task_loader
from ..engine.device import select_device, select_precision
from ..engine.feature_cache import CachedSplit, FeatureCache, compute_features
from .build import Built, build
from .config import ExperimentConfig


def cached_features(
    config: ExperimentConfig, split: str, cache_dir: str | Path | None = None, built: Built | None = None
) -> CachedSplit:
    """The source's features of ``split`` (with the task's per-example fields, e.g. ``targets``)
    for ``config``: read from ``cache_dir`` when an entry is there, else computed (with the eval
    transform) and, when ``cache_dir`` is given, stored there for every later run and call.
    ``built``: the components of ``config`` when the caller has built them already."""
    built = built or build(config)
    if split not in built.task.splits():
        raise ValueError(f"split {split!r}: the task has {', '.join(built.task.splits())}")
    settings = config.trainer
    device = select_device(settings.device)
    data = built.task.dataset(split, train=False)
    mode = "disk" if cache_dir is not None else "memory"
    cache = FeatureCache(mode, Path(cache_dir or "."), settings.feature_cache_max_mb, shared=cache_dir is not None)
    precision = select_precision(settings.precision, device)
    built.model.to(device)

    def compute(task: Any, split_data: Any) -> Computed:
        return compute_features(built.model, task_loader(task, split_data, settings, device), device, precision)

    own = lambda: compute(built.task, data)  # noqa: E731
    return entry(cache, config.to_dict(), built.budget, split, len(data), built.model, precision, own, compute)
