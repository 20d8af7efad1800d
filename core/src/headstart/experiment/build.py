"""From a validated config to the objects of a run: source, task, policy, model, freezer, phases."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import torch

from ..data import budget
from ..data.budget import BudgetDraw
from ..freeze.apply import Freezer
from ..freeze.plan import FreezePlan, PolicyError, validate_phases
from ..interfaces import Phase, SourceModel, TargetTask, TransferPolicy
from ..model import TransferModel
from ..options import ConfigError, call_with_options, check_options, parameters
from ..policies.base import prepare_model
from ..registry import UnknownNameError, get_registry
from . import shared_sources
from .config import ExperimentConfig, parse_config
from .lr import LearningRate, resolve_lr

T = TypeVar("T")

if TYPE_CHECKING:
    from ..engine.distributed import Dist
    from ..engine.run_state import RunContext


def seed_everything(seed: int) -> None:
    """Seed ``random``, numpy and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@dataclass
class Built:
    """Everything a run needs, before training starts."""

    config: ExperimentConfig
    source: SourceModel
    task: TargetTask
    policy: TransferPolicy
    model: TransferModel
    freezer: Freezer
    phases: list[Phase]
    added: frozenset[str] = frozenset()
    lr: LearningRate | None = None  # the rate in force and its origin (experiment/lr.py)
    budget: BudgetDraw | None = None  # the training examples a label budget keeps (data/budget.py)

    def plans(self) -> list[FreezePlan]:
        return [self.freezer.compute(p) for p in self.phases]

    def run_context(
        self, run_dir: Path, *, device: torch.device | None = None, hook: Any = None, dist: Dist | None = None
    ) -> RunContext:
        """The run these components make in ``run_dir``: the one place a :class:`RunContext` is
        assembled. ``device`` defaults to the trainer section's, the precision follows from it,
        ``hook`` to the plugin system's hooks, ``dist`` to a single process."""
        from ..engine.device import select_device, select_precision
        from ..engine.distributed import Dist
        from ..engine.run_state import RunContext
        from ..plugins import get_plugin_system

        trainer = self.config.trainer
        device = device if device is not None else select_device(trainer.device)
        return RunContext(
            run_dir=Path(run_dir),
            config=self.config.to_dict(),
            source=self.source,
            task=self.task,
            policy=self.policy,
            model=self.model,
            freezer=self.freezer,
            settings=trainer,
            phases=self.phases,
            device=device,
            precision=select_precision(trainer.precision, device),
            seed=self.config.seed,
            hook=hook if hook is not None else get_plugin_system().hook,
            dist=dist if dist is not None else Dist(),
            budget=self.budget,
        )


def _named(get: Callable[[str], T], section: str, name: str) -> T:
    """``get(name)``; an unknown name is a ConfigError naming ``<section>.name``."""
    try:
        return get(name)
    except UnknownNameError as exc:
        raise ConfigError(f"{section}.name: {exc}") from None


def build_policy(config: ExperimentConfig) -> TransferPolicy:
    ptype = _named(get_registry().policy_type, "policy", config.policy["name"])
    policy = call_with_options(ptype.factory, config.options("policy"), "policy")
    if not isinstance(policy, TransferPolicy):
        raise ConfigError(
            f"policy.name: {ptype.name!r} built a {type(policy).__name__}, which is not a transfer policy "
            "(it needs name, phases(), prepare() and regularizer(); subclass headstart.Policy)"
        )
    return policy


def check_without_building(config: ExperimentConfig) -> None:
    """What can be checked of ``config`` without building its source or reading its data: its
    policy (built: option names and values) and its task's name and option names. ``compare``
    checks every cell so before the first one runs: a misspelt ``policy.evry`` in a sweep stops
    the matrix at once, not when its cell comes up."""
    build_policy(config)
    check_options(_named(get_registry().task_type, "task", config.task["name"]).factory, config.options("task"), "task")


def build_task(config: ExperimentConfig) -> TargetTask:
    ttype = _named(get_registry().task_type, "task", config.task["name"])
    resolve_data_seed(config)
    return call_with_options(ttype.factory, config.options("task"), "task")  # type: ignore[no-any-return]


