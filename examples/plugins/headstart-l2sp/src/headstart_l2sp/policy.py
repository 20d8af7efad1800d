"""The ``l2-sp`` policy: fine-tune every block, pulling source weights towards their pretrained
values (L2-SP, Li, Grandvalet & Davoine, 2018: "Explicit inductive bias for transfer learning").

L2-SP adds ``alpha/2 * ||w - w0||^2`` over the source weights ``w`` (``w0``: the pretrained
values) to the loss. Here the penalty is *decoupled* from the loss, as AdamW decouples weight
decay: after every optimizer step each trainable source weight moves towards ``w0``,

    w <- w - lr * alpha * (w - w0)

with ``lr`` the weight's current learning rate (its block's ``lr_scale`` and the schedule
included). For plain SGD this is exactly a gradient step on the penalty; for Adam(W) it keeps the
pull independent of the adaptive scaling. Frozen blocks (learning rate 0) are not touched, and
the new head is not pulled (it has no pretrained value).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from headstart import HEAD, Phase, Policy


@dataclass(frozen=True)
class L2SP(Policy):
    """Fine-tune everything, each source weight pulled towards its pretrained value with strength
    ``alpha`` (per unit of learning rate, per step). ``alpha = 0`` is the ``full`` policy."""

    alpha: float = 0.1
    name: ClassVar[str] = "l2-sp"

    def __post_init__(self) -> None:
        if not self.alpha >= 0:
            raise ValueError(f"alpha must be >= 0, got {self.alpha}")

    def phases(self, blocks: Sequence[str], epochs: int) -> list[Phase]:
        if not blocks or blocks[-1] != HEAD:
            raise ValueError(f"the last block must be {HEAD!r}, got {list(blocks)}")
        return [Phase("l2-sp", 0, frozenset(blocks))]

    @staticmethod
    def contract_example(tmp_path: Any) -> dict[str, Any]:
        """Options the contract kit checks the policy with."""
        return {"alpha": 0.5}


def pull_towards(weight: torch.Tensor, anchor: torch.Tensor, rate: float) -> None:
    """``weight <- weight - rate * (weight - anchor)`` in place (``rate`` is clipped to [0, 1])."""
    weight.lerp_(anchor.to(weight.dtype), min(max(rate, 0.0), 1.0))
