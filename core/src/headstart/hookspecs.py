"""Every ``headstart_*`` hook a plugin may implement.

A plugin is a module (or object) with functions decorated by ``headstart.hookimpl`` whose names
are the hooks below; it is found through the ``headstart`` entry-point group. A function named
``headstart_<something>`` that is not listed here is an error when plugins load.

Each docstring is the hook's reference: docs/hooks.md is generated from them (``python
tests/docs/test_hook_reference.py --write``), and every argument has a ``:param name:`` line.

Two kinds of hooks:

* **Contribution hooks** are called once, when the registry is built (the first time a name is
  resolved or ``headstart plugins`` runs). Each returns a list; the lists of all plugins are
  concatenated. A name contributed twice is an error naming both plugins. A plugin whose
  contribution hook raises (or returns something other than a list) fails alone: it is
  unregistered and listed with its error; the other plugins keep working.
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
    """Source providers, one per name scheme. Each object satisfies ``headstart.SourceProvider``:
    ``scheme`` (the part before the colon, ``timm`` in ``timm:resnet50``), ``resolve(name,
    **options)`` returning a ``headstart.SourceModel`` built with the experiment's ``source``
    options, and ``available()`` (known names, used to suggest close matches). ``resolve`` raises
    ``LookupError`` for a name it does not serve, so several providers can share a scheme (the NLP
    and speech plugins both serve ``hf:``), tried in registration order; it raises ``ValueError``
    for a bad option. Optional, for the contract kit: ``contract_example(tmp_path)``.
    """


@hookspec
def headstart_task_types() -> list[TaskType]:
    """Target task types. ``TaskType(name, factory, description)``: ``factory(**options)``
    receives the experiment's ``task`` section without ``name`` (options are checked against the
    factory's signature first, so a typo fails with the key and the valid keys) and returns a
    ``headstart.TargetTask``. Optional, for the contract kit: ``factory.contract_example(tmp_path)``.
    """


@hookspec
def headstart_policies() -> list[PolicyType]:
    """Transfer policies. ``PolicyType(name, factory, description)``: ``factory(**options)``
    receives the experiment's ``policy`` section without ``name``, ``norm_mode`` and
    ``keep_frozen`` (the engine handles those) and returns a ``headstart.TransferPolicy``. Core's
    own policies (``linear-probe``, ``full``, ``top-k`` …, see ``headstart plugins``) are
    contributed through this same hook.
    """


@hookspec
def headstart_dataset_formats() -> list[DatasetFormat]:
    """Dataset file formats that tasks can read by name
    (``get_registry().dataset_format("csv").read``): ``DatasetFormat(name, read, description)``,
    ``read(path)`` returning a list of dicts, each with ``"_where"`` (``"file.csv:12"``) so tasks
    can name the file and line in errors. Core contributes ``csv``, ``tsv``, ``jsonl``.
    """


@hookspec
def headstart_metrics() -> list[Metric]:
    """Metrics that tasks name in ``TargetTask.metrics``: ``Metric(name, fn, higher_is_better,
    description)``, ``fn(predictions, references)`` returning a float (or several floats by
    name). ``higher_is_better`` decides what "best" means for checkpoints and early stopping.
    Core contributes ``accuracy``, ``top5-accuracy``, ``macro-f1``, ``mcc``, ``pearson``,
    ``spearman``, ``mse``.
    """


@hookspec
def headstart_local_models() -> list[LocalModel]:
    """Local stand-ins for hub ids (weights that a package ships), so those ids work offline:
    ``LocalModel(id, path, scheme, description)``. A source provider looks an id up with
    ``get_registry().local_model(scheme, id)`` before going to a hub.
    """


# --- engine events ------------------------------------------------------------------------------


@hookspec
def headstart_on_run_start(run: RunContext) -> None:
    """Called once after the model, optimizer and data are built and a checkpoint (if resuming)
    is loaded, before the first training step.

    :param run: The run in progress. ``run.epoch`` is the epoch about to start; ``run.step`` is 0
        on a fresh run and the number of steps already taken on a resumed one.
    """


@hookspec
def headstart_on_phase_start(run: RunContext, phase: Phase) -> None:
    """Called when a policy phase takes effect (also for the phase a resumed run continues in),
    after ``requires_grad``, normalisation modes and learning rates are applied.

    :param run: The run in progress.
    :param phase: The phase that starts: its ``name``, ``start_epoch``, the ``trainable`` blocks,
        their ``lr_scale`` and the ``norm_mode``.
    """


@hookspec
def headstart_on_epoch_start(run: RunContext, epoch: int) -> None:
    """Called at the start of every training epoch.

    :param run: The run in progress.
    :param epoch: The epoch that starts, counted from 0.
    """


@hookspec
def headstart_on_step_end(run: RunContext, step: int, metrics: dict[str, Any]) -> None:
    """Called after every optimizer step. Keep it cheap: it runs on every step.

    :param run: The run in progress.
    :param step: The optimizer steps taken so far, counted from 1.
    :param metrics: ``lr`` always, and ``loss`` (a float) on logging steps only (every
        ``trainer.log_every`` steps), so the hot loop does not wait on the device every step;
        under fp16 also ``loss_scale`` on logging steps.
    """


@hookspec
def headstart_on_evaluate(run: RunContext, epoch: int, split: str, metrics: dict[str, float]) -> None:
    """Called after a split is evaluated: ``val`` after each epoch, ``test`` once at the end with
    the best checkpoint's weights.

    :param run: The run in progress.
    :param epoch: The epoch just trained; for ``test``, the best epoch (or -1 when none was best).
    :param split: ``"val"`` or ``"test"``.
    :param metrics: The split's ``loss`` and every metric the task names.
    """


@hookspec
def headstart_on_epoch_end(run: RunContext, epoch: int, metrics: dict[str, float]) -> None:
    """Called at the end of every epoch, after evaluation and before its checkpoint is written
    (when one is due: see ``headstart_on_checkpoint``).

    :param run: The run in progress.
    :param epoch: The epoch that ends, counted from 0.
    :param metrics: That epoch's row of ``metrics.jsonl`` (``train_loss``, ``val_<metric>``,
        ``phase``, ``elapsed_s`` …).
    """


@hookspec
def headstart_on_checkpoint(run: RunContext, path: str, kind: str) -> None:
    """Called after a checkpoint is completely written: at the end of every epoch, except in a
    head-only phase on cached features, where an epoch is written when it stops the run or ends
    the phase, or 2 s after the last checkpoint (its epochs cost milliseconds; a resume redoes
    the few after the last checkpoint). An epoch of that phase that improves ``best`` is held in
    memory and written, as ``best`` alone, just before the next checkpoint.

    :param run: The run in progress.
    :param path: The checkpoint's directory (``model.safetensors`` and ``state.pt`` inside).
    :param kind: ``"last"`` or ``"best"``: the link that now points at ``path``.
    """


@hookspec
def headstart_on_run_end(run: RunContext, summary: dict[str, Any]) -> None:
    """Called once after training and the final evaluation.

    :param run: The run in progress.
    :param summary: The content of ``summary.json``.
    """
