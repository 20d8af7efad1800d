"""The plugin manager: built-ins, entry points, failure isolation, listing.

Core's own components (policies, dataset formats, metrics) are plugins registered through the
same :func:`register` path as installed ones. Installed plugins are found through the
``headstart`` entry-point group. A plugin that raises while importing or registering is recorded
in :attr:`PluginSystem.failures` and skipped; the others keep working.

Environment variables:

* ``HEADSTART_DISABLE_PLUGIN_AUTOLOAD=1``: load no entry points (built-ins only), for debugging.
* ``HEADSTART_PLUGINS=mod1,mod2``: import and register these modules as plugins as well.
* ``HEADSTART_TRACE_HOOKS=1``: print every hook call and its result to stderr.
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import os
import sys
import traceback
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, TypeVar, cast

import pluggy

from . import hookspecs
from .version import __version__

PROJECT = "headstart"
ENTRY_POINT_GROUP = "headstart"
hookimpl = pluggy.HookimplMarker(PROJECT)
T = TypeVar("T")

#: Set on a ``headstart_on_step_end`` implementation that acts on logging steps only (those whose
#: metrics hold ``loss``; it still checks, as it is called on every step when another
#: implementation wants every step): when every implementation says so, the loop calls the event
#: on logging steps only (the built-in step log and TensorBoard writer; a call costs tens of
#: microseconds, a head's step on cached features not many more).
LOGGING_STEPS_ONLY = "_headstart_logging_steps_only"


def logging_steps_only(fn: T) -> T:
    """Mark a ``headstart_on_step_end`` implementation as acting on logging steps only."""
    setattr(fn, LOGGING_STEPS_ONLY, True)
    return fn


def tracing() -> bool:
    """Whether hook calls are printed (``HEADSTART_TRACE_HOOKS``): then every event is called."""
    return bool(os.environ.get("HEADSTART_TRACE_HOOKS"))


#: Modules of core registered as built-in plugins, in this order.
BUILTIN_PLUGINS = (
    "headstart.policies.plugin",
    "headstart.data.plugin",
    "headstart.metrics",
    "headstart.run_source",
    "headstart.engine.step_log",
    "headstart.engine.tensorboard_log",
)

CONTRIBUTION_HOOKS = {
    "headstart_source_providers": "sources",
    "headstart_task_types": "tasks",
    "headstart_policies": "policies",
    "headstart_dataset_formats": "formats",
    "headstart_metrics": "metrics",
    "headstart_local_models": "local models",
}


class PluginError(Exception):
    """A plugin is malformed (unknown hook, duplicate name, bad return value)."""


@dataclass
class PluginFailure:
    """A plugin that could not be loaded, and why."""

    name: str
    source: str
    error: str
    traceback: str = ""


@dataclass
class PluginInfo:
    """One loaded plugin: where it came from and what it provides."""

    name: str
    module: str
    version: str | None
    distribution: str | None
    builtin: bool
    hooks: list[str] = field(default_factory=list)


@dataclass
class PluginSystem:
    """A pluggy manager plus what was learned while loading plugins.

    Contributions are collected once per plugin set (registering a plugin starts over), each
    plugin's contribution hooks on their own: a plugin whose hook raises or returns something
    other than a list is unregistered and recorded in :attr:`failures`; the others keep working.
    What is built from the contributions (the registry) is cached here too, so it is forgotten
    together with the plugins it came from.
    """

    pm: pluggy.PluginManager
    _infos: dict[str, PluginInfo] = field(default_factory=dict)
    failures: list[PluginFailure] = field(default_factory=list)
    _contributions: dict[str, list[tuple[str, Any]]] | None = field(default=None, init=False, repr=False)
    _cache: dict[Callable[[PluginSystem], Any], Any] = field(default_factory=dict, init=False, repr=False)

    @property
    def hook(self) -> Any:
        return self.pm.hook

    @property
    def infos(self) -> dict[str, PluginInfo]:
        """The loaded plugins by name (contributions are collected first: a plugin whose
        contribution hook fails is not among them, but in :attr:`failures`)."""
        self.contributions()
        return self._infos

    def register(
        self,
        plugin: ModuleType | object,
        name: str,
        *,
        builtin: bool = False,
        distribution: str | None = None,
        version: str | None = None,
    ) -> None:
        """Register ``plugin`` under ``name``; unknown ``headstart_*`` hooks raise PluginError."""
        _check_hook_names(plugin, name)
        self.pm.register(plugin, name=name)
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            self.pm.unregister(name=name)
            raise PluginError(f"plugin {name!r}: {exc}") from exc
        self._infos[name] = PluginInfo(
            name=name,
            module=getattr(plugin, "__name__", type(plugin).__name__),
            version=version,
            distribution=distribution,
            builtin=builtin,
            hooks=sorted(h.name for h in self.pm.get_hookcallers(plugin) or []),
        )
        self.forget()

    def forget(self) -> None:
        """Collect contributions again on next use (after plugins were (un)registered on ``pm``)."""
        self._contributions = None
        self._cache.clear()

    def contributions(self) -> dict[str, list[tuple[str, Any]]]:
        """``(plugin name, item)`` of every contribution hook, by hook name, in registration order."""
        if self._contributions is None:
            found: dict[str, list[tuple[str, Any]]] = {hook_name: [] for hook_name in CONTRIBUTION_HOOKS}
            broken: dict[str, str] = {}
            for hook_name, items in found.items():
                for impl in getattr(self.pm.hook, hook_name).get_hookimpls():  # registration order
                    if impl.plugin_name in broken:
                        continue
                    try:
                        got = _call_contribution_hook(impl.function, hook_name, impl.plugin_name)
                    except Exception as exc:  # a broken plugin must never stop the others
                        why = str(exc) if isinstance(exc, PluginError) else f"raised {type(exc).__name__}: {exc}"
                        broken[impl.plugin_name] = f"{hook_name}() {why}"
                        continue
                    items.extend((impl.plugin_name, item) for item in got)
            for name, error in broken.items():
                self._disable(name, error)
            self._contributions = {
                hook_name: [(plugin, item) for plugin, item in items if plugin not in broken]
                for hook_name, items in found.items()
            }
        return self._contributions

    def cached(self, build: Callable[[PluginSystem], T]) -> T:
        """``build(self)``, computed once per plugin set (the registry is kept this way)."""
        if build not in self._cache:
            self._cache[build] = build(self)
        return cast(T, self._cache[build])

    def plugin_contributions(self, name: str) -> dict[str, list[str]]:
        """What one plugin contributes, by kind (``sources`` lists schemes)."""
        out: dict[str, list[str]] = {}
        for hook_name, items in self.contributions().items():
            for plugin, item in items:
                if plugin == name:
                    label = getattr(item, "id", None) or getattr(item, "scheme", None) or item.name
                    out.setdefault(CONTRIBUTION_HOOKS[hook_name], []).append(label)
        return out

    def plugin_descriptions(self, name: str) -> dict[str, str]:
        """The one-line description of each component one plugin contributes, by its listed name
        (components without a description are left out)."""
        out: dict[str, str] = {}
        for items in self.contributions().values():
            for plugin, item in items:
                description = getattr(item, "description", "")
                if plugin == name and description:
                    label = getattr(item, "id", None) or getattr(item, "scheme", None) or item.name
                    out[label] = description
        return out

    def _disable(self, name: str, error: str) -> None:
        info = self._infos.pop(name, None)
        origin = info.module if info else "unknown origin"
        self.pm.unregister(name=name)
        self.failures.append(PluginFailure(name, origin, error))
        warnings.warn(f"headstart plugin {name!r} disabled: {error}", RuntimeWarning, stacklevel=3)


def _call_contribution_hook(function: Callable[[], Any], hook_name: str, plugin: str) -> list[Any] | tuple[Any, ...]:
    got = function()
    if os.environ.get("HEADSTART_TRACE_HOOKS"):
        print(f"[headstart hook] {hook_name} ({plugin}) returned {len(got or [])} item(s)", file=sys.stderr)
    if not isinstance(got, list | tuple):
        raise PluginError(f"must return a list, not {type(got).__name__}")
    return got


def _check_hook_names(plugin: object, name: str) -> None:
    known = {n for n in dir(hookspecs) if n.startswith("headstart_")}
    for attr in dir(plugin):
        if attr.startswith("headstart_") and attr not in known and callable(getattr(plugin, attr)):
            import difflib

            close = difflib.get_close_matches(attr, sorted(known), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise PluginError(f"plugin {name!r} implements unknown hook {attr!r}{hint}")


def _trace(pm: pluggy.PluginManager) -> None:
    def before(hook_name: str, impls: Any, kwargs: Any) -> None:
        print(f"[headstart hook] {hook_name}({', '.join(kwargs)}) -> {[i.plugin_name for i in impls]}", file=sys.stderr)

    def after(outcome: Any, hook_name: str, impls: Any, kwargs: Any) -> None:
        exc = outcome.exception
        status = f"raised {exc!r}" if exc else f"returned {len(outcome.get_result() or [])} result(s)"
        print(f"[headstart hook] {hook_name} {status}", file=sys.stderr)

    pm.add_hookcall_monitoring(before, after)


def _entry_points() -> Iterable[md.EntryPoint]:
    return md.entry_points(group=ENTRY_POINT_GROUP)


def load_plugins(
    entry_points: Iterable[md.EntryPoint] | None = None,
    *,
    autoload: bool | None = None,
) -> PluginSystem:
    """Build a plugin system: built-ins, then entry points, then ``HEADSTART_PLUGINS`` modules.

    ``entry_points`` replaces discovery (tests pass their own); ``autoload=False`` skips
    entry points (default: on unless ``HEADSTART_DISABLE_PLUGIN_AUTOLOAD`` is set).
    """
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    system = PluginSystem(pm)
    if tracing():
        _trace(pm)
    for modname in BUILTIN_PLUGINS:
        system.register(
            importlib.import_module(modname), modname, builtin=True, distribution="headstart", version=__version__
        )

    if autoload is None:
        autoload = not os.environ.get("HEADSTART_DISABLE_PLUGIN_AUTOLOAD")
    if autoload:
        for ep in entry_points if entry_points is not None else _entry_points():
            dist = getattr(ep, "dist", None)
            _load_isolated(
                system,
                ep.name,
                f"entry point {ep.value!r}",
                ep.load,
                distribution=dist.name if dist else None,
                version=dist.version if dist else None,
            )

    for modname in filter(None, (m.strip() for m in os.environ.get("HEADSTART_PLUGINS", "").split(","))):
        _load_isolated(system, modname, "HEADSTART_PLUGINS", lambda m=modname: importlib.import_module(m))
    return system


def _load_isolated(system: PluginSystem, name: str, origin: str, load: Any, **meta: Any) -> None:
    if system.pm.has_plugin(name):
        system.failures.append(PluginFailure(name, origin, f"a plugin named {name!r} is already registered"))
        return
    try:
        plugin = load()
        system.register(plugin, name, **meta)
    except Exception as exc:  # a broken plugin must never stop the others
        system.failures.append(PluginFailure(name, origin, f"{type(exc).__name__}: {exc}", traceback.format_exc()))


_SYSTEM: PluginSystem | None = None


def get_plugin_system() -> PluginSystem:
    """The process-wide plugin system, loaded on first use."""
    global _SYSTEM
    if _SYSTEM is None:
        _SYSTEM = load_plugins()
    return _SYSTEM


def reset_plugin_system(system: PluginSystem | None = None) -> None:
    """Forget the loaded plugins (or install ``system``), and with them the registry built from them."""
    global _SYSTEM
    _SYSTEM = system
