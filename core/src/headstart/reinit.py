"""Fresh random initialisation, for the ``scratch`` baseline."""

from __future__ import annotations

import torch
from torch import nn


def reset_parameters(module: nn.Module, seed: int) -> int:
    """Call ``reset_parameters()`` on every sub-module that has one (torch's default initialisers),
    under ``torch.manual_seed(seed)``; reset BatchNorm running statistics too. Returns how many
    modules were reset. Sources with their own initialisation scheme (transformers' ``_init_weights``)
    should prefer it."""
    count = 0
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        for m in module.modules():
            if hasattr(m, "reset_parameters") and callable(m.reset_parameters):
                m.reset_parameters()
                count += 1
            if hasattr(m, "reset_running_stats") and callable(m.reset_running_stats):
                m.reset_running_stats()
    return count
