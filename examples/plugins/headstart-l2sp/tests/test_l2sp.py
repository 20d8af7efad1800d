"""Tests of headstart-l2sp: Headstart's contract kit, the listing, the pull, and real runs.

The end-to-end tests train Headstart's toy test plugin (``toy:mlp``); they are skipped where it
is not installed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from headstart_l2sp.policy import L2SP
from safetensors.torch import load_file, save_file

from headstart import load_plugins, parse_config, run_experiment
from headstart.testing import PolicyContract, check_plugin_listed


class TestL2SPContract(PolicyContract):
    policy_name = "l2-sp"


def test_listed() -> None:
    check_plugin_listed("l2sp", {"policies": ["l2-sp"]})


def test_the_penalty_is_half_alpha_times_the_squared_distance_of_trainable_source_weights() -> None:
    backbone = torch.nn.Linear(2, 1)
    model = type("M", (), {"backbone": backbone})()  # only .backbone is read
    policy = L2SP(alpha=4.0)
    policy.prepare(model, seed=0)  # type: ignore[arg-type]
    assert float(policy.regularizer(model).detach()) == 0.0  # type: ignore[arg-type]
    with torch.no_grad():
        backbone.weight += torch.tensor([[1.0, 2.0]])
    assert float(policy.regularizer(model).detach()) == pytest.approx(0.5 * 4.0 * 5.0)  # type: ignore[arg-type]
    backbone.weight.requires_grad_(False)  # frozen weights are not penalised
    assert float(policy.regularizer(model).detach()) == 0.0  # type: ignore[arg-type]


def test_negative_alpha_is_refused() -> None:
    with pytest.raises(ValueError, match="alpha must be >= 0"):
        L2SP(alpha=-1)


# --- end to end, on the toy plugin ----------------------------------------------------------------


def _pretrained(tmp_path: Path) -> Path:
    pytest.importorskip("headstart_toy", reason="the end-to-end tests train Headstart's toy plugin")
    from headstart_toy.sources import ToySource

    torch.manual_seed(123)
    path = tmp_path / "pretrained.safetensors"
    save_file(ToySource(in_features=4, width=8, depth=2).backbone.state_dict(), str(path))
    return path


def _run(tmp_path: Path, weights: Path, policy: dict[str, Any], epochs: int, run: str, resume: bool = False) -> Path:
    config = parse_config(
        {
            "source": {"name": "toy:mlp", "in_features": 4, "width": 8, "depth": 2, "weights": str(weights)},
            "task": {"name": "vector-classification", "synthetic": {"classes": 2, "per_class": 8, "in_features": 4}},
            "policy": policy,
            "trainer": {"epochs": epochs, "batch_size": 4, "lr": 0.05, "schedule": "constant", "progress": False},
            "output_dir": str(tmp_path),
        }
    )
    # a resumed run continues with more epochs than it was started with: say so
    run_dir, _ = run_experiment(
        config, tmp_path / run, resume=resume, allow_change=["trainer.epochs"] if resume else []
    )
    return run_dir


def _distance(run_dir: Path, weights: Path) -> float:
    final = load_file(str(run_dir / "checkpoints" / "last" / "model.safetensors"))
    start = load_file(str(weights))
    params = [k for k in start if "running" not in k and "num_batches" not in k]  # weights, not BN statistics
    return sum(float((final[f"backbone.{k}"] - start[k]).pow(2).sum()) for k in params) ** 0.5


def test_l2sp_stays_closer_to_the_pretrained_weights_than_full(tmp_path: Path) -> None:
    weights = _pretrained(tmp_path)
    full = _distance(_run(tmp_path, weights, {"name": "full"}, 2, "full"), weights)
    l2sp = _distance(_run(tmp_path, weights, {"name": "l2-sp", "alpha": 5.0}, 2, "l2sp"), weights)
    anchored = _distance(_run(tmp_path, weights, {"name": "l2-sp", "alpha": 20.0}, 2, "anchored"), weights)
    assert full > 0
    assert l2sp < 0.8 * full
    assert anchored < l2sp  # a stronger pull stays closer still


def test_resumed_run_pulls_towards_the_pretrained_weights_not_the_resumed_ones(tmp_path: Path) -> None:
    weights = _pretrained(tmp_path)
    policy = {"name": "l2-sp", "alpha": 5.0}
    straight = _run(tmp_path, weights, policy, 2, "straight")
    _run(tmp_path, weights, policy, 1, "resumed")
    resumed = _run(tmp_path, weights, policy, 2, "resumed", resume=True)
    a = load_file(str(straight / "checkpoints" / "last" / "model.safetensors"))
    b = load_file(str(resumed / "checkpoints" / "last" / "model.safetensors"))
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_found_through_its_entry_point() -> None:
    system = load_plugins()
    assert "l2sp" in system.infos  # found through the entry point like any plugin
