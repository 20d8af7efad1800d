"""One source's features on a task's train split, pooled the way the task's head pools them.

The features go through the engine's frozen-feature cache (:mod:`headstart.engine.feature_cache`)
under the same key a run uses, so ranking sources and then training a linear probe (or the LP
phase of LP-FT) on one of them computes its features once when both share a cache directory.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from ..engine.device import select_device, select_precision
from ..engine.feature_cache import CachedSplit, FeatureCache, cache_key, compute_features, weights_hash
from ..experiment.build import Built, build
from ..experiment.config import ExperimentConfig
from ..heads import pool
from ..options import ConfigError

SPLIT = "train"


class UnsupportedTaskError(ConfigError):
    """The task has no single target per example (token tagging, CTC transcription)."""


@dataclass
class TaskFeatures:
    """Pooled features ``[n, D]`` of one source on a task's train split and their targets."""

    features: torch.Tensor
    targets: torch.Tensor
    regression: bool
    pooling: str | None
    seconds: float
    cache: str  # "computed" or "reused"


def _loader(built: Built, config: ExperimentConfig) -> DataLoader[Any]:
    """The split in index order, batched like the engine's evaluation loader (one process)."""
    s = config.trainer
    return DataLoader(
        built.task.dataset(SPLIT, train=False),
        batch_size=s.eval_batch_size or s.batch_size,
        shuffle=False,
        collate_fn=built.task.collate,
        num_workers=s.num_workers,
    )


def _check_targets(targets: torch.Tensor, task: str) -> bool:
    """True for regression targets; refuses anything that is not one target per example."""
    if targets.ndim == 1 and not targets.is_floating_point():
        return False
    if targets.is_floating_point() and targets.ndim in (1, 2):
        return True
    raise UnsupportedTaskError(
        f"task {task!r} gives targets of shape {tuple(targets.shape)} ({targets.dtype}) per batch; ranking needs "
        "one class index or one real value (vector) per example — token-level and CTC tasks are not supported"
    )


def _pooling(built: Built) -> str | None:
    """How the task's head turns sequence features into one vector (None for vector sources)."""
    if built.source.output_spec.kind == "vector":
        return None
    mode = getattr(built.model.head, "pooling", None)
    if mode is None:
        raise UnsupportedTaskError(
            f"task {built.task.name!r} builds a {type(built.model.head).__name__} over the source's "
            "sequence features without a pooling mode (a per-position head: token tagging, CTC); ranking needs "
            "a task with one target per example whose head pools (e.g. ClassificationHead)"
        )
    return str(mode)


def _pooled(split: CachedSplit, size: int, mode: str | None, chunk: int = 256) -> torch.Tensor:
    rows = []
    for start in range(0, size, chunk):
        feats = split.lookup(torch.arange(start, min(start + chunk, size)), torch.device("cpu"))
        rows.append(pool(feats, mode or "mean").float())  # type: ignore[arg-type]
    return torch.cat(rows)


def task_features(config: ExperimentConfig, cache_dir: Path | None) -> TaskFeatures:
    """Build ``config``'s source and task, then read (or compute and cache) the train features.

    ``cache_dir``: the cache's folder (safetensors files a run with the same folder reuses), or
    None to keep the features in memory only.
    """
    started = time.perf_counter()
    built = build(config)
    if SPLIT not in built.task.splits():
        raise ConfigError(f"task {built.task.name!r} has no {SPLIT!r} split to rank sources on")
    pooling = _pooling(built)
    device = select_device(config.trainer.device)
    precision = select_precision(config.trainer.precision, device)
    model = built.model.to(device)
    loader = _loader(built, config)
    size = len(loader.dataset)  # type: ignore[arg-type]
    conf = config.to_dict()
    key = cache_key(conf["source"], conf["task"], SPLIT, size, weights_hash(model.backbone))
    cache = FeatureCache("disk" if cache_dir is not None else "memory", cache_dir or Path("."), 0.0)
    collected: list[torch.Tensor] = []

    def batches() -> Any:
        for batch in loader:
            collected.append(torch.as_tensor(batch["targets"]))
            yield batch

    split = cache.get(key, lambda: compute_features(model, batches(), device, precision))
    reused = cache.stats["computed"] == 0
    if reused:  # features came from disk; the targets still come from the task's collate
        collected = [torch.as_tensor(batch["targets"]) for batch in _loader(built, config)]
    model.cpu()
    targets = torch.cat([t.cpu() for t in collected])
    regression = _check_targets(targets, built.task.name)
    if targets.shape[0] != size:
        raise UnsupportedTaskError(
            f"task {built.task.name!r}: {targets.shape[0]} targets for {size} examples; ranking needs one per example"
        )
    features = _pooled(split, size, pooling)
    return TaskFeatures(
        features, targets, regression, pooling, time.perf_counter() - started, "reused" if reused else "computed"
    )