def resolve_data_seed(config: ExperimentConfig) -> None:
    """A label budget (``task.max_per_class``) is drawn with the run's seed unless the experiment
    pins ``task.data_seed``: write the seed into the task section, so the saved config (a run
    directory's ``config.yaml``) and the feature-cache key name the draw (see
    :mod:`headstart.data.budget`). Idempotent; ``run_experiment`` calls it before saving the config."""
    if config.task.get("max_per_class") is None or config.task.get("data_seed") is not None:
        return
    factory = _named(get_registry().task_type, "task", config.task["name"]).factory
    if "data_seed" in parameters(factory):
        config.task["data_seed"] = config.seed


def build_source(config: ExperimentConfig) -> SourceModel:
    try:
        return get_registry().source(config.source["name"], **config.options("source"))
    except UnknownNameError as exc:
        raise ConfigError(f"source.name: {exc}") from None
    except ConfigError:
        raise
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"source: {exc}") from exc


def build(config: ExperimentConfig) -> Built:
    """Build every component. Cheap checks (policy, task options) come before the source loads.
    Within :func:`shared_sources.sharing` the source may be one lent by an earlier run: the
    caller gives it back (``shared_sources.give_back``) when the run is done with it."""
    policy = build_policy(config)
    task = build_task(config)
    seed_everything(config.seed)
    source = shared_sources.lend(config, lambda: build_source(config))
    try:
        return _assemble(config, policy, task, source)
    except BaseException:
        shared_sources.give_back(source)
        raise


def _assemble(config: ExperimentConfig, policy: TransferPolicy, task: TargetTask, source: SourceModel) -> Built:
    with budget.recording() as draws:
        task.prepare(source)
    head = task.build_head(source.output_spec)
    model = TransferModel(source, head)
    try:
        added = prepare_model(policy, model, config.seed)
    except ValueError as exc:
        raise ConfigError(f"policy: {exc}") from None
    rate = resolve_lr(config.trainer.lr, config.policy, policy, source, optimizer_steps(config, task))
    freezer = Freezer(
        model,
        rate.lr,
        config.trainer.weight_decay,
        norm_mode=config.policy.get("norm_mode"),
        keep_frozen=config.policy.get("keep_frozen", getattr(source, "default_keep_frozen", ())),
        head_lr_scale=rate.head_lr_scale,
        added=added,
    )
    try:
        phases = policy.phases(freezer.block_names, config.trainer.epochs)
        validate_phases(phases, freezer.block_names, config.trainer.epochs, policy.name)
        for phase in phases:
            freezer.compute(phase)
    except (PolicyError, ValueError) as exc:
        raise ConfigError(f"policy: {exc}") from None
    return Built(config, source, task, policy, model, freezer, phases, added, rate, _budget_draw(config, draws, source))


def optimizer_steps(config: ExperimentConfig, task: TargetTask) -> int | None:
    """The optimizer steps of a run on one process (None without a sized ``train`` split):
    epochs × ⌈⌈train examples / batch_size⌉ (capped by ``max_steps_per_epoch``) / grad_accum⌉."""
    t = config.trainer
    if "train" not in task.splits():
        return None
    try:
        examples = len(task.dataset("train", train=False))
    except TypeError:  # an unsized (streaming) dataset: no step-aware rate
        return None
    batches = math.ceil(examples / t.batch_size)
    if t.max_steps_per_epoch is not None:
        batches = min(batches, t.max_steps_per_epoch * t.grad_accum)
    return t.epochs * math.ceil(batches / t.grad_accum)


def _budget_draw(
    config: ExperimentConfig, draws: list[tuple[int, list[int]]], source: SourceModel
) -> BudgetDraw | None:
    """What the feature cache needs of the run's label budget: the one draw its task made while
    preparing (``task.max_per_class``; None without one, or when it made several), and how to
    build the task without it."""
    drawn = [d for d in draws if len(d[1]) < d[0]]
    if config.task.get("max_per_class") is None or len(drawn) != 1:
        return None
    full = config.to_dict()
    full["task"] = {k: v for k, v in full["task"].items() if k not in budget.BUDGET_OPTIONS}

    def full_task() -> TargetTask:
        task = build_task(parse_config(full))
        task.prepare(source)
        return task

    size, indices = drawn[0]
    return budget.BudgetDraw(size, indices, full, full_task)
