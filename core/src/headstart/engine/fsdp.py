"""Fully sharded data parallel: ``trainer.strategy: fsdp`` (PyTorch's own FSDP2, ``fully_shard``).

Under ``torchrun`` (``headstart run --nproc N``) each process keeps a 1/N shard of every
parameter, gradient and optimizer state; a block's parameters are all-gathered for its forward and
backward and freed again after. Each member module of the source's block map is one FSDP unit
(then the model itself, for what is left), so a unit never spans two blocks. FSDP2 keeps
``requires_grad`` per parameter: frozen blocks, a frozen prefix run under ``torch.no_grad()``, and
blocks or adapters that join at a phase change all work unchanged — the freeze engine stays the
only writer of ``requires_grad`` (on the sharded parameters, which FSDP2 copies to the gathered
ones at every gather; every unit reshards after its forward, so nothing stale stays gathered
across a phase change).

Checkpoints are gathered, not sharded: every rank takes part in gathering each full tensor,
rank 0 writes it — the same files, in the same format, as a single-process run (a run trained
with ``fsdp`` resumes on one process, under ``ddp`` or under ``fsdp``; loading shards the full
tensors again). The full model and optimizer state pass through rank 0's host memory one
checkpoint at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

import torch
import torch.distributed as dist
from safetensors import safe_open
from torch import nn

from ..freeze.apply import Freezer
from ..interfaces import TransferPolicy
from ..model import TransferModel
from .checkpoint import WEIGHTS, CheckpointError, weights_metadata
from .distributed import Dist, is_dtensor, sharded
from .settings import TrainerSettings


class _Run(Protocol):
    """What :func:`shard` reads of a run (a ``RunContext``)."""

    model: TransferModel
    freezer: Freezer
    settings: TrainerSettings
    dist: Dist
    device: torch.device
    precision: str
    policy: TransferPolicy


def shard(run: _Run) -> None:
    """Shard ``run.model`` across the processes when ``trainer.strategy`` is ``fsdp`` (a no-op
    otherwise). Call once, after the model is on its device and before the optimizer is built."""
    if run.settings.strategy != "fsdp" or not run.dist.enabled or sharded(run.model):
        return
    if run.precision == "fp16":
        raise ValueError(
            "trainer.strategy: fsdp does not support trainer.precision: fp16 (its loss scaler sees one "
            "shard of the gradients per process); use bf16 or fp32, or trainer.strategy: ddp"
        )
    if run.policy.regularizer(run.model) is not None:
        raise ValueError(
            f"trainer.strategy: fsdp does not support policy {run.policy.name!r}: its penalty reads whole "
            "parameters, which fsdp keeps sharded; use trainer.strategy: ddp"
        )
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    mesh = init_device_mesh(run.device.type, (run.dist.world,))
    modules = dict(run.model.named_modules())
    members = {m for block in run.freezer.blocks for m in block.members if m in modules and m}
    for name in sorted(members, key=lambda n: -n.count(".")):  # inner units first
        if any(True for _ in modules[name].parameters()):
            fully_shard(modules[name], mesh=mesh, reshard_after_forward=True)
    fully_shard(run.model, mesh=mesh, reshard_after_forward=True)
    run.freezer.rebind()  # the model's parameters are now the sharded ones


# --- gathering: checkpoints in the single-process format ----------------------------------------


class GatheredWeights(nn.Module):
    """A sharded model's full state dict (on rank 0), shaped like a module for the checkpoint writer."""

    def __init__(self, entries: dict[str, torch.Tensor]) -> None:
        super().__init__()
        self.entries = entries

    def state_dict(self, *args: Any, **kwargs: Any) -> dict[str, Any]:  # type: ignore[override]
        return dict(self.entries)


def _full(t: torch.Tensor, keep: bool) -> torch.Tensor | None:
    """The whole of ``t`` on the CPU (a collective for a DTensor: every rank must call it)."""
    whole = t.full_tensor() if is_dtensor(t) else t
    return whole.detach().cpu() if keep else None


def gather_weights(model: nn.Module, main: bool, keys: Iterable[str] | None = None) -> GatheredWeights:
    """Every state-dict entry (or only ``keys``) gathered whole; kept on rank 0 only. Tied
    parameters stay one tensor, so the file is written exactly as for an unsharded model."""
    wanted = None if keys is None else set(keys)
    entries: dict[str, torch.Tensor] = {}
    done: dict[int, torch.Tensor | None] = {}
    for name, t in model.state_dict(keep_vars=True).items():
        if wanted is not None and name not in wanted:
            continue
        if id(t) not in done:
            done[id(t)] = _full(t, main)
        whole = done[id(t)]
        if whole is not None:
            entries[name] = whole
    return GatheredWeights(entries)


