"""Name -> component, built from the contribution hooks of every loaded plugin.

Sources are named ``scheme:name`` (``timm:resnet50``); tasks, policies, dataset formats and
metrics by plain names. A name that is not known raises :class:`UnknownNameError` listing close
matches and the valid choices.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from .interfaces import DatasetFormat, LocalModel, Metric, PolicyType, SourceModel, SourceProvider, TaskType
from .plugins import PluginError, PluginSystem, get_plugin_system

T = TypeVar("T")


def _plural(noun: str) -> str:
    """``policy`` -> ``policies``, ``source`` -> ``sources`` (the kinds errors name)."""
    if noun.endswith("y") and noun[-2:-1] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + ("es" if noun.endswith(("s", "x", "ch", "sh")) else "s")


class UnknownNameError(LookupError):
    """A component name that no plugin provides."""

    def __init__(self, kind: str, name: str, choices: Sequence[str], hint: str = "") -> None:
        self.kind, self.name, self.choices = kind, name, list(choices)
        close = difflib.get_close_matches(name, self.choices, n=3, cutoff=0.5)
        msg = f"unknown {kind} {name!r}"
        if close:
            msg += f" (did you mean {' or '.join(repr(c) for c in close)}?)"
        shown = ", ".join(self.choices[:30]) + (" …" if len(self.choices) > 30 else "")
        msg += f". Valid {_plural(kind)}: {shown or '(none installed)'}."
        if hint:
            msg += f" {hint}"
        super().__init__(msg)

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass
class Registry:
    """Every component contributed by the loaded plugins, by name, with its plugin."""

    providers: dict[str, list[tuple[str, SourceProvider]]]
    tasks: dict[str, tuple[str, TaskType]]
    policies: dict[str, tuple[str, PolicyType]]
    formats: dict[str, tuple[str, DatasetFormat]]
    metrics: dict[str, tuple[str, Metric]]
    local_models: dict[tuple[str, str], tuple[str, LocalModel]]
    failed: str = ""  # which plugins failed to load, and why: a likely reason for an unknown name

    @classmethod
    def build(cls, system: PluginSystem) -> Registry:
        """Index the contributions of ``system``'s plugins; a name contributed twice is an error."""
        contributed = system.contributions()

        def collect(hook_name: str, key: Callable[[Any], Hashable]) -> dict[Any, tuple[str, Any]]:
            out: dict[Any, tuple[str, Any]] = {}
            for plugin, item in contributed[hook_name]:
                name = key(item)
                if name in out:
                    raise PluginError(
                        f"{hook_name.removeprefix('headstart_')} entry {name!r} is contributed by both "
                        f"plugin {out[name][0]!r} and plugin {plugin!r}"
                    )
                out[name] = (plugin, item)
            return out

        providers: dict[str, list[tuple[str, SourceProvider]]] = {}
        for plugin, provider in contributed["headstart_source_providers"]:
            providers.setdefault(provider.scheme, []).append((plugin, provider))
        return cls(
            providers=providers,
            tasks=collect("headstart_task_types", _name),
            policies=collect("headstart_policies", _name),
            formats=collect("headstart_dataset_formats", _name),
            metrics=collect("headstart_metrics", _name),
            local_models=collect("headstart_local_models", lambda m: (m.scheme, m.id)),
            failed=" ".join(f"Plugin {f.name!r} failed to load ({f.error})." for f in system.failures),
        )

    # --- sources ---------------------------------------------------------------------------
    def providers_for(self, scheme: str) -> list[SourceProvider]:
        if scheme not in self.providers:
            raise UnknownNameError(
                "source scheme",
                scheme,
                sorted(self.providers),
                hint=f"Install the domain plugin that provides it (see `headstart plugins`). {self.failed}".strip(),
            )
        return [p for _, p in self.providers[scheme]]

    def source(self, name: str, **options: Any) -> SourceModel:
        """Resolve ``scheme:name`` with the experiment's source options.

        Providers sharing the scheme are tried in order; ``LookupError`` passes to the next.
        """
        scheme, sep, rest = name.partition(":")
        if not sep or not rest:
            raise UnknownNameError(
                "source",
                name,
                [f"{s}:…" for s in sorted(self.providers)],
                hint="Source names have the form 'scheme:name', e.g. 'timm:resnet50'.",
            )
        reasons: list[str] = []
        known: list[str] = []
        for provider in self.providers_for(scheme):
            try:
                return provider.resolve(rest, **options)
            except UnknownNameError:
                raise
            except LookupError as exc:
                reasons.append(str(exc.args[0]) if exc.args else type(exc).__name__)
                known.extend(f"{scheme}:{n}" for n in provider.available())
        raise UnknownNameError("source", name, known, hint=f"Providers of {scheme!r} said: {'; '.join(reasons)}.")

    def local_model(self, scheme: str, model_id: str) -> LocalModel | None:
        """The local stand-in a plugin declared for ``model_id`` under ``scheme``, if any."""
        found = self.local_models.get((scheme, model_id))
        return found[1] if found else None

    # --- everything else -------------------------------------------------------------------
    def _get(self, table: dict[str, tuple[str, T]], kind: str, name: str) -> T:
        if name not in table:
            raise UnknownNameError(kind, name, sorted(table), hint=self.failed)
        return table[name][1]

    def task_type(self, name: str) -> TaskType:
        return self._get(self.tasks, "task", name)

    def policy_type(self, name: str) -> PolicyType:
        return self._get(self.policies, "policy", name)

    def dataset_format(self, name: str) -> DatasetFormat:
        return self._get(self.formats, "dataset format", name)

    def metric(self, name: str) -> Metric:
        return self._get(self.metrics, "metric", name)


def _name(item: Any) -> Hashable:
    name: str = item.name
    return name


def get_registry() -> Registry:
    """The registry of the process-wide plugin system, built on first use and cached with it."""
    return get_plugin_system().cached(Registry.build)


def reset_registry() -> None:
    """Build the registry again on next use (after plugins were registered on ``pm`` directly)."""
    get_plugin_system().forget()
