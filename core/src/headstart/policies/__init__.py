"""Transfer policies: the base every policy builds on, and core's built-in ones.

* :mod:`.base` — :class:`Policy` (``phases``, ``prepare``, ``regularizer``) and :func:`prepare_model`;
* :mod:`.schedules` — the block schedules (``linear-probe``, ``full``, ``top-k``, ``discriminative``,
  ``gradual-unfreeze``, ``lp-ft``, ``scratch``);
* :mod:`.params` — policies that select parameters inside blocks (``bitfit``, ``norm-tune``,
  ``filtered``: any schedule restricted to a selection);
* :mod:`.lora` — ``lora``: adapters injected with ``peft``, and :func:`merge_adapters`;
* :mod:`.plugin` — registers the built-ins through the same hook a third-party plugin uses.
"""

from .base import Policy, backbone_blocks, prepare_model
from .lora import Lora, merge_adapters
from .params import BitFit, Filtered, NormTune, with_params
from .schedules import LPFT, SCHEDULES, Discriminative, Full, GradualUnfreeze, LinearProbe, Scratch, TopK

__all__ = [
    "LPFT",
    "SCHEDULES",
    "BitFit",
    "Discriminative",
    "Filtered",
    "Full",
    "GradualUnfreeze",
    "LinearProbe",
    "Lora",
    "NormTune",
    "Policy",
    "Scratch",
    "TopK",
    "backbone_blocks",
    "merge_adapters",
    "prepare_model",
    "with_params",
]