def gather_optimizer(optimizer: torch.optim.Optimizer, main: bool) -> dict[str, Any]:
    """``optimizer.state_dict()`` with every sharded state tensor gathered whole (on rank 0)."""
    state = optimizer.state_dict()
    out: dict[int, dict[str, Any]] = {}
    for index in sorted(state["state"]):
        out[index] = {k: _full(v, main) if isinstance(v, torch.Tensor) else v for k, v in state["state"][index].items()}
    return {"state": out if main else {}, "param_groups": state["param_groups"]}


# --- loading: full tensors into the shards ------------------------------------------------------


def _into(target: torch.Tensor, whole: torch.Tensor) -> torch.Tensor:
    """``whole`` laid out like ``target`` (this rank's shard of it, for a DTensor)."""
    if is_dtensor(target):
        from torch.distributed.tensor import distribute_tensor

        return distribute_tensor(
            whole.to(target.device, target.dtype), target.device_mesh, target.placements, src_data_rank=None
        )
    return whole.to(target.device, target.dtype)


def load_weights(ckpt: Path, model: nn.Module) -> None:
    """Load a checkpoint's weights (full or a delta of what trained) into the sharded ``model``."""
    file = ckpt / WEIGHTS
    meta = weights_metadata(ckpt)
    with safe_open(str(file), framework="pt") as f:
        entries = {k: f.get_tensor(k) for k in f.keys()}
    for removed, kept in meta.items():  # tied names the writer dropped
        if kept in entries and removed not in entries:
            entries[removed] = entries[kept]
    own = model.state_dict(keep_vars=True)
    unexpected = sorted(set(entries) - set(own))
    missing = [] if meta.get("delta") == "1" else sorted(set(own) - set(entries))
    if missing or unexpected:
        raise CheckpointError(f"{file}: does not fit the model: missing {missing[:5]}, unexpected {unexpected[:5]}")
    with torch.no_grad():
        for name, whole in entries.items():
            target = own[name]
            local = _into(target, whole)
            (target.to_local() if is_dtensor(target) else target).copy_(
                local.to_local() if is_dtensor(local) else local
            )


def load_optimizer(optimizer: torch.optim.Optimizer, state: Mapping[str, Any]) -> None:
    """Load a gathered (or single-process) optimizer state into an optimizer over sharded parameters."""
    params = [p for g in optimizer.param_groups for p in g["params"]]
    per_param: dict[int, dict[str, Any]] = {}
    for index, entry in state["state"].items():
        p = params[int(index)]
        per_param[index] = {
            k: _into(p, v) if isinstance(v, torch.Tensor) and v.shape == p.shape else v for k, v in entry.items()
        }
    optimizer.load_state_dict({"state": per_param, "param_groups": state["param_groups"]})


# --- every rank runs the same forwards -----------------------------------------------------------


def same_batch_count(model: nn.Module, batches: Iterable[Any], run_extra: Any) -> Iterator[Any]:
    """Yield ``batches``; then, on a sharded model, call ``run_extra(last_batch)`` until this rank
    has run as many batches as the rank with the most (every forward gathers parameters, a
    collective, so an evaluation shard one batch short would leave the others waiting)."""
    count, last = 0, None
    for batch in batches:
        count, last = count + 1, batch
        yield batch
    if not sharded(model):
        return
    most = torch.tensor([count], dtype=torch.long, device=next(model.parameters()).device)
    dist.all_reduce(most, op=dist.ReduceOp.MAX)
    if count < int(most) and last is None:
        raise ValueError(
            "trainer.strategy: fsdp: an evaluation split has fewer examples than processes; "
            "use fewer processes or trainer.strategy: ddp"
        )
    for _ in range(int(most) - count):
        run_extra(last)


def all_finite(tensors: list[torch.Tensor]) -> bool:
    """Whether every (local shard of every) tensor is finite, agreed by all ranks."""
    local = [t.to_local() if is_dtensor(t) else t for t in tensors]
    ok = torch.stack([torch.isfinite(t).all() for t in local]).all() if local else torch.tensor(True)
    flag = ok.to(torch.int32).reshape(1).to(local[0].device if local else "cpu")
    if dist.is_initialized():
        dist.all_reduce(flag, op=dist.ReduceOp.MIN)
    return bool(flag.item())
