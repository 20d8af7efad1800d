"""Cached source features for an experiment, without training: ``cached_features(config, split)``.

The same entries the training engine uses (same keys, same files), so a tool that looks at
features — ranking sources before training, a probe fit outside a run — and the runs of a
``compare`` matrix share one computation per (source, task, split).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch.utils.data import DataLoader

from ..engine.device import select_device, select_precision
from ..engine.feature_cache import CachedSplit, FeatureCache, compute_features, split_key
from ..engine.settings import resolve_workers
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
    loader: DataLoader[Any] = DataLoader(
        data,  # type: ignore[arg-type]  # any len + getitem works (a list)
        batch_size=settings.eval_batch_size or settings.batch_size,
        shuffle=False,
        collate_fn=built.task.collate,
        num_workers=resolve_workers(settings.num_workers, device.type),
    )
    mode = "disk" if cache_dir is not None else "memory"
    cache = FeatureCache(mode, Path(cache_dir or "."), settings.feature_cache_max_mb)
    precision = select_precision(settings.precision, device)
    key = split_key(config.to_dict(), split, len(data), built.model.backbone, precision)  # type: ignore[arg-type]
    built.model.to(device)
    return cache.get(key, lambda: compute_features(built.model, loader, device, precision))
