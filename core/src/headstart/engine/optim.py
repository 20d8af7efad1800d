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

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch.optim.optimizer import _global_optimizer_post_hooks, _global_optimizer_pre_hooks

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

    _only: list[tuple[dict[str, Any], list[torch.Tensor]]] | None = None  # set by ``stepping_only``

    def step(self, closure: Callable[[], float] | None = None) -> Any:  # type: ignore[override]
        layout = self.param_groups
        candidates = self._only if self._only is not None else [(g, g["params"]) for g in layout]
        # only parameters with a gradient take a step (AdamW and SGD skip the others anyway): a head
        # trained over a frozen source then steps its few tensors, not a walk over every parameter
        live = [{**g, "params": ps} for g, group in candidates if (ps := [p for p in group if p.grad is not None])]
        merged = merged_groups(live)
        if closure is None and self._kernel_step(merged):
            return None
        self.param_groups = merged
        parent = super().step.__func__  # type: ignore[attr-defined]
        if getattr(parent, "hooked", False):  # torch's class was used too: its step hooks ran already, around ours
            parent = parent.__wrapped__
        try:
            return parent(self, closure)
        finally:
            self.param_groups = layout

    def _kernel_step(self, groups: list[dict[str, Any]]) -> bool:
        """Step ``groups`` by calling the fused kernel directly, when that is exactly what the
        optimizer's own step would do; False (nothing done) when it is not."""
        return False


def step(optimizer: torch.optim.Optimizer) -> None:
    """``optimizer.step()``. For the run's own optimizers with no step hooks (the optimizer's or
    torch's global ones) and no profiler recording, the step itself without torch's wrapper
    around it, which only walks those hooks inside a profiler range (on a head's few small
    tensors, the wrapper cost as much as the step's kernels)."""
    if (
        isinstance(optimizer, _MergedStep)
        and not optimizer._optimizer_step_pre_hooks
        and not optimizer._optimizer_step_post_hooks
        and not _global_optimizer_pre_hooks
        and not _global_optimizer_post_hooks
        and not torch._C._autograd._profiler_enabled()
    ):
        _MergedStep.step(optimizer)
    else:
        optimizer.step()


@contextmanager
def stepping_only(optimizer: torch.optim.Optimizer, params: Iterable[torch.Tensor]) -> Iterator[None]:
    """Within this block, ``optimizer``'s steps look for gradients among ``params`` alone (the
    parameters that train) instead of walking every parameter of the fixed layout: a frozen
    parameter has no gradient to step. Any other optimizer is left as it is."""
    if not isinstance(optimizer, _MergedStep):
        yield
        return
    ids = {id(p) for p in params}
    only = [(g, [p for p in g["params"] if id(p) in ids]) for g in optimizer.param_groups]
    optimizer._only = [(g, ps) for g, ps in only if ps]
    try:
        yield
    finally:
        optimizer._only = None


class AdamW(_MergedStep, torch.optim.AdamW):
    """``torch.optim.AdamW`` whose step joins groups that share their hyperparameters.

    When every group is fused AdamW in its plain form (no AMSGrad, no capturable or
    differentiable mode, no gradient scaling by an fp16 ``GradScaler``, a float learning rate),
    each parameter already has its state, and a group's tensors share one device and dtype, the
    step runs the two ops ``torch.optim.AdamW(fused=True)`` runs for each group — the step
    counters ``+= 1``, then ``torch._fused_adamw_`` — without the Python around them (state and
    device checks, grouping by device and dtype), which on a head's few small tensors cost ten
    times the kernel. Anything else takes ``torch.optim.AdamW.step``.
    """

    def _kernel_step(self, groups: list[dict[str, Any]]) -> bool:
        if getattr(self, "grad_scale", None) is not None or getattr(self, "found_inf", None) is not None:
            return False
        work = []
        for g in groups:
            if (
                not g["fused"]
                or g["amsgrad"]
                or g["capturable"]
                or g["differentiable"]
                or not g["decoupled_weight_decay"]
            ):
                return False
            if not isinstance(g["lr"], float) or not all(isinstance(b, float) for b in g["betas"]):
                return False
            params = g["params"]
            first = params[0]
            states = [self.state.get(p) for p in params]
            if any(
                not st
                or p.device != first.device
                or p.dtype != first.dtype
                or p.is_complex()
                or p.grad is None
                or p.grad.is_sparse
                for p, st in zip(params, states, strict=True)
            ):
                return False  # a first step (state to create) or mixed tensors: the optimizer's own path
            work.append((g, params, states))
        with torch.no_grad():
            for g, params, states in work:
                steps = [st["step"] for st in states]  # type: ignore[index]
                torch._foreach_add_(steps, 1)
                torch._fused_adamw_(
                    params,
                    [p.grad for p in params],
                    [st["exp_avg"] for st in states],  # type: ignore[index]
                    [st["exp_avg_sq"] for st in states],  # type: ignore[index]
                    [],
                    steps,
                    amsgrad=False,
                    lr=g["lr"],
                    beta1=g["betas"][0],
                    beta2=g["betas"][1],
                    weight_decay=g["weight_decay"],
                    eps=g["eps"],
                    maximize=g["maximize"],
                    grad_scale=None,
                    found_inf=None,
                )
        return True


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
