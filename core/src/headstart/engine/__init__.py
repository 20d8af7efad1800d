"""The training engine: one loop, checkpoints, schedules, device handling.

Names resolve lazily, so importing one engine module (``headstart.engine.checkpoint``) does not
import the loop and everything it uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_attributes

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


__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS, globals())

__all__ = ["CheckpointError", "RunContext", "TrainerSettings", "train"]
