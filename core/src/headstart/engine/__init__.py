"""The training engine: one loop, checkpoints, schedules, device handling."""

from .checkpoint import CheckpointError
from .loop import train
from .run_state import RunContext
from .settings import TrainerSettings

__all__ = ["CheckpointError", "RunContext", "TrainerSettings", "train"]
