"""Data loaders of a run: the training order that makes resume exact, and evaluation shards.

Every batch carries ``_index`` (each example's position in its split), so cached features of a
head-only phase can be looked up per example. Given a cached split whose batches the cache can
rebuild, a loader iterates over its tensors in the same order and never touches the task's data.
Evaluation on cached vector features takes up to :data:`CACHED_EVAL_ROWS` examples per batch (or
``eval_batch_size`` when larger): the head's outputs for an example are the same in any batch, and
a split of a few hundred examples is then one forward, one loss and one ``predictions`` call
instead of one per ``eval_batch_size`` rows — what evaluating every epoch costs a cached phase.
Every pass over vector features is gathered into buffers of the split (``CachedSplit.pass_batch``),
never handed the cache's own tensors: a head or task that writes into its inputs cannot change
the cache.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from ..interfaces import Features
from .device import to_device
from .feature_cache import CachedSplit
from .run_state import RunContext
from .settings import resolve_workers

#: Most examples per evaluation batch on cached vector features (memory: the head's activations
#: and outputs for that many rows; the features are in memory already).
CACHED_EVAL_ROWS = 8192


class _Indexed(Dataset[tuple[int, Any]]):
    """Examples with their index, so cached features can be looked up per example."""

    def __init__(self, data: Any) -> None:
        self.data = data

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int) -> tuple[int, Any]:
        return i, self.data[i]


class _Collate:
    def __init__(self, collate: Any) -> None:
        self.collate = collate

    def __call__(self, items: list[tuple[int, Any]]) -> dict[str, Any]:
        batch: dict[str, Any] = self.collate([example for _, example in items])
        batch["_index"] = torch.tensor([i for i, _ in items])
        return batch


class CachedBatches:
    """The batches a ``DataLoader`` over a cached split would yield for ``order`` (same examples,
    same order), built from the cache's tensors: no per-example fetch, no collate, no loader
    machinery — what keeps a cached epoch's cost near the head's own steps. Vector features and
    tensor fields are gathered for the whole pass at once, on ``device``, and each batch is a
    slice of them; sequence features (padded per batch) are gathered batch by batch."""

    def __init__(
        self, cached: CachedSplit, order: Iterable[int], batch_size: int, size: int, device: torch.device
    ) -> None:
        self.cached, self.order, self.batch_size, self.size, self.device = cached, order, batch_size, size, device

    def __len__(self) -> int:
        return -(-self.size // self.batch_size)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        index = torch.tensor(list(self.order), dtype=torch.long)
        if self.cached.sequence:
            for chunk in torch.split(index, self.batch_size):
                yield to_device(self.cached.batch(chunk), self.device)
            return
        whole = to_device(self.cached.pass_batch(index), self.device)  # one gather per pass
        for start in range(0, len(index), self.batch_size):
            yield _rows(whole, start, start + self.batch_size)


def _rows(batch: dict[str, Any], start: int, stop: int) -> dict[str, Any]:
    """Examples ``start:stop`` of a batch built from the cache (tensors are sliced, not copied)."""
    out: dict[str, Any] = {}
    for key, value in batch.items():
        if isinstance(value, Features):
            out[key] = Features(value.values[start:stop])
        else:
            out[key] = value[start:stop]
    return out


def make_loader(
    run: RunContext,
    split: str,
    train: bool,
    epoch: int = 0,
    augment: bool = True,
    cached: CachedSplit | None = None,
    batch_size: int | None = None,
) -> DataLoader[Any] | CachedBatches:
    """Training: this rank's share of a permutation seeded by (seed, epoch). Evaluation: this
    rank's strided shard, in order, ``batch_size`` examples per batch (default: the evaluation
    batch size over the processes). With ``cached`` (and its per-example fields), batches are
    built from the cache's tensors on the run's device — same order, no dataset, no transform,
    no collate."""
    s, d = run.settings, run.dist
    from_cache = cached is not None and cached.extras is not None
    data: Any = range(len(cached)) if cached is not None and from_cache else None
    if data is None:
        data = _Indexed(run.task.dataset(split, train=train and augment))
    if train:
        sampler: Any = DistributedSampler(
            data, num_replicas=d.world, rank=d.rank, shuffle=True, seed=run.seed * 100_003
        )
        sampler.set_epoch(epoch)
        batch_size = s.batch_size // d.world
    else:
        sampler = range(d.rank, len(data), d.world)
        batch_size = batch_size or max(1, (s.eval_batch_size or s.batch_size) // d.world)
    if cached is not None and from_cache:
        if not train and not cached.sequence:  # see CACHED_EVAL_ROWS
            batch_size = max(batch_size, min(len(sampler), CACHED_EVAL_ROWS))
        return CachedBatches(cached, sampler, batch_size, len(sampler), run.device)
    workers = resolve_workers(s.num_workers, run.device.type, local_processes())
    return DataLoader(
        data,
        batch_size=batch_size,
        sampler=sampler,
        collate_fn=_Collate(run.task.collate),
        num_workers=workers,
        prefetch_factor=4 if workers else None,
        pin_memory=run.device.type == "cuda",
        generator=torch.Generator().manual_seed(run.seed * 100_003 + epoch),
    )


def local_processes() -> int:
    """Training processes on this node (torchrun's ``LOCAL_WORLD_SIZE``; 1 without torchrun)."""
    return int(os.environ.get("LOCAL_WORLD_SIZE", "1"))


def channels_last(obj: Any) -> Any:
    """4-d float tensors (images) in channels-last memory format; anything else unchanged."""
    if isinstance(obj, torch.Tensor) and obj.ndim == 4 and obj.is_floating_point():
        return obj.contiguous(memory_format=torch.channels_last)
    if isinstance(obj, dict):
        return {k: channels_last(v) for k, v in obj.items()}
    return obj
