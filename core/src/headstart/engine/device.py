"""Device and precision selection, and moving batches to the device."""

from __future__ import annotations

import contextlib
import resource
from collections.abc import Iterator
from dataclasses import fields, is_dataclass, replace
from typing import Any

import torch

from ..options import ConfigError


def select_device(name: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; anything else is passed to ``torch.device``."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ConfigError(f"trainer.device = {name!r} is not a device ({exc}); use auto, cpu or cuda[:N]") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("trainer.device = 'cuda' but CUDA is not available here; use auto or cpu")
    return device


def select_precision(name: str, device: torch.device) -> str:
    """``auto`` -> ``bf16`` on a CUDA device that supports it, else ``fp32`` (``fp16`` is never
    chosen for you: it needs loss scaling and can overflow; ask for it on GPUs without bf16)."""
    if name == "auto":
        return "bf16" if device.type == "cuda" and torch.cuda.is_bf16_supported() else "fp32"
    return name


_AUTOCAST = {"bf16": torch.bfloat16, "fp16": torch.float16}


@contextlib.contextmanager
def autocast(device: torch.device, precision: str) -> Iterator[None]:
    """Mixed precision for ``bf16`` and ``fp16`` (fp16 also needs loss scaling: ``engine/loss_scale.py``)."""
    if precision in _AUTOCAST:
        with torch.autocast(device_type=device.type, dtype=_AUTOCAST[precision]):
            yield
    else:
        yield


def to_device(obj: Any, device: torch.device) -> Any:
    """Move every tensor inside dicts, lists, tuples and dataclasses to ``device``."""
    if isinstance(obj, torch.Tensor):
        return obj.to(device, non_blocking=True)
    if isinstance(obj, dict):
        return {k: to_device(v, device) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(to_device(v, device) for v in obj)
    if is_dataclass(obj) and not isinstance(obj, type):
        return replace(obj, **{f.name: to_device(getattr(obj, f.name), device) for f in fields(obj) if f.init})
    return obj


def reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_mb(device: torch.device) -> tuple[float, str]:
    """Peak memory and what it measures: CUDA allocations on a GPU, process RSS on a CPU."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20, "cuda_max_allocated"
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "process_max_rss"
