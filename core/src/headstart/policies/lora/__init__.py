"""LoRA through ``peft``: the policy (``policy.py``) and merging adapters back (``merge.py``)."""

from .merge import merge_adapters
from .policy import Lora

__all__ = ["Lora", "merge_adapters"]
