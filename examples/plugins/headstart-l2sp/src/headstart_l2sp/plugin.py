"""Hook implementations of headstart-l2sp (the only module with ``@hookimpl``).

The policy says which blocks train (all of them); the pull towards the pretrained weights is
applied by two engine events:

* ``headstart_on_run_start``: remember the pretrained weights ``w0``. On a fresh run they are the
  weights the model starts with; on a resumed run (the model already holds fine-tuned weights)
  the source is resolved again from the run's config, which gives the pretrained weights back.
* ``headstart_on_step_end``: after every optimizer step, ``w <- w - lr * alpha * (w - w0)``.

Both do nothing unless the run's policy is ``l2-sp``.
"""

from __future__ import annotations

import weakref
from typing import Any

import torch

from headstart import PolicyType, RunContext, get_registry, hookimpl

from .policy import L2SP, pull_towards

#: pretrained weights by model (one entry per run in progress; dropped with the model)
_ANCHORS: weakref.WeakKeyDictionary[torch.nn.Module, dict[str, torch.Tensor]] = weakref.WeakKeyDictionary()


@hookimpl
def headstart_policies() -> list[PolicyType]:
    return [PolicyType(L2SP.name, L2SP, "fine-tune everything, pulled towards the pretrained weights (L2-SP)")]


def pretrained_weights(run: RunContext) -> dict[str, torch.Tensor]:
    """The source's pretrained weights, by parameter name inside the backbone."""
    if run.step == 0:
        backbone = run.model.backbone
    else:  # resumed: the model holds fine-tuned weights; build the source again
        section = dict(run.config["source"])
        backbone = get_registry().source(section.pop("name"), **section).backbone
    return {n: p.detach().to(run.device, copy=True) for n, p in backbone.named_parameters()}


@hookimpl
def headstart_on_run_start(run: RunContext) -> None:
    if isinstance(run.policy, L2SP):
        _ANCHORS[run.model] = pretrained_weights(run)


@hookimpl
def headstart_on_step_end(run: RunContext, step: int, metrics: dict[str, Any]) -> None:
    if not isinstance(run.policy, L2SP) or run.policy.alpha == 0 or run.optimizer is None:
        return
    anchors = _ANCHORS[run.model]
    lr = {id(p): group["lr"] for group in run.optimizer.param_groups for p in group["params"]}
    with torch.no_grad():
        for name, weight in run.model.backbone.named_parameters():
            if weight.requires_grad:
                pull_towards(weight, anchors[name], lr[id(weight)] * run.policy.alpha)
