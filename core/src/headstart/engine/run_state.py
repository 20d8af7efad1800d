"""What a run is made of while it trains; handed to every ``headstart_on_*`` event."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..freeze.apply import Freezer
from ..interfaces import Phase, SourceModel, TargetTask, TransferPolicy
from ..model import TransferModel
from .distributed import Dist
from .settings import TrainerSettings


@dataclass
class RunContext:
    """A run in progress, given to every event. Plugins may read everything. They may set
    ``should_stop`` (training ends after the current epoch) and may update trainable weights in
    place in ``headstart_on_step_end`` (a decoupled regulariser); anything else is the engine's."""

    run_dir: Path
    config: dict[str, Any]
    source: SourceModel
    task: TargetTask
    policy: TransferPolicy
    model: TransferModel
    freezer: Freezer
    settings: TrainerSettings
    phases: list[Phase]
    device: torch.device
    precision: str
    seed: int
    hook: Any
    dist: Dist = field(default_factory=Dist)
    optimizer: torch.optim.Optimizer | None = None
    epoch: int = 0
    step: int = 0
    best_value: float | None = None
    best_epoch: int | None = None
    bad_epochs: int = 0
    should_stop: bool = False
    trainable_params: dict[str, int] = field(default_factory=dict)
    elapsed_s: float = 0.0
