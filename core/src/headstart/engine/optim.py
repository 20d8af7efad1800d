"""The run's optimizer: one fixed group layout for checkpoints, one kernel call per learning rate.

The freeze engine lays parameters out in groups per block × {decay, no-decay}, the same in every
phase, so a checkpoint's optimizer state always fits (``docs/design.md``). Stepping those groups
one by one costs a kernel call (and its Python around it) per group — 16 for a 6-layer encoder
where the Hugging Face Trainer has 2. ``merged_step`` steps every set of groups that share all
their hyperparameters (learning rate, weight decay, betas …) as one group, then puts the layout
back: ``state_dict()`` and ``param_groups`` keep the fixed layout, and each parameter's update is
the same element-wise arithmetic, so results are bit-identical to stepping group by group. A step
leaves out parameters without a gradient (frozen ones), which both optimizers skip anyway.
Where the device has it, the fused kernel (``fused=True``) replaces a dozen small ops per parameter.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

#: Group keys that do not change the arithmetic (the freeze engine's bookkeeping).
_BOOKKEEPING = ("params", "name", "base_lr")


def merged_groups(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``groups`` with those that share every hyperparameter joined into one (in order)."""
    merged: dict[Any, dict[str, Any]] = {}
    for g in groups:
        hyper = g.copy()  # C-level copy and deletes: this runs every step
        for k in _BOOKKEEPING:
            hyper.pop(k, None)
        key: Any = tuple(hyper.items())  # (key, value) pairs: equal only when every hyperparameter is
        try:
            hash(key)
        except TypeError:  # an unhashable hyperparameter: step this group on its own
            key = id(g)
        if key in merged:
            merged[key]["params"].extend(g["params"])
        else:
            merged[key] = {**g, "params": list(g["params"])}
    return list(merged.values())


class _MergedStep(torch.optim.Optimizer):
    """Mixin: ``step`` over merged groups, the fixed layout everywhere else."""

    def step(self, closure: Callable[[], float] | None = None) -> Any:  # type: ignore[override]
        layout = self.param_groups
        # only parameters with a gradient take a step (AdamW and SGD skip the others anyway): a head
        # trained over a frozen source then steps its few tensors, not a walk over every parameter
        live = [{**g, "params": ps} for g in layout if (ps := [p for p in g["params"] if p.grad is not None])]
        self.param_groups = merged_groups(live)
        try:
            return super().step(closure)
        finally:
            self.param_groups = layout


class AdamW(_MergedStep, torch.optim.AdamW):
    """``torch.optim.AdamW`` whose step joins groups that share their hyperparameters."""


class SGD(_MergedStep, torch.optim.SGD):
    """``torch.optim.SGD`` whose step joins groups that share their hyperparameters."""


def make_optimizer(
    groups: list[dict[str, Any]], name: str, device: torch.device, momentum: float = 0.9
) -> torch.optim.Optimizer:
    """AdamW or SGD over ``groups`` (the freeze engine's layout), fused where the device has it."""
    fused = device.type in ("cpu", "cuda") and all(p.is_floating_point() for g in groups for p in g["params"])
    if name == "sgd":
        return SGD(groups, lr=0.0, momentum=momentum, fused=fused or None)
    return AdamW(groups, lr=0.0, fused=fused or None)
