"""The training engine: one loop, checkpoints, schedules, device handling.

Names resolve lazily, so importing one engine module (``headstart.engine.checkpoint``) does not
import the loop and everything it uses.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .checkpoint import CheckpointError
    from .loop import train
    from .run_state import RunContext
    from .settings import TrainerSettings

_EXPORTS = {
    "CheckpointError": ".checkpoint",
    "train": ".loop",
    "RunContext": ".run_state",
    "TrainerSettings": ".settings",
}


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'headstart.engine' has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)


__all__ = ["CheckpointError", "RunContext", "TrainerSettings", "train"]
