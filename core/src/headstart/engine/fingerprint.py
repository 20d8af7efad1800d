"""Fingerprints of weights: the SHA-256 of a module's state dict, read once per state.

The feature cache keys its entries by a hash of the backbone's weights, and a delta checkpoint
carries a hash of the frozen weights it leaves out (checked when it is loaded). Hashing reads
every byte — 18 MB for EfficientNet-Lite0, 90 MB for MiniLM — and one run asks for the same
unchanged weights several times (each split's cache key, the delta reference, loading ``best``),
and the cells of a matrix that share one source (:mod:`headstart.experiment.shared_sources`) ask
again in every cell, through a new model around the same tensors. :func:`state_sha256`
remembers its last digests by what was read — the names and the identity (a weak reference) and
version counter of every tensor: an in-place change (``load_state_dict``, an optimizer step)
bumps the counter and a replaced tensor has another identity, so a digest is reused only for the
very tensors it was computed from, unchanged.
"""

from __future__ import annotations

import hashlib
import weakref
from collections import OrderedDict
from collections.abc import Collection, Iterable, Mapping

import torch
from torch import nn

#: How many digests are remembered (the most recent).
KEPT = 64
#: (each name read and its tensor's id) -> (what each tensor was when read, the digest)
_Stamp = list[tuple[str, "weakref.ref[torch.Tensor]", int]]
_DIGESTS: OrderedDict[tuple[tuple[str, int], ...], tuple[_Stamp, str]] = OrderedDict()


def state_sha256(module: nn.Module, skip: Collection[str] = (), state: Mapping[str, torch.Tensor] | None = None) -> str:
    """SHA-256 over every state-dict entry of ``module`` not named in ``skip``: for each, its
    name, shape and dtype, then its bytes. ``state``: ``module.state_dict(keep_vars=True)``, when
    the caller has it already (a walk over every module)."""
    left_out = frozenset(skip)
    state = module.state_dict(keep_vars=True) if state is None else state
    entries = [(k, v) for k, v in state.items() if k not in left_out]
    key = tuple((name, id(tensor)) for name, tensor in entries)
    known = _DIGESTS.get(key)
    if known is not None and _unchanged(known[0], entries):
        _DIGESTS.move_to_end(key)
        return known[1]
    h = hashlib.sha256()
    for name, tensor in entries:
        update(h, name, tensor)
    digest = h.hexdigest()
    stamp = [(name, weakref.ref(tensor), tensor._version) for name, tensor in entries]
    _DIGESTS[key] = (stamp, digest)
    while len(_DIGESTS) > KEPT:
        _DIGESTS.popitem(last=False)
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


def unchanged_since(versions: Iterable[tuple[torch.Tensor, int]]) -> None:
    """Each ``(tensor, version)``: the tensor holds now the very bytes it held at that version
    (the caller compared them, e.g. after a load that wrote the same values). Digests read at that
    version stay valid at the tensor's current one."""
    then = {id(t): (t, v) for t, v in versions}
    for stamp, _ in _DIGESTS.values():
        for i, (name, ref, version) in enumerate(stamp):
            tensor = ref()
            known = then.get(id(tensor)) if tensor is not None else None
            if known is not None and known[0] is tensor and known[1] == version:
                stamp[i] = (name, ref, tensor._version)
