"""The Python entry points: :func:`run` an experiment, and callbacks without writing a plugin.

:func:`run` takes what the command line takes — an experiment file — or a dict with the same
sections, or an :class:`~headstart.ExperimentConfig`. A task's ``data`` splits may be in memory
(a list of dicts or a pandas DataFrame, one row per example, with the columns the task reads):
they are written as CSV files into the run directory (``data/<split>.csv``) and the task reads
those, so the run directory records exactly what it trained on.

A callback is a plain object with ``headstart_on_*`` methods (the events of ``docs/hooks.md``,
each taking any subset of its hook's arguments by name). :func:`add_callback` registers it for
every run of this process; ``run(..., callbacks=[...])`` for one run.
"""

from __future__ import annotations

import copy
import csv
import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .experiment.config import ExperimentConfig, apply_overrides, load_yaml, parse_config
from .experiment.run import new_run_dir, run_experiment
from .inference.predictor import Predictor, load
from .options import ConfigError
from .plugins import get_plugin_system, hookimpl


@dataclass
class RunResult:
    """What :func:`run` returns: the run directory and its ``summary.json`` content."""

    run_dir: Path
    summary: dict[str, Any]

    def load(self, **options: Any) -> Predictor:
        """The trained model (:func:`headstart.load` of the run directory)."""
        return load(self.run_dir, **options)


def _in_memory(value: Any) -> list[dict[str, Any]] | None:
    """Rows of an in-memory split (a list of dicts or a DataFrame); None for a file or folder."""
    if hasattr(value, "to_dict") and hasattr(value, "columns"):
        return list(value.to_dict(orient="records"))
    if isinstance(value, list) and value and all(isinstance(r, Mapping) for r in value):
        return [dict(r) for r in value]
    return None


def _write_splits(data: dict[str, Any], folder: Path) -> dict[str, Any]:
    """In-memory splits of ``task.data`` written as ``folder/<split>.csv``; other values as given."""
    out = dict(data)
    for split, value in data.items():
        rows = _in_memory(value)
        if rows is None:
            continue
        columns: list[str] = []
        for row in rows:
            columns.extend(str(k) for k in row if str(k) not in columns)
        folder.mkdir(parents=True, exist_ok=True)
        file = folder / f"{split}.csv"
        with file.open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)
        out[split] = str(file)
    return out


def _config(config: str | Path | Mapping[str, Any] | ExperimentConfig, overrides: Sequence[str]) -> dict[str, Any]:
    if isinstance(config, ExperimentConfig):
        data = config.to_dict()
    elif isinstance(config, str | Path):
        data = load_yaml(config)
    elif isinstance(config, Mapping):
        data = copy.copy(dict(config))
    else:
        raise ConfigError(f"headstart.run: expected an experiment file, a dict or an ExperimentConfig, got {config!r}")
    return apply_overrides(data, list(overrides))


def run(
    config: str | Path | Mapping[str, Any] | ExperimentConfig,
    run_dir: str | Path | None = None,
    *,
    overrides: Sequence[str] = (),
    callbacks: Sequence[object] = (),
    resume: bool = False,
) -> RunResult:
    """Train an experiment (a YAML file, a dict of sections, or an ExperimentConfig) into
    ``run_dir`` (default: a new directory under ``output_dir``). ``overrides`` are ``--set``
    strings (``"trainer.epochs=3"``); ``callbacks`` get this run's events; ``resume`` continues
    the run in ``run_dir`` from its last checkpoint."""
    data = _config(config, overrides)
    parsed = parse_config(data)
    target = Path(run_dir) if run_dir is not None else new_run_dir(parsed)
    value = parsed.task.get("data")
    if _in_memory(value) is not None:  # one in-memory table: the task splits it as it splits a file
        parsed.task["data"] = _write_splits({"train": value}, target / "data")["train"]
    elif isinstance(value, Mapping) and any(_in_memory(v) is not None for v in value.values()):
        parsed.task["data"] = _write_splits(dict(value), target / "data")
    with _registered(callbacks):
        out_dir, summary = run_experiment(parsed, target, resume=resume)
    return RunResult(out_dir, summary)


def _adapter(obj: object) -> object:
    """A pluggy plugin whose hook implementations call ``obj``'s ``headstart_*`` methods."""
    names = [n for n in dir(obj) if n.startswith("headstart_") and callable(getattr(obj, n))]
    if not names:
        raise ValueError(f"{type(obj).__name__} has no headstart_on_* methods; nothing to call back")
    wrong = [n for n in names if not n.startswith("headstart_on_")]
    if wrong:
        raise ValueError(
            f"{type(obj).__name__}.{wrong[0]}: a callback receives events (headstart_on_*); components "
            "(sources, tasks, policies …) come from plugins (docs/writing-plugins.md)"
        )

    def impl(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def call(*args: Any, **kwargs: Any) -> Any:
            return method(*args, **kwargs)

        return hookimpl(call)  # type: ignore[no-any-return]

    adapter = type(f"Callback[{type(obj).__name__}]", (), {})()
    for n in names:
        setattr(adapter, n, impl(getattr(obj, n)))
    return adapter


def _name(obj: object) -> str:
    return f"callback:{type(obj).__name__}:{id(obj):x}"


def add_callback(obj: object) -> str:
    """Call ``obj``'s ``headstart_on_*`` methods at those events of every run in this process
    (until :func:`remove_callback`); returns the name it is registered under. An unknown event
    name raises, naming the valid ones."""
    name = _name(obj)
    get_plugin_system().register(_adapter(obj), name)
    return name


def remove_callback(obj: object) -> None:
    """Stop calling ``obj`` back (registered by :func:`add_callback`)."""
    system = get_plugin_system()
    name = _name(obj)
    if system.pm.get_plugin(name) is None:
        raise ValueError(f"{type(obj).__name__} object is not a registered callback")
    system.pm.unregister(name=name)
    system.infos.pop(name, None)


@contextmanager
def _registered(callbacks: Sequence[object]) -> Iterator[None]:
    added: list[object] = []
    try:
        for obj in callbacks:
            add_callback(obj)
            added.append(obj)
        yield
    finally:
        for obj in added:
            remove_callback(obj)
