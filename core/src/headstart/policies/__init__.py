"""Transfer policies: the base every policy builds on, and core's built-in ones.

* :mod:`.base` — :class:`Policy` (``phases``, ``prepare``, ``regularizer``) and :func:`prepare_model`;
* :mod:`.schedules` — the block schedules (``linear-probe``, ``full``, ``top-k``, ``discriminative``,
  ``gradual-unfreeze``, ``lp-ft``, ``scratch``);
* :mod:`.plugin` — registers the built-ins through the same hook a third-party plugin uses.
"""

from .base import Policy, backbone_blocks, prepare_model
from .schedules import LPFT, SCHEDULES, Discriminative, Full, GradualUnfreeze, LinearProbe, Scratch, TopK

__all__ = [
    "LPFT",
    "SCHEDULES",
    "Discriminative",
    "Full",
    "GradualUnfreeze",
    "LinearProbe",
    "Policy",
    "Scratch",
    "TopK",
    "backbone_blocks",
    "prepare_model",
]
