"""Checking configuration options against the signature of whatever consumes them.

Every component (source, task, policy, trainer) is built by ``factory(**options)``. Before it is
called, :func:`call_with_options` checks each key against the factory's parameters and each value
against the parameter's annotation, so a typo in a YAML file fails with the key, the bad value and
the valid choices, not with a ``TypeError`` deep inside a plugin.

Options can be data: a factory that is a dataclass (the built-in policies, ``TrainerSettings``)
takes its fields as options, and a factory may declare its options as a dataclass ``Options``
(a class attribute) while it takes ``**options`` itself. A family of components declares the
options they share once and each variant's ``Options`` subclasses it, adding fields or changing
defaults. An option annotated with a dataclass is a nested section, checked the same way (errors
say ``task.augment.flip``).
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import types
import typing
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any, Literal, get_args, get_origin


class ConfigError(ValueError):
    """A configuration key or value that is not valid; the message names the key."""


def suggest(word: str, choices: typing.Iterable[str]) -> str:
    """``" (did you mean 'x'?)"`` when a close match exists, else ``""``."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _describe(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_describe(a) for a in get_args(tp))
    if isinstance(tp, type) and issubclass(tp, Enum):
        return " | ".join(repr(m.value) for m in tp)
    if origin is not None:
        return getattr(origin, "__name__", str(origin))
    return getattr(tp, "__name__", str(tp))


def coerce(value: Any, tp: Any, key: str) -> Any:
    """Return ``value`` converted to ``tp`` where that is lossless, else raise ConfigError."""
    if tp is Any or tp is inspect.Parameter.empty:
        return value
    origin = get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        sections = [a for a in get_args(tp) if isinstance(a, type) and dataclasses.is_dataclass(a)]
        if isinstance(value, dict) and len(sections) == 1:  # a nested section: its own errors are clearer
            return coerce(value, sections[0], key)
        errors = []
        for arg in get_args(tp):
            try:
                return coerce(value, arg, key)
            except ConfigError as exc:
                errors.append(exc)
        raise ConfigError(f"{key} = {value!r} is not valid: expected {_describe(tp)}")
    if origin is Literal:
        if isinstance(value, bool):  # YAML 1.1 reads off / no / on / yes as booleans
            spelled = [
                c
                for c in get_args(tp)
                if str(c).lower() in (("on", "yes", "true") if value else ("off", "no", "false"))
            ]
            if spelled:
                return spelled[0]
        if value in get_args(tp) and not isinstance(value, bool):
            return value
        raise ConfigError(
            f"{key} = {value!r} is not valid; valid choices: {_describe(tp)}{suggest(str(value), map(str, get_args(tp)))}"
        )
    if tp is type(None):
        if value is None:
            return None
        raise ConfigError(f"{key} = {value!r}: expected null")
    if isinstance(tp, type) and issubclass(tp, Enum):
        try:
            return tp(value)
        except ValueError:
            raise ConfigError(
                f"{key} = {value!r} is not valid; valid choices: {_describe(tp)}{suggest(str(value), [str(m.value) for m in tp])}"
            ) from None
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{key} = {value!r}: expected true or false")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{key} = {value!r}: expected an integer")
    if tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML reads 1e-3 as a string
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{key} = {value!r}: expected a number")
    if tp is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{key} = {value!r}: expected a string")
    if origin in (tuple, list) or tp in (tuple, list):
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{key} = {value!r}: expected a list")
        args = get_args(tp)
        item_tp = args[0] if args else Any
        items = [coerce(v, item_tp, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if (origin or tp) is tuple else items
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{key} = {value!r}: expected a mapping of {_describe(tp)} options")
        return call_with_options(tp, value, key)
    if origin in (dict, Mapping) or tp in (dict, Mapping):
        if not isinstance(value, dict):
            raise ConfigError(f"{key} = {value!r}: expected a mapping")
        return value
    return value


def options_class(factory: Callable[..., Any]) -> type | None:
    """The dataclass ``factory`` declares its options with (its ``Options`` attribute), if any."""
    declared = getattr(factory, "Options", None)
    return declared if isinstance(declared, type) and dataclasses.is_dataclass(declared) else None


def _hints(target: Any) -> dict[str, Any]:
    try:
        return typing.get_type_hints(target)
    except Exception:
        return {}


def parameters(factory: Callable[..., Any]) -> dict[str, tuple[Any, bool]]:
    """``{name: (annotation, required)}`` for the keyword options ``factory`` accepts: the fields
    of its ``Options`` dataclass when it declares one, else its signature's keyword parameters.

    Returns ``{"*": ...}`` when the factory takes ``**options`` (it checks them itself).
    """
    declared = options_class(factory)
    if declared is not None:
        return parameters(declared)
    target = factory.__init__ if isinstance(factory, type) else factory  # type: ignore[misc]
    hints = _hints(target)
    if isinstance(factory, type) and dataclasses.is_dataclass(factory):
        # fields inherited from a dataclass in another module are resolved in that module
        hints = {**hints, **_hints(factory)}
    out: dict[str, tuple[Any, bool]] = {}
    for name, p in inspect.signature(factory).parameters.items():
        if p.kind is inspect.Parameter.VAR_KEYWORD:
            out["*"] = (Any, False)
            continue
        if p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.POSITIONAL_ONLY):
            continue
        out[name] = (hints.get(name, p.annotation), p.default is inspect.Parameter.empty)
    return out


def check_options(factory: Callable[..., Any], options: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Check ``options`` against ``factory``'s parameters; return them coerced.

    ``where`` is the config path of the section, e.g. ``"policy"`` -> errors say ``policy.k``.
    """
    params = parameters(factory)
    valid = [k for k in params if k != "*"]
    checked: dict[str, Any] = {}
    for key, value in options.items():
        if key not in params:
            if "*" in params:
                checked[key] = value
                continue
            raise ConfigError(
                f"{where}.{key}: unknown key{suggest(key, valid)}. Valid keys: {', '.join(valid) or '(none)'}"
            )
        checked[key] = coerce(value, params[key][0], f"{where}.{key}")
    missing = [k for k, (_, required) in params.items() if required and k != "*" and k not in options]
    if missing:
        raise ConfigError(f"{where}: missing required key(s) {', '.join(missing)}")
    return checked


def call_with_options(factory: Callable[..., Any], options: Mapping[str, Any], where: str) -> Any:
    """``factory(**options)`` after :func:`check_options`; a ValueError from the factory is
    re-raised as a ConfigError that names the section."""
    checked = check_options(factory, options, where)
    try:
        return factory(**checked)
    except ConfigError:
        raise
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{where}: {exc}") from exc
