"""The frozen-feature cache: when only the head trains, compute the source's features once.

In a phase where every source block is frozen (a linear probe, the LP phase of LP-FT), the
backbone is a fixed function: frozen blocks run in eval mode, so their output for an example
never changes. The engine then computes each example's features once, with the eval transform,
and trains the head on them. Entries are keyed by a hash of the source's configuration, its
weights and buffers, the task's configuration (which fixes the preprocessing) and the split, so a
different source, different weights or a different transform never reuse a stale entry.

Along with the features, the cache keeps every other field of the task's collated batches that
is one value per example (``targets``, lengths, references …). An epoch on the cache then never
touches the task's dataset, decoder, transform or collate: it indexes tensors. A field that is
padded per batch (per-token targets of different lengths) cannot be re-batched without the task;
for such a task ``CachedSplit.extras`` is ``None`` and the engine still collates each batch (the
backbone still does not run).

Features live in memory, or on disk (``trainer.feature_cache: disk``, or ``auto`` when they would
take more than ``trainer.feature_cache_max_mb``) as safetensors under
``trainer.feature_cache_dir`` (default: ``<run>/feature_cache``), shareable between runs. When
``feature_cache_dir`` is set, ``auto`` writes every entry there, so other runs read it instead of
computing it: ``headstart compare`` sets it to ``<output_dir>/feature_cache`` for every cell, so
the seeds, learning rates and sweeps of a matrix compute each source's features once.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
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
from .fingerprint import state_sha256

#: Bumped when the layout of a cache entry changes, so old entries are never misread.
#: 3: vector features are one ``[N, dim]`` tensor (``features``), not one tensor per example.
FORMAT = 3
#: Most examples the backbone sees at once while computing features on a CPU (see
#: :func:`feature_batch_size`).
CPU_FEATURE_BATCH = 32
_SKIP = ("inputs", "_index")


def weights_hash(module: torch.nn.Module) -> str:
    """A fingerprint of every parameter and buffer (names, shapes, dtypes and bytes)."""
    return state_sha256(module)


def cache_key(
    source_config: dict[str, Any],
    task_config: dict[str, Any],
    split: str,
    size: int,
    weights: str,
    precision: str = "fp32",
) -> str:
    """Features computed under another autocast precision (bf16, fp16) get another key; fp32's
    keys are those of caches written before precision was part of the key."""
    what = {"source": source_config, "task": task_config, "split": split, "size": size, "weights": weights, "v": FORMAT}
    if precision != "fp32":
        what["precision"] = precision
    text = json.dumps(what, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


Values = list[torch.Tensor] | torch.Tensor


class CachedSplit:
    """Per-example features of one split and, when they are per-example, the batch's other fields.

    ``values`` holds vector features as one ``[N, dim]`` tensor (a list of ``[dim]`` tensors is
    accepted too) and sequence features as one ``[length, dim]`` tensor per example, stored
    without padding; ``extras`` maps each other field of the task's batch to a tensor ``[N, ...]``
    or a list of N values (``None``: the task's batches cannot be rebuilt without its collate).
    """

    def __init__(self, values: Values, sequence: bool, extras: dict[str, Any] | None = None) -> None:
        self.values = values
        self.sequence = sequence
        self.extras = extras
        self._matrix: torch.Tensor | None = values if isinstance(values, torch.Tensor) else None
        self._buffers: dict[str, torch.Tensor] = {}  # pass_batch()'s, reused from pass to pass

    def __len__(self) -> int:
        return len(self.values)

    def matrix(self) -> torch.Tensor:
        """All vector features as one ``[N, dim]`` tensor (computed once)."""
        if self.sequence:
            raise ValueError("sequence features have no single matrix; use lookup() per batch")
        if self._matrix is None:
            self._matrix = torch.stack(list(self.values)) if len(self.values) else torch.zeros(0)
        return self._matrix

    def _items(self, index: list[int]) -> list[torch.Tensor]:
        return [self.values[i] for i in index]

    def lookup(self, index: torch.Tensor, device: torch.device) -> Features:
        if not self.sequence:
            return Features(self.matrix()[index].to(device))
        items = self._items(index.tolist())
        lengths = torch.tensor([len(x) for x in items])
        values = pad_sequence(items, batch_first=True)
        mask = torch.arange(values.shape[1])[None, :] < lengths[:, None]
        return Features(values.to(device), mask.to(device))

    def features_of(self, batch: dict[str, Any], device: torch.device) -> Features:
        """The features of a batch: carried by a batch built from the cache, else looked up by
        the batch's ``_index``."""
        if "_features" in batch:
            return batch["_features"]  # type: ignore[no-any-return]
        return self.lookup(batch["_index"], device)

    def fields(self, index: torch.Tensor) -> dict[str, Any]:
        """The task's per-example batch fields (``targets`` …) of the examples ``index``."""
        if self.extras is None:
            raise ValueError("this split's batches cannot be rebuilt from the cache (a field is padded per batch)")
        out: dict[str, Any] = {"_index": index}
        for key, column in self.extras.items():
            out[key] = column[index] if isinstance(column, torch.Tensor) else [column[i] for i in index.tolist()]
        return out

    def batch(self, index: torch.Tensor) -> dict[str, Any]:
        """A training / evaluation batch for the examples ``index``, built from tensors only:
        ``_features`` (what the head takes), ``_index`` and every cached field of the task's batch."""
        return {**self.fields(index), "_features": self.lookup(index, torch.device("cpu"))}

    def pass_batch(self, index: torch.Tensor) -> dict[str, Any]:
        """:meth:`batch` for a whole pass over vector features in the order ``index``, its tensors
        gathered into buffers that this split reuses for its next pass: a fresh tensor of a pass's
        size would cost its memory pages afresh every epoch (on the vision example that was most
        of a cached epoch's gathering). What it returns is valid until the next call."""
        if self.sequence or self.extras is None:
            raise ValueError("only vector features with per-example fields are gathered by the pass")
        out: dict[str, Any] = {"_index": index, "_features": Features(self._gather("_features", self.matrix(), index))}
        for key, column in self.extras.items():
            if isinstance(column, torch.Tensor):
                out[key] = self._gather(key, column, index)
            else:
                out[key] = [column[i] for i in index.tolist()]
        return out

    def _gather(self, key: str, source: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        shape = (len(index), *source.shape[1:])
        buffer = self._buffers.get(key)
        if buffer is None or buffer.shape != shape or buffer.dtype != source.dtype:
            buffer = self._buffers[key] = torch.empty(shape, dtype=source.dtype)
        return torch.index_select(source, 0, index, out=buffer)

    def subset(self, indices: list[int]) -> CachedSplit:
        """The examples ``indices`` of this split, in that order (a label budget's draw)."""
        extras = None
        if self.extras is not None:
            index = torch.tensor(indices, dtype=torch.long)
            extras = {
                k: v[index] if isinstance(v, torch.Tensor) else [v[i] for i in indices] for k, v in self.extras.items()
            }
        if not self.sequence:
            return CachedSplit(self.matrix()[torch.tensor(indices, dtype=torch.long)], False, extras)
        return CachedSplit(self._items(indices), self.sequence, extras)

    @property
    def nbytes(self) -> int:
        if isinstance(self.values, torch.Tensor):
            return self.values.numel() * self.values.element_size()
        return sum(v.numel() * v.element_size() for v in self.values)


class _DiskSplit(CachedSplit):
    """Features stored in a safetensors file, read on demand: sequences one example at a time,
    vector features as one matrix on first use."""

    def __init__(self, path: Path, size: int, sequence: bool, extras: dict[str, Any] | None) -> None:
        super().__init__([], sequence, extras)
        self.path, self.size = path, size
        self._file = safe_open(str(path), framework="pt")

    def __len__(self) -> int:
        return self.size

    def _items(self, index: list[int]) -> list[torch.Tensor]:
        if not self.sequence:
            return list(self.matrix()[torch.tensor(index, dtype=torch.long)].unbind(0))
        return [self._file.get_tensor(str(i)) for i in index]  # type: ignore[no-untyped-call]

    def matrix(self) -> torch.Tensor:
        if self.sequence:
            raise ValueError("sequence features have no single matrix; use lookup() per batch")
        if self._matrix is None:
            self._matrix = self._file.get_tensor("features")  # type: ignore[no-untyped-call]
        return self._matrix

    @property
    def nbytes(self) -> int:
        return self.path.stat().st_size


class _Extras:
    """Collects the per-example fields of collated batches; gives up on a field padded per batch."""

    def __init__(self) -> None:
        self.columns: dict[str, list[Any]] = {}
        self.ok = True

    def add(self, batch: dict[str, Any], n: int) -> None:
        if not self.ok:
            return
        keys = [k for k in batch if k not in _SKIP]
        if self.columns and set(keys) != set(self.columns):
            self.ok = False
            return
        for key in keys:
            value = batch[key]
            column = self.columns.setdefault(key, [])
            if isinstance(value, torch.Tensor) and value.ndim >= 1 and value.shape[0] == n:
                if column and isinstance(column[0], torch.Tensor) and column[0].shape[1:] != value.shape[1:]:
                    self.ok = False  # padded to each batch's longest example
                    return
                column.append(value.detach().cpu())
            elif isinstance(value, list | tuple) and len(value) == n:
                column.append(list(value))
            else:
                self.ok = False
                return

    def result(self) -> dict[str, Any] | None:
        if not self.ok:
            return None
        out: dict[str, Any] = {}
        for key, parts in self.columns.items():
            if parts and isinstance(parts[0], torch.Tensor):
                out[key] = torch.cat(parts)
            else:
                out[key] = [v for part in parts for v in part]
        return out


def feature_batch_size(batch_size: int, device: torch.device) -> int:
    """How many examples the backbone sees at once while computing features: the evaluation batch
    size, at most :data:`CPU_FEATURE_BATCH` on a CPU. Batches of a forward without autograd are
    free to choose (each example's features are its own), and on a CPU smaller ones are cheaper:
    a batch's activation buffers grow past what the C allocator keeps for reuse, so each layer's
    buffers come back from the kernel as fresh pages. On the vision example (EfficientNet-Lite0,
    64 px) batches of 64 spent 1.5-2.3 s of system time per 1,259 images on page faults,
    batches of 32 at most 0.5 s, with the same features to the bit."""
    return min(batch_size, CPU_FEATURE_BATCH) if device.type == "cpu" else batch_size


def compute_features(
    model: TransferModel, batches: Iterable[dict[str, Any]], device: torch.device, precision: str
) -> tuple[Values, bool, dict[str, Any] | None]:
    """Run the backbone (in eval mode, without autograd) over ``batches``. Returns the features
    (vectors as one ``[N, dim]`` tensor, sequences one tensor per example without padding),
    whether they are sequences, and the batches' other per-example fields."""
    was_training = model.training
    model.eval()
    rows: list[torch.Tensor] = []  # [batch, dim] blocks of vector features
    values: list[torch.Tensor] = []  # sequences, one per example
    extras = _Extras()
    try:
        with torch.no_grad():
            for batch in batches:
                with autocast(device, precision):
                    feats = model.features(to_device(batch["inputs"], device))
                v = feats.values.float().cpu()
                extras.add(batch, v.shape[0])
                if v.ndim == 2:
                    rows.append(v)
                    continue
                mask = feats.mask.cpu() if feats.mask is not None else torch.ones(v.shape[:2], dtype=torch.bool)
                values.extend(row[m.bool()].clone() for row, m in zip(v, mask, strict=True))
    finally:
        model.train(was_training)
    if rows and values:
        raise ValueError("the source returned vector features for some batches and sequences for others")
    if values:
        return values, True, extras.result()
    return (torch.cat(rows) if rows else torch.zeros(0)), False, extras.result()


def _save(path: Path, values: Values, sequence: bool, extras: dict[str, Any] | None) -> dict[str, Any] | None:
    """Write one entry atomically; list fields go into the metadata as JSON (dropped, with the
    whole ``extras``, when they are not JSON)."""
    if sequence:
        tensors = {str(i): v.contiguous() for i, v in enumerate(values)}
    else:
        tensors = {"features": values.contiguous() if isinstance(values, torch.Tensor) else torch.stack(values)}
    meta = {"size": str(len(values)), "sequence": "1" if sequence else "0", "format": str(FORMAT)}
    if extras is not None:
        lists = {k: v for k, v in extras.items() if not isinstance(v, torch.Tensor)}
        try:
            meta["lists"] = json.dumps(lists)
            tensors.update({f"extra.{k}": v.contiguous() for k, v in extras.items() if isinstance(v, torch.Tensor)})
        except TypeError:
            extras = None
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    save_file(tensors, str(tmp), metadata=meta)
    tmp.replace(path)
    return extras


#: Entries of shared cache directories this process has opened, by path: (size and modification
#: time of the file, the split). The cells of a matrix read the same entries one after the other;
#: an entry is read again only when its file changed. At most :data:`OPENED_MAX` entries are kept.
_OPENED: OrderedDict[str, tuple[tuple[int, int], _DiskSplit]] = OrderedDict()
OPENED_MAX = 16


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def _remember(path: Path, split: _DiskSplit) -> None:
    stamp = _stamp(path)
    if stamp is None:
        return
    _OPENED[str(path)] = (stamp, split)
    _OPENED.move_to_end(str(path))
    while len(_OPENED) > OPENED_MAX:
        _OPENED.popitem(last=False)


def _opened(path: Path) -> _DiskSplit | None:
    """The split this process opened from ``path`` before, if the file is unchanged since."""
    known = _OPENED.get(str(path))
    if known is None or _stamp(path) != known[0]:
        return None
    _OPENED.move_to_end(str(path))
    return known[1]


def _open(path: Path) -> _DiskSplit:
    known = _opened(path)
    if known is not None:
        return known
    split = _read(path)
    _remember(path, split)
    return split


def _read(path: Path) -> _DiskSplit:
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
        extras: dict[str, Any] | None = None
        if "lists" in meta:
            extras = json.loads(meta["lists"])
            for key in f.keys():
                if key.startswith("extra."):
                    extras[key.removeprefix("extra.")] = f.get_tensor(key)
    return _DiskSplit(path, int(meta["size"]), meta["sequence"] == "1", extras)


class FeatureCache:
    """Cached splits of one run, computed on first use in a head-only phase."""

    def __init__(self, mode: str, directory: Path, max_memory_mb: float, *, shared: bool = False) -> None:
        self.mode = mode
        self.shared = shared  # an explicit directory: ``auto`` writes every entry there for other runs
        self.directory = directory
        self.max_memory_mb = max_memory_mb
        self._splits: dict[str, CachedSplit] = {}
        self.stats = {"computed": 0, "reused_from_disk": 0}

    def find(self, key: str) -> CachedSplit | None:
        """The split cached under ``key`` — in this run's memory or, in ``disk`` / ``auto`` mode,
        in the directory — or None (nothing is computed)."""
        path = self.directory / f"{key}.safetensors"
        if key not in self._splits and self.mode in ("disk", "auto") and path.is_file():
            self._splits[key] = _open(path)
            self.stats["reused_from_disk"] += 1
        return self._splits.get(key)

    def get(self, key: str, make: Any) -> CachedSplit:
        """The split cached under ``key``; ``make()`` -> (values, sequence, extras) computes it if needed."""
        found = self.find(key)
        if found is not None:
            return found
        path = self.directory / f"{key}.safetensors"
        values, sequence, extras = make()
        self.stats["computed"] += 1
        split = CachedSplit(values, sequence, extras)
        big = split.nbytes > self.max_memory_mb * 2**20
        if self.mode == "disk" or (self.mode == "auto" and (self.shared or big)):
            extras = _save(path, values, sequence, extras)
            split = _DiskSplit(path, len(values), sequence, extras)
            if isinstance(values, torch.Tensor):
                split._matrix = values  # what the file holds, already in memory
            if self.shared:
                _remember(path, split)  # the next run of this process reads it from here
        self._splits[key] = split
        return split


def split_key(config: dict[str, Any], split: str, size: int, backbone: torch.nn.Module, precision: str = "fp32") -> str:
    """The cache key of ``split`` (``size`` examples) for a run's resolved ``config`` and backbone,
    its features computed under ``precision``."""
    return cache_key(config["source"], config["task"], split, size, weights_hash(backbone), precision)
