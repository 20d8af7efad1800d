"""Data-parallel training through PyTorch's own engine (``torchrun``, DistributedDataParallel).

``torchrun --nproc-per-node N -m headstart run exp.yaml`` (or ``headstart run --nproc N``) starts N
processes; each builds the same model from the same seed, trains on its shard of every global
batch (``trainer.batch_size`` is the global batch, split evenly across processes), and DDP
averages the gradients. Frozen parameters are left out of DDP's reducer: the model is wrapped
again whenever a phase changes which parameters train, so unfreezing never trips DDP's unused- or
unready-parameter checks. Metrics are computed from the predictions of all ranks; rank 0 alone
writes checkpoints, metrics files and the summary. ``trainer.strategy: fsdp`` shards the model
instead (``engine/fsdp.py``); everything else here is shared by both.
"""

from __future__ import annotations

import datetime
import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeGuard

import torch
import torch.distributed as dist
from torch import nn

if TYPE_CHECKING:
    from torch.distributed.tensor import DTensor


@dataclass(frozen=True)
class Dist:
    """Where this process stands: ``world`` processes, this one is ``rank`` (``local_rank`` on its node)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def from_env() -> Dist:
    """Read torchrun's environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``); one process otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    return Dist(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))


def init(d: Dist, device: torch.device) -> None:
    """Start the process group (NCCL on GPUs, gloo on CPUs) once per process."""
    if d.enabled and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend, rank=d.rank, world_size=d.world, timeout=datetime.timedelta(minutes=30))


def shutdown(wait: bool = True) -> None:
    """End the process group of a run that finished on every rank. ``wait``: a barrier first, so
    that no rank tears down its connections while a peer is still in its last collective (gloo
    peers have aborted with SIGABRT, "terminate called without an active exception", when one rank
    destroyed the group and exited first). Without ``wait`` (a rank that failed, whose peers may
    never reach the barrier) the group is destroyed at once."""
    if dist.is_initialized():
        if wait:
            dist.barrier()
        dist.destroy_process_group()


def wrap(model: nn.Module, d: Dist, device: torch.device) -> nn.Module:
    """A DDP wrapper over the parameters that train now (call again after every phase change);
    a model sharded by ``trainer.strategy: fsdp`` (``engine/fsdp.py``) is returned as it is."""
    if not d.enabled or sharded(model) or not any(p.requires_grad for p in model.parameters()):
        return model
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids, broadcast_buffers=True)


def _loaded(module: str, name: str) -> Any:
    """``module.name`` if ``module`` was imported, else None: torch's FSDP and DTensor modules
    take seconds to import, and nothing is sharded before ``fsdp.shard`` imported them."""
    found = sys.modules.get(module)
    return getattr(found, name, None) if found is not None else None


def sharded(model: nn.Module) -> bool:
    """Whether ``model`` was sharded by ``trainer.strategy: fsdp`` (``engine/fsdp.py``)."""
    cls = _loaded("torch.distributed.fsdp", "FSDPModule")
    return cls is not None and isinstance(model, cls)


def is_dtensor(t: object) -> TypeGuard[DTensor]:
    """Whether ``t`` is a sharded tensor (a DTensor: a parameter, gradient or state under fsdp)."""
    cls = _loaded("torch.distributed.tensor", "DTensor")
    return cls is not None and isinstance(t, cls)


def broadcast(obj: Any, d: Dist) -> Any:
    """Rank 0's ``obj`` on every rank."""
    if not d.enabled:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather_lists(items: list[Any], d: Dist) -> list[Any]:
    """Concatenate every rank's list, in rank order."""
    if not d.enabled:
        return items
    out: list[list[Any]] = [[] for _ in range(d.world)]
    dist.all_gather_object(out, items)
    return [x for part in out for x in part]


def sum_scalar(value: float, d: Dist, device: torch.device) -> float:
    """The sum of ``value`` over all ranks."""
    if not d.enabled:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return float(t.item())


def barrier(d: Dist) -> None:
    if d.enabled:
        dist.barrier()
