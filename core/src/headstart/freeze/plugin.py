"""Core's built-in policies, registered as a plugin through the same path as any other."""

from __future__ import annotations

from ..interfaces import PolicyType
from ..plugins import hookimpl
from .policies import BUILTIN_POLICIES


@hookimpl
def headstart_policies() -> list[PolicyType]:
    return list(BUILTIN_POLICIES)
