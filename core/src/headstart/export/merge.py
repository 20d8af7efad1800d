"""Adapters merged into the weights they adapt before an export (through the ``lora`` policy's
:func:`~headstart.policies.merge_adapters`), so every format holds plain layers with the library's
own key names; with example inputs the merge is checked against the unmerged outputs."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..policies.lora.merge import adapter_layers, merge_adapters


def merge_checked(model: nn.Module, example: Any = None) -> dict[str, Any]:
    """Merge every adapter layer of ``model`` in place. With ``example`` inputs, the outputs before
    and after are compared. Returns what was done: ``{"adapters_merged": n, "merge_max_abs_diff": …}``."""
    if not adapter_layers(model):
        return {"adapters_merged": 0}
    was = model.training
    model.eval()
    before = None
    if example is not None:
        with torch.no_grad():
            before = model(example)
    facts: dict[str, Any] = {"adapters_merged": merge_adapters(model)}
    if before is not None:
        with torch.no_grad():
            after = model(example)
        pairs = zip(before, after, strict=True) if isinstance(before, tuple | list) else [(before, after)]
        facts["merge_max_abs_diff"] = max(float((a.float() - b.float()).abs().max()) for a, b in pairs)
    model.train(was)
    return facts
