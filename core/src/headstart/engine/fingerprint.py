"""Fingerprints of weights: the SHA-256 of a module's state dict, read once per state.

The feature cache keys its entries by a hash of the backbone's weights, and a delta checkpoint
carries a hash of the frozen weights it leaves out (checked when it is loaded). Hashing reads
every byte — 18 MB for EfficientNet-Lite0, 90 MB for MiniLM — and one run asks for the same
unchanged weights several times (each split's cache key, the delta reference, loading ``best``).
:func:`state_sha256` remembers each module's last digests with the identity (a weak reference)
and the version counter of every tensor it read: an in-place change (``load_state_dict``, an
optimizer step) bumps the counter and a replaced tensor has another identity, so a digest is
reused only for the very tensors it was computed from, unchanged.
"""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Collection

import torch
from torch import nn

#: module -> {names left out: (what each tensor was when read, the digest)}
_Stamp = list[tuple[str, "weakref.ref[torch.Tensor]", int]]
_DIGESTS: weakref.WeakKeyDictionary[nn.Module, dict[frozenset[str], tuple[_Stamp, str]]] = weakref.WeakKeyDictionary()


def state_sha256(module: nn.Module, skip: Collection[str] = ()) -> str:
    """SHA-256 over every state-dict entry of ``module`` not named in ``skip``: for each, its
    name, shape and dtype, then its bytes."""
    left_out = frozenset(skip)
    entries = [(k, v) for k, v in module.state_dict(keep_vars=True).items() if k not in left_out]
    known = _DIGESTS.get(module, {}).get(left_out)
    if known is not None and _unchanged(known[0], entries):
        return known[1]
    h = hashlib.sha256()
    for name, tensor in entries:
        update(h, name, tensor)
    digest = h.hexdigest()
    stamp = [(name, weakref.ref(tensor), tensor._version) for name, tensor in entries]
    _DIGESTS.setdefault(module, {})[left_out] = (stamp, digest)
    return digest


def update(h: hashlib._Hash, name: str, tensor: torch.Tensor) -> None:
    """Feed ``h`` a tensor's name, shape and dtype, then its bytes (read in place, not copied)."""
    t = tensor.detach().cpu().contiguous()
    h.update(f"{name}:{tuple(t.shape)}:{t.dtype}".encode())
    if t.numel():
        h.update(t.reshape(-1).view(torch.uint8).numpy().data)


def _unchanged(stamp: _Stamp, entries: list[tuple[str, torch.Tensor]]) -> bool:
    return len(stamp) == len(entries) and all(
        name == was and ref() is tensor and tensor._version == version
        for (name, tensor), (was, ref, version) in zip(entries, stamp, strict=True)
    )
