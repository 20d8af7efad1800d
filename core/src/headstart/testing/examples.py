"""Where the contract kit finds tiny, offline examples of a component.

A check that runs code needs something to run it on. Each kind of component may carry an
optional ``contract_example`` that returns one, built under a temporary directory the kit passes:

* a **task type**'s factory (the class or function in ``TaskType.factory``):
  ``contract_example(tmp_path) -> {"source": {"name": "scheme:name", ...options}, "task": {...options}}``.
  It writes a few examples per split under ``tmp_path`` and returns the ``source`` and ``task``
  sections of an experiment (the task section without ``name``) that use them. This is "the
  task's own tiny example batch". A task that implements :class:`~headstart.PredictingTask` adds
  ``"inputs"``: a few raw inputs (file paths, texts …) that its trained model predicts.
* a **source provider**: ``contract_example(tmp_path) -> [{"name": "scheme:name", ...options}, ...]``,
  a list (a provider serves many names) of ``source`` sections that resolve offline in a second or two (tiny configurations, files
  written under ``tmp_path``).
* a **policy type**'s factory: ``contract_example(tmp_path) -> {...options}`` (default: ``{}``).
* a **dataset format**'s ``read`` function: ``contract_example(tmp_path) -> path`` of a small
  file (or directory) that ``read`` accepts.

None of these is part of the runtime interfaces: the engine never calls them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..interfaces import DatasetFormat, PolicyType, SourceProvider, TaskType
from .errors import ContractError

#: Name of the optional example function on task and policy factories, format readers and
#: source providers (one name for every kind of component).
EXAMPLE = "contract_example"
#: The name providers used before there was one name; a provider that still has it is told to rename.
_OLD_PROVIDER_EXAMPLES = "contract_examples"


@dataclass(frozen=True)
class TaskExample:
    """A task's tiny example: the ``source`` section (with ``name``) and the task's options."""

    source: dict[str, Any]
    task: dict[str, Any] = field(default_factory=dict)
    #: raw inputs a trained model of the task predicts (file paths, texts …), for PredictingTask
    inputs: list[Any] = field(default_factory=list)

    @property
    def source_name(self) -> str:
        return str(self.source["name"])

    @property
    def source_options(self) -> dict[str, Any]:
        return {k: v for k, v in self.source.items() if k != "name"}


def has_example(component: object) -> bool:
    """True when ``component`` (a factory, provider or reader) carries a contract example."""
    return callable(getattr(component, EXAMPLE, None))


def _source_section(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, Mapping) or not isinstance(value.get("name"), str) or ":" not in value["name"]:
        raise ContractError(
            f"{where} must be a source section like {{'name': 'scheme:name', ...options}}, got {value!r}"
        )
    return dict(value)


def task_example(ttype: TaskType, tmp_path: Path) -> TaskExample:
    """Call ``ttype.factory.contract_example(tmp_path)`` and check what it returns."""
    fn = getattr(ttype.factory, EXAMPLE, None)
    if not callable(fn):
        raise ContractError(
            f"task {ttype.name!r} has no contract example: give its factory a "
            f"`contract_example(tmp_path) -> {{'source': {{...}}, 'task': {{...}}}}` (see docs/testing-plugins.md)"
        )
    return as_task_example(fn(tmp_path), f"task {ttype.name!r}: contract_example()")


def as_task_example(value: Any, where: str = "the task example") -> TaskExample:
    """Check a ``{"source": ..., "task": ...}`` mapping and turn it into a :class:`TaskExample`."""
    if isinstance(value, TaskExample):
        return value
    if not isinstance(value, Mapping) or "source" not in value:
        raise ContractError(f"{where} must return {{'source': {{'name': ...}}, 'task': {{...}}}}, got {value!r}")
    task = dict(value.get("task") or {})
    task.pop("name", None)
    return TaskExample(_source_section(value["source"], f"{where}['source']"), task, list(value.get("inputs") or []))


def source_examples(provider: SourceProvider, tmp_path: Path) -> list[dict[str, Any]]:
    """The provider's ``contract_example(tmp_path)`` (a list of source sections), checked; ``[]``
    when it has none."""
    fn = getattr(provider, EXAMPLE, None)
    if not callable(fn):
        if callable(getattr(provider, _OLD_PROVIDER_EXAMPLES, None)):
            raise ContractError(
                f"provider {provider.scheme!r}: rename contract_examples(tmp_path) to contract_example(tmp_path) "
                "(one name for every component's example)"
            )
        return []
    got = fn(tmp_path)
    if not isinstance(got, list | tuple) or not got:
        raise ContractError(f"provider {provider.scheme!r}: contract_example() must return a non-empty list")
    sections = [_source_section(s, f"provider {provider.scheme!r}: contract_example()[{i}]") for i, s in enumerate(got)]
    for s in sections:
        if s["name"].partition(":")[0] != provider.scheme:
            raise ContractError(f"provider {provider.scheme!r}: example {s['name']!r} is not in its scheme")
    return sections


def policy_options(ptype: PolicyType, tmp_path: Path) -> dict[str, Any]:
    """The policy factory's ``contract_example(tmp_path)`` options, or ``{}``."""
    fn = getattr(ptype.factory, EXAMPLE, None)
    got = fn(tmp_path) if callable(fn) else {}
    if not isinstance(got, Mapping):
        raise ContractError(f"policy {ptype.name!r}: contract_example() must return a mapping of options, got {got!r}")
    return dict(got)


def format_example(fmt: DatasetFormat, tmp_path: Path) -> Path | None:
    """The path ``fmt.read.contract_example(tmp_path)`` writes, or ``None`` when it has none."""
    fn = getattr(fmt.read, EXAMPLE, None)
    return Path(fn(tmp_path)) if callable(fn) else None
