"""Divergence: a non-finite loss or gradient is caught, never trained on silently, never saved.

With ``trainer.on_nonfinite: stop`` the check costs no host-device sync per step: each optimizer
step's loss and gradient norm are kept and tested at the loop's existing sync points
(``log_every`` and the end of the epoch, and every :data:`MAX_KEPT` steps), where the first bad
step is named, and the run ends with :class:`TrainingDiverged` before the epoch's checkpoint is
written. With ``skip`` each step is checked on the host and a bad one is not applied (the step
counter still advances, so the schedule stays on time). Under fp16 only the loss is watched
here: overflowed gradients are the loss scaler's to skip (``loss_scale.py``).

The loss is checked at every step. The gradient norm is read only where it is computed anyway —
clipping (``trainer.clip_grad_norm``), fp16's overflow test — or needed before the step
(``skip``); otherwise (``stop`` without clipping) computing it would cost a reduction over every
gradient per step for nothing a later check misses: an optimizer step with non-finite gradients
makes the weights it touches non-finite, so the next step's loss is not finite (the run stops
naming that step), and the end-of-epoch check of the weights, which runs before any checkpoint is
written, catches the rest. A non-finite ``best`` or ``last`` is never saved either way.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Collection

import torch
from torch import nn

from . import delta, fsdp
from .distributed import is_dtensor
from .settings import TrainerSettings

#: The most optimizer steps whose loss and gradient norm the watch keeps before testing them.
MAX_KEPT = 256


class TrainingDiverged(RuntimeError):
    """Training produced a non-finite loss, gradient or weight."""


class NonFiniteWatch:
    """The first optimizer step whose loss or gradient norm was not finite.

    ``record`` costs no tensor op: it keeps the step's loss and gradient norm (tensors the step
    computed anyway); ``check`` tests what was kept since the last check in a few ops and one
    host-device sync, and only when something is not finite looks for the first bad step. At
    most :data:`MAX_KEPT` steps are kept: ``record`` tests them then (one sync per that many
    steps) and remembers the first bad one for the next ``check``."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self._steps: list[int] = []
        self._losses: list[torch.Tensor] = []
        self._norms: list[torch.Tensor | None] = []
        self._found: tuple[str, int] | None = None  # the first bad step of an earlier test

    def bad(self, loss: torch.Tensor, grad_norm: torch.Tensor | None) -> torch.Tensor:
        """A boolean tensor: this step's loss or gradient norm is not finite (no sync). The norm
        is None under fp16 loss scaling, where overflowed gradients are the scaler's to skip."""
        finite = torch.isfinite(loss.detach().float())
        return ~(finite & torch.isfinite(grad_norm.float())) if grad_norm is not None else ~finite

    def record(self, step: int, loss: torch.Tensor, grad_norm: torch.Tensor | None) -> None:
        """Keep optimizer step ``step``'s loss and its gradient norm (None when the step did not
        read it) until the next :meth:`check`."""
        self._steps.append(step)
        self._losses.append(loss.detach())
        self._norms.append(grad_norm)
        if len(self._steps) >= MAX_KEPT:
            self._test()

    def check(self, epoch: int, hint: str | Callable[[], str]) -> None:
        """Raise :class:`TrainingDiverged` naming the first bad step recorded since the last check
        (one host-device sync; none when nothing was recorded). ``hint`` (or what it returns,
        asked only then) ends the message."""
        self._test()
        if self._found is not None:
            what, step = self._found
            self._found = None
            raise diverged(f"non-finite {what}", step, epoch, hint if isinstance(hint, str) else hint())

    def _test(self) -> None:
        """Test the kept steps and forget them, remembering the first bad one (if no earlier)."""
        if not self._steps:
            return
        steps, losses, norms = self._steps, self._losses, self._norms
        self._steps, self._losses, self._norms = [], [], []
        read = [n for n in norms if n is not None]
        if self._found is not None or bool(torch.isfinite(torch.stack([t.float() for t in (*losses, *read)])).all()):
            return
        for step, loss, norm in zip(steps, losses, norms, strict=True):
            if not bool(torch.isfinite(loss).all()):
                self._found = ("loss", step)
                return
            if norm is not None and not bool(torch.isfinite(norm).all()):
                self._found = ("gradients", step)
                return


def norm_read(settings: TrainerSettings, scaled: bool) -> bool:
    """Whether the step reads the gradient norm: to clip, for fp16's overflow test (``scaled``),
    or to skip a bad step before it is applied (``on_nonfinite: skip``)."""
    return settings.clip_grad_norm is not None or scaled or settings.on_nonfinite == "skip"


def grad_norm(params: list[nn.Parameter], clip: float | None) -> torch.Tensor:
    """The total gradient norm (clipping to ``clip`` on the way, when given): what
    ``torch.nn.utils.get_total_norm`` and ``clip_grads_with_norm_`` compute, to the bit. Gradients
    of one device and dtype (a run's usual case) skip their grouping, which in a head's steps on
    cached features cost several times the arithmetic; float32 ones on a CPU get their clipping
    coefficient from :func:`clip_coefficient` and are not multiplied when it is 1."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.zeros(())
    first = grads[0]
    if is_dtensor(first) or any(g.device != first.device or g.dtype != first.dtype for g in grads):
        return _grad_norm_grouped(params, grads, clip)
    norm: torch.Tensor = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads, 2.0)), 2.0)
    if clip is not None:
        if norm.device.type == "cpu" and norm.dtype == torch.float32:
            coefficient = clip_coefficient(float(norm), clip)  # a CPU tensor is read without waiting
            if coefficient != 1.0:  # × 1.0 changes no gradient: nothing to do
                torch._foreach_mul_(grads, coefficient)
        else:
            torch._foreach_mul_(grads, torch.clamp(clip / (norm + 1e-6), max=1.0))
    return norm


def clip_coefficient(norm: float, clip: float) -> float:
    """``torch.clamp(clip / (norm + 1e-6), max=1.0)`` for a float32 ``norm``, as torch computes it
    on a CPU (``clip / t`` is ``t.reciprocal() * clip``, each op rounded to float32), without its
    four kernel calls, which on a head's small gradients cost as much as the norm itself. Each op
    runs in double and is rounded to float32: for +, × and ÷ of float32 values that is exactly
    float32 arithmetic (a double has more than 2 × 24 + 2 bits)."""
    t = _f32(norm + _f32(1e-6))
    scaled = _f32(_f32(1.0 / t) * _f32(clip))  # t ≥ 1e-6: never a division by zero
    return min(scaled, 1.0)  # nan stays nan, as torch.clamp leaves it


def _f32(x: float) -> float:
    """``x`` rounded to the nearest float32 (±inf beyond its range)."""
    return ctypes.c_float(x).value


def _grad_norm_grouped(params: list[nn.Parameter], grads: list[torch.Tensor], clip: float | None) -> torch.Tensor:
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
