"""Fold adapters into the weights they sit beside: a model with the source's own layout again."""

from __future__ import annotations

from typing import Any

from torch import nn


def adapter_layers(model: nn.Module) -> list[tuple[str, Any]]:
    """The peft adapter layers of ``model`` (``BaseTunerLayer``), by module name."""
    try:
        from peft.tuners.tuners_utils import BaseTunerLayer
    except ImportError:  # peft not installed: there can be no peft adapters either
        return []
    return [(name, m) for name, m in model.named_modules() if name and isinstance(m, BaseTunerLayer)]


def merge_adapters(model: nn.Module) -> int:
    """Merge every peft adapter layer in ``model`` into its base layer and put the base layer back
    in its place (``W <- W + (alpha / r) · B A``); returns how many layers were merged. The result
    has the parameter names of the model before adapters were added, so it loads and exports as
    the plain source does."""
    layers = adapter_layers(model)
    for name, layer in layers:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        layer.merge()
        setattr(parent, child, layer.get_base_layer())
    return len(layers)
