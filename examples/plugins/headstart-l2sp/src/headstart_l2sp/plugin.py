"""Hook implementations of headstart-l2sp (the only module with ``@hookimpl``).

The policy carries everything it needs — ``prepare`` remembers the pretrained weights,
``regularizer`` returns the penalty — so the plugin only registers it.
"""

from __future__ import annotations

from headstart import PolicyType, hookimpl

from .policy import L2SP


@hookimpl
def headstart_policies() -> list[PolicyType]:
    return [PolicyType(L2SP.name, L2SP, "fine-tune everything, pulled towards the pretrained weights (L2-SP)")]
