"""fp16 training: dynamic loss scaling (``torch.amp.GradScaler``) and when it means divergence.

Under ``trainer.precision: fp16`` the loss is multiplied by a scale before ``backward`` so that
small gradients survive fp16; gradients are unscaled before clipping and the gradient norm. A
step whose gradients overflowed (any of them not finite) is expected now and then: the scaler
skips it and halves the scale (it doubles after 2000 clean steps). That is not divergence, and the
run goes on. It is divergence when

* the **loss** is not finite (no scale produces that), or
* :data:`MAX_SKIPPED_IN_A_ROW` optimizer steps in a row overflowed: the scale has fallen by
  ``2**-MAX_SKIPPED_IN_A_ROW`` and the gradients are still not finite.

Counting stays on the device (no host-device sync per step) and is read at the loop's sync points,
like :class:`~headstart.engine.nonfinite.NonFiniteWatch`. Each epoch's row of ``metrics.jsonl``
gets ``overflow_steps`` (steps the scaler skipped) and ``loss_scale``; the scaler's state and the
count in a row go into every checkpoint, so a resumed fp16 run is exact.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.amp.grad_scaler import GradScaler

from . import optim
from .nonfinite import diverged

#: Overflowed optimizer steps in a row (each one halving the scale) that end an fp16 run.
MAX_SKIPPED_IN_A_ROW = 30


class LossScaler:
    """``torch.amp.GradScaler`` with an on-device count of the steps it skipped. Disabled (any
    precision but fp16) it is a pass-through: plain ``backward`` and ``optimizer.step()``."""

    def __init__(self, device: torch.device, enabled: bool = True) -> None:
        self.enabled = enabled
        self.scaler = GradScaler(device.type, enabled=enabled)
        self.device = device
        self.in_a_row = torch.zeros((), dtype=torch.long, device=device)
        self.skipped = torch.zeros((), dtype=torch.long, device=device)  # this epoch
        self.gave_up_at = torch.full((), -1, dtype=torch.long, device=device)  # the step that hit the limit

    def backward(self, loss: torch.Tensor) -> None:
        self.scaler.scale(loss).backward()  # type: ignore[no-untyped-call]

    def unscale(self, optimizer: torch.optim.Optimizer) -> None:
        """Divide the gradients by the scale (before clipping or reading their norm)."""
        self.scaler.unscale_(optimizer)  # a no-op when disabled

    def step(self, optimizer: torch.optim.Optimizer, grad_norm: torch.Tensor | None, step: int) -> None:
        """Apply the step unless its gradients overflowed (``grad_norm`` not finite: exactly the
        scaler's own test after ``unscale``), update the scale, and count a skip. ``grad_norm``
        may be None only when disabled (the loop reads it only when something needs it)."""
        if not self.enabled:
            optim.step(optimizer)
            return
        assert grad_norm is not None, "fp16 reads the gradient norm at every step (nonfinite.norm_read)"
        self.scaler.step(optimizer)
        self.scaler.update()
        overflow = (~torch.isfinite(grad_norm.float())).to(self.device)
        self.skipped += overflow.long()
        self.in_a_row.copy_(torch.where(overflow, self.in_a_row + 1, 0))
        hit = (self.gave_up_at < 0) & (self.in_a_row >= MAX_SKIPPED_IN_A_ROW)
        self.gave_up_at.copy_(torch.where(hit, step, self.gave_up_at))

    def discard(self) -> None:
        """A step dropped after ``unscale`` (``on_nonfinite: skip``): update the scale only."""
        self.scaler.update()  # a no-op when disabled

    def check(self, epoch: int, hint: str | Callable[[], str]) -> None:
        """Raise :class:`TrainingDiverged` once the limit of skips in a row was reached (one sync);
        ``hint`` (or what it returns) ends the message."""
        if not self.enabled:
            return
        step = int(self.gave_up_at)
        if step >= 0:
            what = (
                f"non-finite gradients in {MAX_SKIPPED_IN_A_ROW} optimizer steps in a row under fp16 loss "
                f"scaling (scale now {self.scaler.get_scale():g})"
            )
            raise diverged(what, step, epoch, hint if isinstance(hint, str) else hint())

    def end_epoch(self) -> dict[str, Any]:
        """The epoch's ``overflow_steps`` and the current ``loss_scale`` (for its metrics row)."""
        row = {"overflow_steps": int(self.skipped), "loss_scale": self.scaler.get_scale()}
        self.skipped.zero_()
        return row

    def state_dict(self) -> dict[str, Any]:
        return {"scaler": self.scaler.state_dict(), "in_a_row": int(self.in_a_row)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.scaler.load_state_dict(state["scaler"])
        self.in_a_row.fill_(int(state["in_a_row"]))
