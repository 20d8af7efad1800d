"""The freeze-policy engine: block maps, plans, and the one place that applies them."""

from .apply import Freezer, FreezeStateError
from .blockmap import BlockInfo, BlockMapError, is_norm, resolve_blocks
from .plan import BlockPlan, FreezePlan, PolicyError, compute_plan, phase_at, validate_phases

__all__ = [
    "BlockInfo",
    "BlockMapError",
    "BlockPlan",
    "FreezePlan",
    "FreezeStateError",
    "Freezer",
    "PolicyError",
    "compute_plan",
    "is_norm",
    "phase_at",
    "resolve_blocks",
    "validate_phases",
]
