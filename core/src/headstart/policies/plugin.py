"""Core's built-in policies, registered as a plugin through the same path as any other."""

from __future__ import annotations

from ..interfaces import PolicyType
from ..plugins import hookimpl
from .base import Policy
from .lora import Lora
from .params import BitFit, Filtered, NormTune
from .schedules import SCHEDULES


def policy_type(cls: type[Policy]) -> PolicyType:
    """A :class:`PolicyType` for a policy class: its name, itself as factory, its docstring's first line."""
    return PolicyType(cls.name, cls, (cls.__doc__ or "").strip().splitlines()[0])


#: Block schedules first, then the parameter-efficient policies.
BUILTIN_POLICIES = [policy_type(cls) for cls in (*SCHEDULES, Lora, BitFit, NormTune, Filtered)]


@hookimpl
def headstart_policies() -> list[PolicyType]:
    return list(BUILTIN_POLICIES)
