"""What a run is made of while it trains (handed to every ``headstart_on_*`` event), and how
it round-trips through a checkpoint for an exact resume."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..data.budget import BudgetDraw
from ..freeze.apply import Freezer
from ..interfaces import Phase, SourceModel, TargetTask, TransferPolicy
from ..model import TransferModel
from ..rundir import RunDir
from . import checkpoint as ckpt
from . import fsdp
from .distributed import Dist, sharded
from .loss_scale import LossScaler
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
    loss_scaler: LossScaler | None = None  # enabled under fp16 only
    epoch: int = 0
    step: int = 0
    best_value: float | None = None
    best_epoch: int | None = None
    bad_epochs: int = 0
    should_stop: bool = False
    trainable_params: dict[str, int] = field(default_factory=dict)
    elapsed_s: float = 0.0
    budget: BudgetDraw | None = None  # which training examples a label budget keeps (for the feature cache)

    _files: tuple[Path, RunDir] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def files(self) -> RunDir:
        """The names of the run directory's files (``run.files.metrics``, ``run.files.best`` …),
        made once per ``run_dir`` (the loop's events ask for them every logged step)."""
        if self._files is None or self._files[0] is not self.run_dir:
            self._files = (self.run_dir, RunDir(self.run_dir))
        return self._files[1]


def checkpoint_state(run: RunContext) -> dict[str, Any]:
    """Everything besides the weights that an exact resume needs (under FSDP a collective: every
    rank calls it; rank 0's holds the gathered optimizer state)."""
    assert run.optimizer is not None
    gathered = sharded(run.model)
    return {
        "epoch": run.epoch,
        "step": run.step,
        "best_value": run.best_value,
        "best_epoch": run.best_epoch,
        "bad_epochs": run.bad_epochs,
        "elapsed_s": run.elapsed_s,
        "trainable_params": dict(run.trainable_params),
        "optimizer": fsdp.gather_optimizer(run.optimizer, run.dist.main) if gathered else run.optimizer.state_dict(),
        "freeze": run.freezer.state_dict(),
        "rng": ckpt.rng_state(),
        "loss_scale": run.loss_scaler.state_dict() if run.loss_scaler and run.loss_scaler.enabled else None,
    }


def restore(run: RunContext, path: Path) -> None:
    """Set ``run`` (weights, optimizer, counters, RNG) to the checkpoint at ``path``."""
    assert run.optimizer is not None
    state = ckpt.load_state(path)
    run.freezer.check_state(state["freeze"])
    load_weights(run, path)
    if sharded(run.model):
        fsdp.load_optimizer(run.optimizer, state["optimizer"])
    else:
        run.optimizer.load_state_dict(state["optimizer"])
    if run.loss_scaler is not None and run.loss_scaler.enabled and state.get("loss_scale") is not None:
        run.loss_scaler.load_state_dict(state["loss_scale"])
    run.epoch, run.step = int(state["epoch"]), int(state["step"])
    run.best_value, run.best_epoch = state["best_value"], state["best_epoch"]
    run.bad_epochs, run.elapsed_s = int(state["bad_epochs"]), float(state["elapsed_s"])
    run.trainable_params = dict(state["trainable_params"])
    ckpt.set_rng_state(state["rng"])


def checkpoint_weights(run: RunContext, keys: Collection[str] | None) -> nn.Module:
    """What the checkpoint writer reads the weights from: the model, or under FSDP its full
    weights gathered onto rank 0 (a collective: every rank calls it)."""
    return fsdp.gather_weights(run.model, run.dist.main, keys) if sharded(run.model) else run.model


def load_weights(run: RunContext, path: Path) -> None:
    """Load the checkpoint's weights into ``run.model`` (sharded or not)."""
    if sharded(run.model):
        fsdp.load_weights(path, run.model)
    else:
        ckpt.load_weights(path, run.model)
