"""Weights are hashed once per state: a digest is reused only for the very tensors it read, unchanged."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from headstart.engine.fingerprint import state_sha256, unchanged_since


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
    reads = _counting(monkeypatch)
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


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    reads: list[int] = []

    class Counting:
        @staticmethod
        def sha256() -> Any:
            reads.append(1)
            return hashlib.sha256()

    monkeypatch.setattr("headstart.engine.fingerprint.hashlib", Counting)
    return reads


def test_the_same_tensors_in_another_module_reuse_the_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    backbone = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))
    first = torch.nn.ModuleDict({"backbone": backbone, "head": torch.nn.Linear(3, 2)})
    digest = state_sha256(first, {"head.weight", "head.bias"})
    reads = _counting(monkeypatch)
    second = torch.nn.ModuleDict({"backbone": backbone, "head": torch.nn.Linear(3, 2)})  # a new model, same source
    assert state_sha256(second, {"head.weight", "head.bias"}) == digest and not reads


def test_a_digest_stays_valid_for_bytes_known_to_be_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))
    digest = state_sha256(model)
    versions = [(t, t._version) for t in model.state_dict(keep_vars=True).values()]
    with torch.no_grad():
        model[0].weight.copy_(model[0].weight.clone())  # written again, same bytes: the counter moves
    reads = _counting(monkeypatch)
    unchanged_since(versions)  # the caller compared the bytes
    assert state_sha256(model) == digest and not reads
    with torch.no_grad():
        model[0].weight.add_(1.0)
    unchanged_since(versions)  # an older version than the digest's own: no effect
    assert state_sha256(model) != digest and len(reads) == 1


def test_loading_a_delta_checkpoint_writes_only_what_differs(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from headstart.engine import checkpoint, delta

    model = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.BatchNorm1d(64), torch.nn.Linear(64, 2))
    keys = delta.delta_keys(model, ["2.weight", "2.bias"], moving=())
    assert keys == {"2.weight", "2.bias"}
    reference = delta.reference(model, keys, {"name": "test"})
    with torch.no_grad():
        model[2].weight.add_(1.0)
    path = checkpoint.save_checkpoint(tmp_path, "epoch-0000", model, {}, keys=keys, metadata=reference)
    with torch.no_grad():
        model[2].weight.sub_(1.0)
    frozen = {n: t._version for n, t in model.state_dict(keep_vars=True).items() if n not in keys}
    reads = _counting(monkeypatch)
    checkpoint.load_weights(path, model)
    assert not reads  # the frozen part's digest was known
    assert {n: t._version for n, t in model.state_dict(keep_vars=True).items() if n not in keys} == frozen
    assert torch.equal(model[2].weight, load_file(str(path / "model.safetensors"))["2.weight"])
    bias = model[2].bias._version
    checkpoint.load_weights(path, model)  # everything already as stored: nothing written
    assert model[2].bias._version == bias
