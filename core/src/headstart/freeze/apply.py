"""The one place that applies a freeze plan to a model and its optimizer.

:class:`Freezer` owns the block map of a :class:`~headstart.model.TransferModel`, builds the
optimizer's parameter groups once (a fixed layout, see :func:`~headstart.freeze.plan.group_specs`),
and on every phase change sets ``requires_grad``, the normalisation modes, the learning rate of
each group, and the hooks that run the frozen prefix under ``torch.no_grad()``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ..interfaces import NormMode, Phase
from ..model import TransferModel
from .blockmap import BlockInfo, member_modules, resolve_blocks
from .plan import FreezePlan, GroupSpec, compute_plan, group_specs


class FreezeStateError(ValueError):
    """A saved freeze state that does not match the model (a different block map)."""


class _NoGradPrefix:
    """Forward hooks that disable autograd from the first module of the first block to the end
    of the last frozen block, so the frozen prefix keeps no activations for backward."""

    def __init__(self) -> None:
        self._handles: list[Any] = []
        self._saved: list[bool] = []
        self._end = ""

    def install(self, model: nn.Module, prefix: Sequence[BlockInfo], rest: Sequence[BlockInfo]) -> None:
        """Hooks for ``prefix`` (the frozen blocks in front); each block of ``rest`` checks on entry
        that the prefix has ended, so a block map in the wrong order fails loudly."""
        self.remove()
        first = next((m for b in prefix for m in member_modules(model, b)), None)
        last = next((m for b in reversed(prefix) for m in reversed(list(member_modules(model, b)))), None)
        if first is None or last is None:
            return
        self._end = f"{prefix[-1].name!r} (its last member {prefix[-1].members[-1]!r})"
        self._handles.append(first.register_forward_pre_hook(self._enter))
        self._handles.append(last.register_forward_hook(self._leave, always_call=True))
        for block in rest:
            entry = next(iter(member_modules(model, block)), None)
            if entry is not None:
                self._handles.append(entry.register_forward_pre_hook(self._check))

    def _check(self, module: nn.Module, args: Any) -> None:
        """A block after the prefix starts: by then the prefix must have ended."""
        if self._saved:
            torch.set_grad_enabled(self._saved[0])
            self._saved.clear()
            raise RuntimeError(
                f"the frozen prefix should end after block {self._end}, but a later block started first; "
                "the source's block map must list blocks and members in the order its forward calls them"
            )

    def _enter(self, module: nn.Module, args: Any) -> None:
        self._saved.append(torch.is_grad_enabled())
        torch.set_grad_enabled(False)

    def _leave(self, module: nn.Module, args: Any, output: Any) -> None:
        if self._saved:
            torch.set_grad_enabled(self._saved.pop())

    def remove(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()
        self._saved.clear()


class Freezer:
    """Applies freeze plans to one model; keeps its state by parameter name."""

    def __init__(
        self,
        model: TransferModel,
        lr: float,
        weight_decay: float = 0.0,
        *,
        norm_mode: NormMode | str | None = None,
        keep_frozen: Sequence[str] = (),
        head_lr_scale: float = 1.0,
        added: frozenset[str] = frozenset(),
    ) -> None:
        self.model = model
        self.lr = lr
        self.weight_decay = weight_decay
        self.norm_mode = NormMode(norm_mode) if norm_mode is not None else None
        self.keep_frozen = tuple(keep_frozen)
        if not head_lr_scale > 0:
            raise ValueError(f"head_lr_scale must be > 0, got {head_lr_scale}")
        self.head_lr_scale = head_lr_scale
        self.blocks = resolve_blocks(model, model.blocks)
        self._params = dict(model.named_parameters())
        unknown = sorted(added - set(self._params))
        if unknown:
            raise ValueError(f"added parameter(s) {', '.join(unknown[:3])} are not parameters of the model")
        self.added = added
        self.groups: list[GroupSpec] = group_specs(self.blocks, {n: p.ndim for n, p in self._params.items()})
        self.plan: FreezePlan | None = None
        self.phase_index = -1
        self._prefix = _NoGradPrefix()

    @property
    def block_names(self) -> list[str]:
        return [b.name for b in self.blocks]

    def rebind(self) -> None:
        """Take the model's parameters again after something replaced them (FSDP's sharding):
        the same names, new objects; call before building the optimizer."""
        params = dict(self.model.named_parameters())
        if list(params) != list(self._params):
            raise FreezeStateError("the model's parameter names changed; rebind only follows a replacement")
        self._params = params

    def compute(self, phase: Phase) -> FreezePlan:
        """The plan for ``phase`` (pure; nothing is applied)."""
        return compute_plan(
            phase,
            self.blocks,
            self.lr,
            norm_mode=self.norm_mode,
            keep_frozen=self.keep_frozen,
            head_lr_scale=self.head_lr_scale,
            added=self.added,
        )

    def param_groups(self) -> list[dict[str, Any]]:
        """Optimizer parameter groups: every parameter, in the fixed layout, named."""
        return [
            {
                "name": g.name,
                "params": [self._params[p] for p in g.params],
                "weight_decay": self.weight_decay if g.decay else 0.0,
                "lr": 0.0,
                "base_lr": 0.0,
            }
            for g in self.groups
        ]

    def apply(self, phase: Phase, phase_index: int, optimizer: torch.optim.Optimizer | None = None) -> FreezePlan:
        """Put the model (and optimizer) into ``phase``. The only writer of ``requires_grad``."""
        plan = self.compute(phase)
        for name, p in self._params.items():
            p.requires_grad_(name in plan.trainable_names)

        modules = dict(self.model.named_modules())
        self.model.lock_eval([modules[m] for m in self.locked_modules(plan)])

        self._prefix.install(self.model, self.blocks[: plan.frozen_prefix], self.blocks[plan.frozen_prefix :])

        if optimizer is not None:
            set_base_lr(optimizer, plan.group_lr)
        self.plan, self.phase_index = plan, phase_index
        return plan

    def trainable_params(self) -> list[nn.Parameter]:
        """The parameters that train now, in the model's order."""
        return [p for p in self._params.values() if p.requires_grad]

    def locked_modules(self, plan: FreezePlan) -> list[str]:
        """Names of the modules ``plan`` keeps in eval mode: every module of a frozen block (a
        fixed function: dropout off, statistics fixed) and the norm layers of a training block
        whose ``norm_mode`` is not ``train``."""
        locked: list[str] = []
        for b in self.blocks:
            row = plan.row(b.name)
            if not row.trainable:
                locked.extend(b.modules)
            elif row.norm_mode is not NormMode.TRAIN:
                locked.extend(b.norm_modules)
        return locked

    def moving_buffers(self, phases: Sequence[Phase]) -> frozenset[str]:
        """Names of the buffers that training in ``phases`` can change: those of modules some
        phase leaves in training mode (a BatchNorm's running statistics). The buffers of modules
        every phase keeps in eval mode stay as the source gave them."""
        always_locked = set.intersection(*(set(self.locked_modules(self.compute(p))) for p in phases))
        return frozenset(
            f"{owner}.{name}" if owner else name
            for owner, module in self.model.named_modules()
            if owner not in always_locked
            for name, _ in module.named_buffers(recurse=False)
        )

    def remove_hooks(self) -> None:
        self._prefix.remove()

    # --- state by parameter name ----------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        plan = self.plan
        return {
            "phase_index": self.phase_index,
            "phase_name": plan.phase.name if plan else None,
            "trainable": sorted(plan.trainable_names) if plan else [],
            "groups": [{"name": g.name, "params": list(g.params)} for g in self.groups],
        }

    def check_state(self, state: dict[str, Any]) -> None:
        """Refuse a saved state whose optimizer group layout differs from this model's."""
        saved = [(g["name"], tuple(g["params"])) for g in state.get("groups", [])]
        mine = [(g.name, g.params) for g in self.groups]
        if saved != mine:
            for (sn, sp), (mn, mp) in zip(saved, mine, strict=False):
                if sn != mn or sp != mp:
                    diff = next((f"{a!r} vs {b!r}" for a, b in zip(sp, mp, strict=False) if a != b), "sizes differ")
                    raise FreezeStateError(
                        f"checkpoint's parameter group {sn!r} does not match the model's {mn!r} ({diff}); "
                        "the checkpoint was written for a different source or block map"
                    )
            raise FreezeStateError(
                f"checkpoint has {len(saved)} parameter groups, the model has {len(mine)}; "
                "the checkpoint was written for a different source or block map"
            )


def set_base_lr(optimizer: torch.optim.Optimizer, group_lr: dict[str, float]) -> None:
    """Set each named group's base learning rate (the schedule scales it every step)."""
    for g in optimizer.param_groups:
        g["base_lr"] = group_lr[g["name"]]


def scale_lr(optimizer: torch.optim.Optimizer, factor: float) -> None:
    for g in optimizer.param_groups:
        g["lr"] = g["base_lr"] * factor
