"""One source's features on a task's train split, pooled the way the task's head pools them.

The features go through the engine's frozen-feature cache (:mod:`headstart.engine.feature_cache`)
under the same key a run uses, so ranking sources and then training a linear probe (or the LP
phase of LP-FT) on one of them computes its features once when both share a cache directory.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import torch

from ..engine.feature_cache import CachedSplit
from ..experiment.build import Built, build
from ..experiment.config import ExperimentConfig
from ..experiment.features import cached_features
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


def _unsupported(task: str, why: str) -> UnsupportedTaskError:
    return UnsupportedTaskError(
        f"task {task!r}: {why}; ranking needs one class index or one real value (vector) per example "
        "— token-level and CTC tasks are not supported"
    )


def _pooling(built: Built) -> str | None:
    """How the task's head turns sequence features into one vector (None for vector sources)."""
    if built.source.output_spec.kind == "vector":
        return None
    mode = getattr(built.model.head, "pooling", None)
    if mode is None:
        raise _unsupported(
            built.task.name,
            f"its {type(built.model.head).__name__} reads the source's sequence features without pooling "
            "them (a per-position head)",
        )
    return str(mode)


def _targets(split: CachedSplit, task: str) -> tuple[torch.Tensor, bool]:
    """The split's targets and whether they are real values (regression)."""
    targets = (split.extras or {}).get("targets")
    if not isinstance(targets, torch.Tensor):
        raise _unsupported(task, "its batches carry no per-example 'targets' tensor")
    if targets.ndim == 1 and not targets.is_floating_point():
        return targets, False
    if targets.is_floating_point() and targets.ndim in (1, 2):
        return targets, True
    raise _unsupported(task, f"its targets are {tuple(targets.shape)} {targets.dtype}")


def _pooled(split: CachedSplit, mode: str | None, chunk: int = 512) -> torch.Tensor:
    if not split.sequence:
        return split.matrix().float()
    rows = []
    for start in range(0, len(split), chunk):
        feats = split.lookup(torch.arange(start, min(start + chunk, len(split))), torch.device("cpu"))
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
    before = set(cache_dir.glob("*.safetensors")) if cache_dir is not None and cache_dir.is_dir() else set()
    split = cached_features(config, SPLIT, cache_dir, built)
    built.model.cpu()
    reused = cache_dir is not None and bool(before) and not (set(cache_dir.glob("*.safetensors")) - before)
    targets, regression = _targets(split, built.task.name)
    features = _pooled(split, pooling)
    return TaskFeatures(
        features, targets, regression, pooling, time.perf_counter() - started, "reused" if reused else "computed"
    )
