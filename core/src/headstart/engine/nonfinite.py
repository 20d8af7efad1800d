"""Divergence: a non-finite loss or gradient is caught, never trained on silently, never saved.

With ``trainer.on_nonfinite: stop`` the check stays on the device (no host-device sync per step):
the first bad optimizer step is recorded in a tensor, read at the loop's existing sync points
(``log_every`` and the end of the epoch), and the run ends with :class:`TrainingDiverged` before
the epoch's checkpoint is written. With ``skip`` each step is checked on the host and a bad one is
not applied (the step counter still advances, so the schedule stays on time). Under fp16 only the
loss is watched here: overflowed gradients are the loss scaler's to skip (``loss_scale.py``).

The loss is checked at every step. The gradient norm is read only where it is computed anyway —
clipping (``trainer.clip_grad_norm``), fp16's overflow test — or needed before the step
(``skip``); otherwise (``stop`` without clipping) computing it would cost a reduction over every
gradient per step for nothing a later check misses: an optimizer step with non-finite gradients
makes the weights it touches non-finite, so the next step's loss is not finite (the run stops
naming that step), and the end-of-epoch check of the weights, which runs before any checkpoint is
written, catches the rest. A non-finite ``best`` or ``last`` is never saved either way.
"""

from __future__ import annotations

from collections.abc import Collection

import torch
from torch import nn

from . import delta, fsdp
from .distributed import is_dtensor
from .settings import TrainerSettings

_KINDS = {1: "loss", 2: "gradients"}


class TrainingDiverged(RuntimeError):
    """Training produced a non-finite loss, gradient or weight."""


class NonFiniteWatch:
    """The first optimizer step whose loss or gradient norm was not finite, kept on the device."""

    def __init__(self, device: torch.device) -> None:
        self.first = torch.full((), -1, dtype=torch.long, device=device)  # 4 * step + kind, -1: none
        self.device = device

    def bad(self, loss: torch.Tensor, grad_norm: torch.Tensor | None) -> torch.Tensor:
        """A boolean tensor: this step's loss or gradient norm is not finite (no sync). The norm
        is None under fp16 loss scaling, where overflowed gradients are the scaler's to skip."""
        finite = torch.isfinite(loss.detach().float())
        return ~(finite & torch.isfinite(grad_norm.float())) if grad_norm is not None else ~finite

    def record(self, step: int, loss: torch.Tensor, grad_norm: torch.Tensor | None) -> None:
        """Keep ``step`` if it is the first bad one (a handful of tensor ops, no sync: this runs
        every optimizer step)."""
        loss_ok = torch.isfinite(loss.detach())
        bad = ~(loss_ok & torch.isfinite(grad_norm)) if grad_norm is not None else ~loss_ok
        code = torch.where(loss_ok, 2, 1) + 4 * step  # the kind: the loss, else the gradients
        self.first = torch.where((self.first < 0) & bad, code, self.first)

    def check(self, epoch: int, hint: str) -> None:
        """Raise :class:`TrainingDiverged` if a bad step was recorded (one host-device sync)."""
        code = int(self.first)
        if code >= 0:
            step, kind = divmod(code, 4)
            raise diverged(f"non-finite {_KINDS[kind]}", step, epoch, hint)


def norm_read(settings: TrainerSettings, scaled: bool) -> bool:
    """Whether the step reads the gradient norm: to clip, for fp16's overflow test (``scaled``),
    or to skip a bad step before it is applied (``on_nonfinite: skip``)."""
    return settings.clip_grad_norm is not None or scaled or settings.on_nonfinite == "skip"


def grad_norm(params: list[nn.Parameter], clip: float | None) -> torch.Tensor:
    """The total gradient norm (clipping to ``clip`` on the way, when given)."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.zeros(())
    norm = torch.nn.utils.get_total_norm(grads)
    if is_dtensor(norm):  # sharded gradients (fsdp): the norm over every rank's shard
        norm = norm.full_tensor()
    if clip is not None:
        torch.nn.utils.clip_grads_with_norm_(params, clip, norm)
    return norm


def weights_finite(model: nn.Module, keys: Collection[str] | None = None) -> bool:
    """Whether every parameter and floating buffer is finite (one host-device sync); with
    ``keys``, the state-dict entries of those names (what a delta checkpoint stores)."""
    found = [*model.parameters(), *model.buffers()] if keys is None else delta.entries(model, keys).values()
    tensors = [t for t in found if t.is_floating_point()]
    if not tensors:
        return True
    if any(is_dtensor(t) for t in tensors):  # sharded (fsdp): every rank checks its shards
        return fsdp.all_finite(tensors)
    return bool(torch.stack([torch.isfinite(t).all() for t in tensors]).all())


def diverged(what: str, step: int, epoch: int, hint: str) -> TrainingDiverged:
    return TrainingDiverged(f"training diverged: {what} at step {step} (epoch {epoch}); {hint}")
