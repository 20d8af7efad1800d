"""Contract checks for dataset formats, metrics, registry names and installed plugins."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..interfaces import DatasetFormat, Metric
from ..registry import Registry, UnknownNameError, get_registry
from .errors import ContractError
from .sources import NONSENSE

#: Registry tables checked by :func:`check_unknown_name`, by the kind named in errors.
KINDS = ("task", "policy", "dataset format", "metric")


def check_format(fmt: object, tmp_path: Path, example: Path | None = None) -> None:
    """A :class:`~headstart.DatasetFormat`: a missing file is an error naming the path; an
    ``example`` file (when given) reads into a non-empty list of dicts, each with ``_where``."""
    if not isinstance(fmt, DatasetFormat) or not callable(fmt.read):
        raise ContractError(f"{fmt!r} is not a headstart.DatasetFormat with a callable read")
    missing = tmp_path / f"{NONSENSE}.{fmt.name}"
    try:
        fmt.read(missing)
    except (ValueError, OSError) as exc:
        if missing.name not in str(exc):
            raise ContractError(f"format {fmt.name!r}: the error for a missing file does not name it: {exc}") from None
    except Exception as exc:
        raise ContractError(
            f"format {fmt.name!r}: a missing file raised {type(exc).__name__}; expected DataError or OSError"
        ) from exc
    else:
        raise ContractError(f"format {fmt.name!r}: reading a missing file {missing} did not fail")
    if example is None:
        return
    rows = fmt.read(example)
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        raise ContractError(f"format {fmt.name!r}: read({example}) must return a non-empty list of dicts")
    nowhere = [i for i, r in enumerate(rows) if not isinstance(r.get("_where"), str) or not r["_where"]]
    if nowhere:
        raise ContractError(f"format {fmt.name!r}: example(s) {nowhere[:5]} have no '_where' (\"file:line\")")


#: Candidate references a metric may take; it must accept at least one kind.
_SAMPLES: tuple[list[Any], ...] = (
    [0, 1, 2, 1, 0, 2, 1, 0],
    [0.1, 0.7, 0.3, 0.9, 0.5, 0.2, 0.8, 0.4],
    ["the cat sat", "on the mat", "a dog ran", "far away"],
)


def check_metric(metric: object) -> None:
    """A :class:`~headstart.Metric`: on class ids, numbers or strings, perfect predictions score a
    number at least as good (per ``higher_is_better``) as wrong ones, and the same twice."""
    if not isinstance(metric, Metric) or not callable(metric.fn) or not isinstance(metric.higher_is_better, bool):
        raise ContractError(f"{metric!r} is not a headstart.Metric with a callable fn and a bool higher_is_better")
    errors = []
    for refs in _SAMPLES:
        wrong = list(refs)
        random.Random(0).shuffle(wrong)
        wrong = wrong[1:] + wrong[:1] if wrong == refs else wrong
        try:
            perfect, bad = metric.fn(list(refs), list(refs)), metric.fn(wrong, list(refs))
        except Exception as exc:
            errors.append(f"{type(refs[0]).__name__}: {type(exc).__name__}: {exc}")
            continue
        if not isinstance(perfect, int | float) or not isinstance(bad, int | float):
            raise ContractError(f"metric {metric.name!r} returned {perfect!r}, expected a number")
        if metric.fn(list(refs), list(refs)) != perfect:
            raise ContractError(f"metric {metric.name!r} is not deterministic")
        better = perfect >= bad if metric.higher_is_better else perfect <= bad
        if not better:
            raise ContractError(
                f"metric {metric.name!r}: perfect predictions score {perfect} and wrong ones {bad}; "
                f"check higher_is_better={metric.higher_is_better}"
            )
        return
    raise ContractError(f"metric {metric.name!r} accepts none of class ids, numbers or strings: {'; '.join(errors)}")


def check_unknown_name(kind: str, registry: Registry | None = None) -> None:
    """Looking up a nonsense ``kind`` name raises UnknownNameError listing every valid name, and a
    near miss of a valid name suggests it."""
    registry = registry or get_registry()
    tables: Mapping[str, tuple[dict[str, Any], Any]] = {
        "task": (registry.tasks, registry.task_type),
        "policy": (registry.policies, registry.policy_type),
        "dataset format": (registry.formats, registry.dataset_format),
        "metric": (registry.metrics, registry.metric),
    }
    if kind not in tables:
        raise ValueError(f"kind must be one of {', '.join(tables)}, got {kind!r}")
    table, lookup = tables[kind]
    for name, suggestion in [(NONSENSE, None), *((f"{n}x", n) for n in sorted(table)[:1])]:
        try:
            lookup(name)
        except UnknownNameError as exc:
            if sorted(exc.choices) != sorted(table):
                raise ContractError(f"the error for {kind} {name!r} does not list the valid names: {exc}") from None
            if suggestion and repr(suggestion) not in str(exc):
                raise ContractError(f"the error for {kind} {name!r} does not suggest {suggestion!r}: {exc}") from None
        else:
            raise ContractError(f"{kind} {name!r} resolved although no plugin provides it")


def plugins_listing(env: Mapping[str, str] | None = None, python: str | None = None) -> dict[str, Any]:
    """What ``headstart plugins --json`` prints, run in a fresh process (``python``, default: this one)."""
    proc = subprocess.run(
        [python or sys.executable, "-m", "headstart", "plugins", "--json"],
        capture_output=True,
        text=True,
        env=None if env is None else dict(env),
        check=False,
    )
    if proc.returncode != 0:
        raise ContractError(f"`headstart plugins --json` failed ({proc.returncode}): {proc.stderr.strip()}")
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def check_plugin_listed(
    name: str, contributes: Mapping[str, Sequence[str]] | None = None, *, python: str | None = None
) -> dict[str, Any]:
    """The plugin ``name`` (its entry-point name) appears in ``headstart plugins``, did not fail to
    load, and contributes at least ``contributes`` (``{"policies": ["l2-sp"]}``). Returns its entry."""
    report = plugins_listing(python=python)
    failed = [f for f in report["failed"] if f["name"] == name]
    if failed:
        raise ContractError(f"plugin {name!r} failed to load: {failed[0]['error']}")
    found = [p for p in report["plugins"] if p["name"] == name]
    if not found:
        listed = ", ".join(p["name"] for p in report["plugins"])
        raise ContractError(
            f"plugin {name!r} is not in `headstart plugins` (listed: {listed}); is the distribution installed "
            "(pip install -e .) and its entry point in [project.entry-points.headstart]?"
        )
    entry: dict[str, Any] = found[0]
    if entry.get("error"):
        raise ContractError(f"plugin {name!r} is listed with an error: {entry['error']}")
    for kind, names in (contributes or {}).items():
        missing = sorted(set(names) - set(entry["contributes"].get(kind, [])))
        if missing:
            raise ContractError(f"plugin {name!r} does not contribute {kind} {missing}: {entry['contributes']}")
    return entry
