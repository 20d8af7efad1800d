"""Checkpoints: atomic writes, crash safety, and refusing files that are not ours."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from headstart.engine import checkpoint as ckpt
from headstart.engine.checkpoint import CheckpointError


def _model(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))


def test_round_trip_and_links(tmp_path: Path) -> None:
    model = _model(0)
    ckpt.save_checkpoint(tmp_path, "epoch-0000", model, {"step": 3}, ("last", "best"))
    ckpt.save_checkpoint(tmp_path, "epoch-0001", _model(1), {"step": 6}, ("last",))
    assert os.readlink(tmp_path / "last") == "epoch-0001"
    assert os.readlink(tmp_path / "best") == "epoch-0000"
    assert ckpt.load_state(ckpt.resolve(tmp_path / "last"))["step"] == 6
    other = _model(5)
    ckpt.load_weights(ckpt.resolve(tmp_path / "best"), other)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), other.state_dict().values(), strict=True))


def test_old_unlinked_checkpoints_are_pruned(tmp_path: Path) -> None:
    for epoch in range(3):
        ckpt.save_checkpoint(
            tmp_path, f"epoch-{epoch:04d}", _model(epoch), {}, ("last", "best") if epoch == 0 else ("last",)
        )
    assert sorted(p.name for p in tmp_path.iterdir() if not p.is_symlink()) == ["epoch-0000", "epoch-0002"]


def test_a_crash_while_writing_leaves_the_last_good_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good = _model(0)
    ckpt.save_checkpoint(tmp_path, "epoch-0000", good, {"step": 1})

    def explode(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(ckpt.torch, "save", explode)
    with pytest.raises(OSError, match="disk full"):
        ckpt.save_checkpoint(tmp_path, "epoch-0001", _model(1), {"step": 2})
    monkeypatch.undo()
    last = ckpt.resolve(tmp_path / "last")
    assert last.name == "epoch-0000"
    assert ckpt.load_state(last)["step"] == 1
    restored = _model(9)
    ckpt.load_weights(last, restored)
    assert torch.equal(restored[0].weight, good[0].weight)


class _Evil:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("touch PWNED_BY_CHECKPOINT",))


def test_a_pickle_with_code_is_refused_without_running_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    ckpt.save_checkpoint(tmp_path / "ck", "epoch-0000", _model(0), {})
    state_file = tmp_path / "ck" / "epoch-0000" / ckpt.STATE
    torch.save({"format": ckpt.FORMAT, "payload": _Evil()}, state_file)
    with pytest.raises(CheckpointError, match="refused") as info:
        ckpt.load_state(ckpt.resolve(tmp_path / "ck" / "last"))
    assert str(state_file) in str(info.value)
    assert not (tmp_path / "PWNED_BY_CHECKPOINT").exists()


def test_a_plain_pickle_of_foreign_objects_is_refused(tmp_path: Path) -> None:
    ckpt.save_checkpoint(tmp_path, "epoch-0000", _model(0), {})
    (tmp_path / "epoch-0000" / ckpt.STATE).write_bytes(
        pickle.dumps({"format": ckpt.FORMAT, "where": Path("x")}, protocol=2)
    )
    with pytest.raises(CheckpointError, match="refused"):
        ckpt.load_state(tmp_path / "epoch-0000")


def test_a_state_file_without_our_marker_is_refused(tmp_path: Path) -> None:
    ckpt.save_checkpoint(tmp_path, "epoch-0000", _model(0), {})
    torch.save({"model": {}}, tmp_path / "epoch-0000" / ckpt.STATE)
    with pytest.raises(CheckpointError, match="no 'headstart-checkpoint' format marker"):
        ckpt.load_state(tmp_path / "epoch-0000")


def test_foreign_safetensors_weights_are_refused(tmp_path: Path) -> None:
    ckpt.save_checkpoint(tmp_path, "epoch-0000", _model(0), {})
    save_file({"0.weight": torch.zeros(4, 3)}, str(tmp_path / "epoch-0000" / ckpt.WEIGHTS))
    with pytest.raises(CheckpointError, match=r"model\.safetensors: not a Headstart checkpoint"):
        ckpt.load_weights(tmp_path / "epoch-0000", _model(0))


def test_a_directory_without_checkpoint_files_is_named(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="not a Headstart checkpoint directory"):
        ckpt.resolve(tmp_path)


def test_rng_state_round_trips_through_weights_only(tmp_path: Path) -> None:
    import random

    import numpy as np

    torch.manual_seed(1)
    ckpt.save_checkpoint(tmp_path, "e", _model(0), {"rng": ckpt.rng_state()})
    expected = (torch.rand(3), np.random.rand(3), random.random())
    ckpt.set_rng_state(ckpt.load_state(tmp_path / "e")["rng"])
    got = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(expected[0], got[0]) and np.array_equal(expected[1], got[1]) and expected[2] == got[2]


@pytest.mark.parametrize(("policy", "buffers_stored"), [("linear-probe", False), ("norm-tune", True)])
def test_a_delta_stores_the_buffers_training_can_move_and_nothing_frozen(
    tmp_path: Path, policy: str, buffers_stored: bool
) -> None:
    """A linear probe keeps every BatchNorm of the source in eval mode: its checkpoints hold the
    head alone (tiny, cheap to write each epoch). norm-tune trains the norm layers, whose running
    statistics move: they are stored. Either way the run loads back whole and equal."""
    from safetensors import safe_open

    from headstart import parse_config
    from headstart.experiment import run_experiment

    from ...conftest import run_weights
    from ..conftest import toy_config

    trainer = {"epochs": 2, "batch_size": 8, "lr": 0.01, "progress": False}
    config = toy_config(policy={"name": policy, "solver": "sgd"} if policy == "linear-probe" else {"name": policy})
    run_dir, _ = run_experiment(parse_config({**config, "trainer": trainer}), tmp_path / "run")
    with safe_open(str(run_dir / "checkpoints" / "last" / "model.safetensors"), framework="pt") as f:
        stored = set(f.keys())
    assert any(k.startswith("head.") for k in stored)
    assert any("running_mean" in k for k in stored) == buffers_stored
    if not buffers_stored:
        assert all(k.startswith("head.") for k in stored)
    # loaded as users load it: the whole model, the frozen part from the source (hash-checked)
    loaded = run_weights(run_dir)
    assert any(k.startswith("backbone.") and "running_var" in k for k in loaded)
    with safe_open(str(run_dir / "checkpoints" / "last" / "model.safetensors"), framework="pt") as f:
        for key in stored:
            torch.testing.assert_close(loaded[key], f.get_tensor(key))
