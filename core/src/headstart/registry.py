"""Name -> component, built from the contribution hooks of every loaded plugin.

Sources are named ``scheme:name`` (``timm:resnet50``); tasks, policies, dataset formats and
metrics by plain names. A name that is not known raises :class:`UnknownNameError` listing close
matches and the valid choices.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .interfaces import DatasetFormat, Metric, PolicyType, SourceModel, SourceProvider, TaskType
from .plugins import PluginError, PluginSystem, get_plugin_system


class UnknownNameError(LookupError):
    """A component name that no plugin provides."""

    def __init__(self, kind: str, name: str, choices: Sequence[str], hint: str = "") -> None:
        self.kind, self.name, self.choices = kind, name, list(choices)
        close = difflib.get_close_matches(name, self.choices, n=3, cutoff=0.5)
        msg = f"unknown {kind} {name!r}"
        if close:
            msg += f"; did you mean {' or '.join(repr(c) for c in close)}?"
        shown = ", ".join(self.choices[:30]) + (" …" if len(self.choices) > 30 else "")
        msg += f" Valid {kind}s: {shown or '(none installed)'}."
        if hint:
            msg += f" {hint}"
        super().__init__(msg)

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass
class Registry:
    """Every component contributed by the loaded plugins, by name, with its plugin."""

    providers: dict[str, tuple[str, SourceProvider]]
    tasks: dict[str, tuple[str, TaskType]]
    policies: dict[str, tuple[str, PolicyType]]
    formats: dict[str, tuple[str, DatasetFormat]]
    metrics: dict[str, tuple[str, Metric]]

    @classmethod
    def build(cls, system: PluginSystem) -> Registry:
        def collect(hook_name: str, key: str) -> dict[str, tuple[str, Any]]:
            out: dict[str, tuple[str, Any]] = {}
            for impl in getattr(system.pm.hook, hook_name).get_hookimpls():
                items = impl.function()
                if not isinstance(items, list | tuple):
                    raise PluginError(
                        f"plugin {impl.plugin_name!r}: {hook_name}() must return a list, "
                        f"not {type(items).__name__}"
                    )
                for item in items:
                    name = getattr(item, key)
                    if name in out:
                        raise PluginError(
                            f"{key} {name!r} is contributed by both plugin {out[name][0]!r} "
                            f"and plugin {impl.plugin_name!r}"
                        )
                    out[name] = (impl.plugin_name, item)
            return out

        return cls(
            providers=collect("headstart_source_providers", "scheme"),
            tasks=collect("headstart_task_types", "name"),
            policies=collect("headstart_policies", "name"),
            formats=collect("headstart_dataset_formats", "name"),
            metrics=collect("headstart_metrics", "name"),
        )

    # --- sources ---------------------------------------------------------------------------
    def provider(self, scheme: str) -> SourceProvider:
        if scheme not in self.providers:
            raise UnknownNameError(
                "source scheme", scheme, sorted(self.providers),
                hint="Install the domain plugin that provides it (see `headstart plugins`).",
            )
        return self.providers[scheme][1]

    def source(self, name: str, **options: Any) -> SourceModel:
        """Resolve ``scheme:name`` with the experiment's source options."""
        scheme, sep, rest = name.partition(":")
        if not sep or not rest:
            raise UnknownNameError(
                "source", name, [f"{s}:…" for s in sorted(self.providers)],
                hint="Source names have the form 'scheme:name', e.g. 'timm:resnet50'.",
            )
        provider = self.provider(scheme)
        try:
            return provider.resolve(rest, **options)
        except UnknownNameError:
            raise
        except LookupError as exc:
            raise UnknownNameError(
                "source", name, [f"{scheme}:{n}" for n in provider.available()], hint=str(exc)
            ) from exc

    # --- everything else -------------------------------------------------------------------
    def _get(self, table: dict[str, tuple[str, Any]], kind: str, name: str) -> Any:
        if name not in table:
            raise UnknownNameError(kind, name, sorted(table))
        return table[name][1]

    def task_type(self, name: str) -> TaskType:
        return self._get(self.tasks, "task", name)  # type: ignore[no-any-return]

    def policy_type(self, name: str) -> PolicyType:
        return self._get(self.policies, "policy", name)  # type: ignore[no-any-return]

    def dataset_format(self, name: str) -> DatasetFormat:
        return self._get(self.formats, "dataset format", name)  # type: ignore[no-any-return]

    def metric(self, name: str) -> Metric:
        return self._get(self.metrics, "metric", name)  # type: ignore[no-any-return]


_REGISTRY: Registry | None = None


def get_registry() -> Registry:
    """The registry of the process-wide plugin system, built on first use."""
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = Registry.build(get_plugin_system())
    return _REGISTRY


def reset_registry() -> None:
    global _REGISTRY
    _REGISTRY = None
