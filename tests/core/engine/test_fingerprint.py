"""Weights are hashed once per state: a digest is reused only for the very tensors it read, unchanged."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
import torch

from headstart.engine.fingerprint import state_sha256


def _direct(module: torch.nn.Module, skip: set[str] | None = None) -> str:
    h = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        if name in (skip or set()):
            continue
        h.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype}".encode())
        h.update(tensor.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def test_the_digest_is_the_hash_of_names_shapes_dtypes_and_bytes() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))
    assert state_sha256(model) == _direct(model)
    assert state_sha256(model, {"0.weight"}) == _direct(model, {"0.weight"})


def test_a_digest_is_reused_until_a_tensor_changes_in_place_or_is_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    model = torch.nn.Linear(4, 3)
    first = state_sha256(model)
    reads: list[int] = []

    class Counting:
        @staticmethod
        def sha256() -> Any:
            reads.append(1)
            return hashlib.sha256()

    monkeypatch.setattr("headstart.engine.fingerprint.hashlib", Counting)
    assert state_sha256(model) == first and not reads  # unchanged: not read again
    with torch.no_grad():
        model.weight.add_(1.0)  # in place: the version counter moves
    changed = state_sha256(model)
    assert len(reads) == 1 and changed != first and changed == _direct(model)
    model.bias = torch.nn.Parameter(model.bias.detach().clone())  # same values, another tensor
    assert state_sha256(model) == changed and len(reads) == 2  # read again, same bytes
    other = torch.nn.Linear(4, 3)
    other.load_state_dict(model.state_dict())
    assert state_sha256(other) == changed  # another module with equal weights: equal digest
