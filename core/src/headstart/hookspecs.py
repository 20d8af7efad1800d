"""Every ``headstart_*`` hook a plugin may implement.

A plugin is a module (or object) with functions decorated by ``headstart.hookimpl`` whose names
are the hooks below; it is found through the ``headstart`` entry-point group. A function named
``headstart_<something>`` that is not listed here is an error when plugins load.

Two kinds of hooks:

* **Contribution hooks** are called once, when the registry is built (the first time a name is
  resolved or ``headstart plugins`` runs). Each returns a list; the lists of all plugins are
  concatenated. A name contributed twice is an error naming both plugins.
* **Event hooks** (``headstart_on_*``) are called by the training engine at fixed points of the
  loop. They return nothing; an exception raised in one stops the run (the last good checkpoint
  stays intact).
"""

# mypy: disable-error-code="empty-body"
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from .engine.run_state import RunContext
    from .interfaces import DatasetFormat, LocalModel, Metric, Phase, PolicyType, SourceProvider, TaskType

hookspec = pluggy.HookspecMarker("headstart")


# --- contribution hooks -------------------------------------------------------------------------


@hookspec
def headstart_source_providers() -> list[SourceProvider]:
    """Source providers, one per name scheme.

    Called once when the registry is built. Return a list of objects satisfying
    ``headstart.SourceProvider``; each serves the names ``<scheme>:<name>``.
    """


@hookspec
def headstart_task_types() -> list[TaskType]:
    """Target task types.

    Called once when the registry is built. Return a list of ``headstart.TaskType``;
    ``factory(**options)`` receives the experiment's ``task`` section without ``name``.
    """


@hookspec
def headstart_policies() -> list[PolicyType]:
    """Transfer policies.

    Called once when the registry is built. Return a list of ``headstart.PolicyType``;
    ``factory(**options)`` receives the experiment's ``policy`` section without ``name``.
    """


@hookspec
def headstart_dataset_formats() -> list[DatasetFormat]:
    """Dataset file formats that tasks can read (``csv``, ``conll``, ``librispeech`` …).

    Called once when the registry is built. Return a list of ``headstart.DatasetFormat``.
    """


@hookspec
def headstart_metrics() -> list[Metric]:
    """Metrics that tasks can name (``accuracy``, ``macro-f1``, ``wer`` …).

    Called once when the registry is built. Return a list of ``headstart.Metric``.
    """


@hookspec
def headstart_local_models() -> list[LocalModel]:
    """Local stand-ins for hub ids (weights that a package ships), so those ids work offline.

    Called once when the registry is built. Return a list of ``headstart.LocalModel``; a source
    provider looks an id up with ``get_registry().local_model(scheme, id)`` before going to a hub.
    """


# --- engine events ------------------------------------------------------------------------------


@hookspec
def headstart_on_run_start(run: RunContext) -> None:
    """Called once after the model, optimizer and data are built and a checkpoint (if resuming)
    is loaded, before the first training step. ``run.epoch`` is the epoch about to start."""


@hookspec
def headstart_on_phase_start(run: RunContext, phase: Phase) -> None:
    """Called when a policy phase takes effect (also for the phase a resumed run continues in),
    after ``requires_grad``, normalisation modes and learning rates are applied."""


@hookspec
def headstart_on_epoch_start(run: RunContext, epoch: int) -> None:
    """Called at the start of every training epoch (0-based ``epoch``)."""


@hookspec
def headstart_on_step_end(run: RunContext, step: int, metrics: dict[str, Any]) -> None:
    """Called after every optimizer step. ``step`` counts optimizer steps from 1; ``metrics``
    holds ``lr`` always and ``loss`` (a float) on logging steps only, so the hot loop does not
    wait on the device every step."""


@hookspec
def headstart_on_evaluate(run: RunContext, epoch: int, split: str, metrics: dict[str, float]) -> None:
    """Called after a split is evaluated, with its metrics (``loss`` included)."""


@hookspec
def headstart_on_epoch_end(run: RunContext, epoch: int, metrics: dict[str, float]) -> None:
    """Called at the end of every epoch, after evaluation and before its checkpoint is written,
    with that epoch's row of ``metrics.jsonl``."""


@hookspec
def headstart_on_checkpoint(run: RunContext, path: str, kind: str) -> None:
    """Called after a checkpoint is completely written; ``kind`` is ``"last"`` or ``"best"`` and
    ``path`` its directory."""


@hookspec
def headstart_on_run_end(run: RunContext, summary: dict[str, Any]) -> None:
    """Called once after training and the final evaluation, with the content of
    ``summary.json``."""
