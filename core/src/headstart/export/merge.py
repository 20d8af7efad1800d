"""Adapters merged into the weights they adapt, before an export: a LoRA layer (PEFT's
``BaseTunerLayer``: ``merge()`` and ``get_base_layer()``) becomes its base layer with
``W + scale · B A`` in it, so every format holds plain layers with the library's own key names."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


def _is_adapter(module: nn.Module) -> bool:
    return callable(getattr(module, "merge", None)) and callable(getattr(module, "get_base_layer", None))


def merge_adapters(model: nn.Module, example: Any = None) -> dict[str, Any]:
    """Merge every adapter layer of ``model`` in place and put its base layer where it was.
    With ``example`` inputs, the outputs before and after are compared. Returns what was done:
    ``{"adapters_merged": n, "merge_max_abs_diff": …}``."""
    found = [(name, m) for name, m in model.named_modules() if name and _is_adapter(m)]
    if not found:
        return {"adapters_merged": 0}
    was = model.training
    model.eval()
    before = None
    if example is not None:
        with torch.no_grad():
            before = model(example)
    for name, module in found:
        module.merge()  # type: ignore[operator]
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, module.get_base_layer())  # type: ignore[operator]
    facts: dict[str, Any] = {"adapters_merged": len(found)}
    if before is not None:
        with torch.no_grad():
            after = model(example)
        pairs = zip(before, after, strict=True) if isinstance(before, tuple | list) else [(before, after)]
        facts["merge_max_abs_diff"] = max(float((a.float() - b.float()).abs().max()) for a, b in pairs)
    model.train(was)
    return facts
