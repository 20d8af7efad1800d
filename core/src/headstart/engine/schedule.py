"""Learning-rate schedules as pure functions of the optimizer step (resume needs only the step)."""

from __future__ import annotations

import math
from collections.abc import Callable


def lr_factor(schedule: str, total_steps: int, warmup_steps: int) -> Callable[[int], float]:
    """``factor(step)`` for the 0-based optimizer ``step``: linear warmup, then the schedule."""
    total = max(total_steps, 1)
    warm = min(max(warmup_steps, 0), total - 1) if total > 1 else 0

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / (warm + 1)
        progress = min((step - warm) / max(total - warm, 1), 1.0)
        if schedule == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * progress))
        if schedule == "linear":
            return 1.0 - progress
        if schedule == "constant":
            return 1.0
        raise ValueError(f"unknown schedule {schedule!r}; valid: cosine, linear, constant")

    return factor
