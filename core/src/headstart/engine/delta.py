"""Small checkpoints: when most of the source stays frozen, a checkpoint stores only what changes.

A run whose phases together train less than :data:`DELTA_FRACTION` of the model's parameters
(``linear-probe``, ``lora``, ``bitfit``, ``norm-tune`` …) writes *delta* checkpoints: the
parameters any phase trains, plus the buffers training can move (those of modules some phase
leaves in training mode, e.g. BatchNorm statistics; all buffers when the caller does not say),
plus a reference to what the rest must be — the source's description and a SHA-256 of every entry left out. Loading
one rebuilds the model as the run did (source, then the policy's ``prepare``), checks that hash,
and loads the stored entries: a frozen source that differs (other weights, other options) is
refused, naming both hashes.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .fingerprint import state_sha256

#: A run writes delta checkpoints when its phases train less than this fraction of the parameters.
DELTA_FRACTION = 0.5


def delta_keys(
    model: nn.Module,
    trained: Iterable[str],
    moving: Collection[str] | None = None,
    state: Mapping[str, torch.Tensor] | None = None,
) -> frozenset[str] | None:
    """The state-dict keys a delta checkpoint of ``model`` stores, given the names of every
    parameter any phase trains and of the buffers training can change (``None``: every buffer);
    None when so much trains that a full checkpoint is as good. ``state``: the model's
    ``state_dict(keep_vars=True)`` when the caller has it."""
    params = dict(model.named_parameters())
    trained = set(trained)
    total = sum(p.numel() for p in params.values())
    if total == 0 or sum(params[n].numel() for n in trained) >= DELTA_FRACTION * total:
        return None
    state = model.state_dict(keep_vars=True) if state is None else state
    return frozenset(
        k
        for k, v in state.items()
        if k in trained or (not isinstance(v, nn.Parameter) and (moving is None or k in moving))
    )


def entries(model: nn.Module, keys: Collection[str]) -> dict[str, torch.Tensor]:
    """The state-dict entries ``keys`` of ``model``, found by name (a delta's few entries without
    walking the whole state dict); the state dict itself when a key is not a parameter or buffer."""
    out: dict[str, torch.Tensor] = {}
    for key in keys:
        owner, _, name = key.rpartition(".")
        try:
            module = model.get_submodule(owner)
        except AttributeError:
            break
        value: torch.Tensor | None = module._parameters.get(name)
        if value is None:
            value = module._buffers.get(name)
        if value is None:
            break
        out[key] = value.detach()
    else:
        return out
    return {k: v for k, v in model.state_dict().items() if k in keys}


def frozen_hash(model: nn.Module, stored: Collection[str], state: Mapping[str, torch.Tensor] | None = None) -> str:
    """SHA-256 of every state-dict entry of ``model`` that is not in ``stored`` (names, shapes,
    dtypes, bytes): what a delta checkpoint expects the rebuilt model to hold. ``state``: the
    model's ``state_dict(keep_vars=True)`` when the caller has it."""
    return state_sha256(model, stored, state)


def reference(
    model: nn.Module,
    stored: Collection[str],
    source: Mapping[str, Any],
    state: Mapping[str, torch.Tensor] | None = None,
) -> dict[str, str]:
    """The safetensors metadata of a delta checkpoint: the marker, the source's description
    (JSON) and the hash of everything left out."""
    return {
        "delta": "1",
        "source": json.dumps(dict(source), sort_keys=True, default=str),
        "frozen_sha256": frozen_hash(model, stored, state),
    }


def for_run(
    model: nn.Module,
    trained_per_phase: Iterable[Iterable[str]],
    source: Mapping[str, Any],
    moving_buffers: Collection[str] | None = None,
) -> Delta | None:
    """The delta a run's checkpoints store — from the parameters each phase trains and the
    buffers training can move (``Freezer.moving_buffers``; None: all) — or None when the run
    writes full checkpoints. Call it before training changes any weight."""
    state = model.state_dict(keep_vars=True)
    keys = delta_keys(model, set().union(*map(set, trained_per_phase)), moving_buffers, state)
    return None if keys is None else Delta(keys, reference(model, keys, source, state))


@dataclass(frozen=True)
class Delta:
    """What a run's delta checkpoints hold (``keys``) and the safetensors ``metadata`` they carry."""

    keys: frozenset[str]
    metadata: dict[str, str]


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Build a source inside this to get the weights ``build()`` gave it (it seeds torch with
    the run's seed first), without disturbing the caller's random state: a source with random
    (not pretrained) weights then matches the hash a delta checkpoint carries."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
