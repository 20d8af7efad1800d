"""The frozen-feature cache: when only the head trains, compute the source's features once.

In a phase where every source block is frozen (a linear probe, the LP phase of LP-FT), the
backbone is a fixed function: frozen blocks run in eval mode, so their output for an example
never changes. The engine then computes each example's features once, with the eval transform,
and trains the head on them. Entries are keyed by a hash of the source's configuration, its
weights and buffers, the task's configuration (which fixes the preprocessing) and the split, so a
different source, different weights or a different transform never reuse a stale entry.

Features live in memory, or on disk (``trainer.feature_cache: disk``, or ``auto`` when they would
take more than ``trainer.feature_cache_max_mb``) as safetensors under
``trainer.feature_cache_dir`` (default: ``<run>/feature_cache``), shareable between runs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch.nn.utils.rnn import pad_sequence

from ..interfaces import Features
from ..model import TransferModel
from .device import autocast, to_device


def weights_hash(module: torch.nn.Module) -> str:
    """A fingerprint of every parameter and buffer (names, shapes, dtypes and bytes)."""
    h = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}:{tuple(t.shape)}:{t.dtype}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def cache_key(source_config: dict[str, Any], task_config: dict[str, Any], split: str, size: int, weights: str) -> str:
    text = json.dumps(
        {"source": source_config, "task": task_config, "split": split, "size": size, "weights": weights},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:24]


class CachedSplit:
    """Per-example features of one split; ``lookup(index)`` makes a batch of :class:`Features`."""

    def __init__(self, values: list[torch.Tensor], sequence: bool) -> None:
        self.values = values
        self.sequence = sequence

    def lookup(self, index: torch.Tensor, device: torch.device) -> Features:
        items = [self.values[i] for i in index.tolist()]
        if not self.sequence:
            return Features(torch.stack(items).to(device))
        lengths = torch.tensor([len(x) for x in items])
        values = pad_sequence(items, batch_first=True)
        mask = torch.arange(values.shape[1])[None, :] < lengths[:, None]
        return Features(values.to(device), mask.to(device))

    @property
    def nbytes(self) -> int:
        return sum(v.numel() * v.element_size() for v in self.values)


class _DiskSplit(CachedSplit):
    """Features stored in a safetensors file, read on demand (memory-mapped)."""

    def __init__(self, path: Path, size: int, sequence: bool) -> None:
        super().__init__([], sequence)
        self.path, self.size = path, size
        self._file = safe_open(str(path), framework="pt")

    def lookup(self, index: torch.Tensor, device: torch.device) -> Features:
        items = [self._file.get_tensor(str(i)) for i in index.tolist()]  # type: ignore[no-untyped-call]
        return CachedSplit(items, self.sequence).lookup(torch.arange(len(items)), device)


def compute_features(
    model: TransferModel, batches: Iterable[dict[str, Any]], device: torch.device, precision: str
) -> tuple[list[torch.Tensor], bool]:
    """Run the backbone (in eval mode, without autograd) over ``batches``; split per example."""
    was_training = model.training
    model.eval()
    values: list[torch.Tensor] = []
    sequence = False
    try:
        with torch.no_grad():
            for batch in batches:
                with autocast(device, precision):
                    feats = model.features(to_device(batch["inputs"], device))
                v = feats.values.float().cpu()
                if v.ndim == 2:
                    values.extend(v.unbind(0))
                    continue
                sequence = True
                mask = feats.mask.cpu() if feats.mask is not None else torch.ones(v.shape[:2], dtype=torch.bool)
                values.extend(row[m.bool()].clone() for row, m in zip(v, mask, strict=True))
    finally:
        model.train(was_training)
    return values, sequence


class FeatureCache:
    """Cached splits of one run, computed on first use in a head-only phase."""

    def __init__(self, mode: str, directory: Path, max_memory_mb: float) -> None:
        self.mode = mode
        self.directory = directory
        self.max_memory_mb = max_memory_mb
        self._splits: dict[str, CachedSplit] = {}
        self.stats = {"computed": 0, "reused_from_disk": 0}

    def get(self, key: str, make: Any) -> CachedSplit:
        """The split cached under ``key``; ``make()`` -> (values, sequence) computes it if needed."""
        if key in self._splits:
            return self._splits[key]
        path = self.directory / f"{key}.safetensors"
        if self.mode in ("disk", "auto") and path.is_file():
            with safe_open(str(path), framework="pt") as f:
                meta = f.metadata() or {}
            split: CachedSplit = _DiskSplit(path, int(meta["size"]), meta["sequence"] == "1")
            self.stats["reused_from_disk"] += 1
        else:
            values, sequence = make()
            self.stats["computed"] += 1
            split = CachedSplit(values, sequence)
            if self.mode == "disk" or (self.mode == "auto" and split.nbytes > self.max_memory_mb * 2**20):
                self.directory.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(".tmp")
                save_file(
                    {str(i): v.contiguous() for i, v in enumerate(values)},
                    str(tmp),
                    metadata={"size": str(len(values)), "sequence": "1" if sequence else "0"},
                )
                tmp.replace(path)
                split = _DiskSplit(path, len(values), sequence)
        self._splits[key] = split
        return split
