"""fp16 training with dynamic loss scaling: the scaler steps the engine's merged / fused optimizer
exactly, overflowed steps are skipped (not divergence) and counted, a non-finite loss or too many
skips in a row is divergence, and an fp16 run resumes exactly (the scaler's state is checkpointed).
fp16 autocast exists on CPU in torch 2.11, so every test but the last runs here."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch

from headstart import RunDir, hookimpl, parse_config
from headstart.engine import loop, loss_scale
from headstart.engine.checkpoint import load_state
from headstart.engine.nonfinite import TrainingDiverged
from headstart.engine.optim import make_optimizer
from headstart.experiment import run_experiment

from ...conftest import run_weights
from ..conftest import straight_and_resumed, toy_config


def _fp16(device: str = "cpu", **trainer: Any) -> dict[str, Any]:
    settings = {"epochs": 3, "batch_size": 8, "lr": 0.01, "progress": False, "log_every": 1}
    return toy_config(trainer={**settings, "precision": "fp16", "device": device, **trainer})


def _rows(run_dir: Path) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k != "elapsed_s"} for r in rows]


def _assert_same_run(straight: Path, resumed: Path) -> None:
    """The resumed run ended with the straight run's weights and wrote the same metrics."""
    a, b = run_weights(straight), run_weights(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a), "resumed weights differ"
    assert _rows(straight) == _rows(resumed)


def _scale_loss_at(monkeypatch: pytest.MonkeyPatch, steps: set[int], factor: float) -> None:
    """Multiply the loss of the given optimizer steps (1-based) by ``factor``: 1e30 overflows
    fp16 activations' gradients at any loss scale, like a real overflow; NaN is a bad loss."""
    original = loop.loss_step

    def loss_step(run: Any, state: Any, batch: Any) -> torch.Tensor:
        loss = original(run, state, batch)
        return loss * factor if run.step + 1 in steps else loss

    monkeypatch.setattr(loop, "loss_step", loss_step)


def _model(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))


def _groups(model: torch.nn.Module) -> list[dict[str, Any]]:
    return [{"name": f"g{i}", "params": [p], "lr": 1e-2, "weight_decay": 0.0} for i, p in enumerate(model.parameters())]


@pytest.mark.parametrize("name", ["adamw", "sgd"])
def test_the_scaler_steps_the_merged_fused_optimizer_exactly(name: str) -> None:
    """Scaling by a power of two and unscaling is exact: the scaled steps equal plain ones, and a
    step with an overflowed gradient changes neither the weights nor the optimizer state."""
    ours_model, ref_model = _model(0), _model(0)
    ours = make_optimizer(_groups(ours_model), name, torch.device("cpu"))
    ref = make_optimizer(_groups(ref_model), name, torch.device("cpu"))
    scaler = loss_scale.LossScaler(torch.device("cpu"))
    x = torch.randn(32, 8)
    for i in range(4):
        scaler.backward(ours_model(x).square().mean() * (math.inf if i == 2 else 1.0))
        scaler.unscale(ours)
        norm = torch.nn.utils.clip_grad_norm_(list(ours_model.parameters()), 1e6)
        before = [p.detach().clone() for p in ours_model.parameters()]
        scaler.step(ours, norm, i + 1)
        ours.zero_grad()
        if i == 2:  # skipped: nothing moved, and the scale halved
            assert all(torch.equal(a, b) for a, b in zip(before, ours_model.parameters(), strict=True))
            continue
        ref_model(x).square().mean().backward()
        ref.step()
        ref.zero_grad()
    for a, b in zip(ours_model.parameters(), ref_model.parameters(), strict=True):
        assert torch.equal(a, b)
    ours_state, ref_state = ours.state_dict()["state"], ref.state_dict()["state"]
    for i in ours_state:
        for k, v in ours_state[i].items():
            assert torch.equal(v, ref_state[i][k]), (i, k)
    assert scaler.end_epoch() == {"overflow_steps": 1, "loss_scale": 2.0**15}


def test_an_fp16_run_trains_on_cpu_and_logs_the_scale(tmp_path: Path) -> None:
    config = _fp16(epochs=6)
    run_dir, summary = run_experiment(parse_config(config), tmp_path / "run")
    rows = _rows(run_dir)
    assert summary["precision"] == "fp16" and summary["best"]["value"] > 0.8  # chance is 1/3
    assert all(r["loss_scale"] > 0 and r["overflow_steps"] >= 0 for r in rows)
    assert all(torch.isfinite(t).all() for t in run_weights(run_dir, "best").values())
    saved = load_state(run_dir / "checkpoints" / "last")["loss_scale"]
    assert saved["scaler"]["scale"] == rows[-1]["loss_scale"]
    steps = [json.loads(line) for line in (run_dir / "steps.jsonl").read_text().splitlines()]
    assert len(steps) == rows[-1]["step"] and steps[-1]["loss_scale"] == rows[-1]["loss_scale"]


class _Weights:
    """The trainable weights after each optimizer step."""

    def __init__(self) -> None:
        self.after: dict[int, list[torch.Tensor]] = {}

    @hookimpl
    def headstart_on_step_end(self, run: Any, step: int, metrics: dict[str, Any]) -> None:
        self.after[step] = [p.detach().clone() for p in run.model.parameters() if p.requires_grad]


def test_overflowed_steps_are_skipped_and_counted_not_divergence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra_plugin: Any
) -> None:
    _scale_loss_at(monkeypatch, {3, 4, 9}, 1e30)  # 6 steps per epoch
    extra_plugin(seen := _Weights(), "weights")
    run_dir, summary = run_experiment(parse_config(_fp16(on_nonfinite="skip")), tmp_path / "run")
    rows = _rows(run_dir)
    for step in (3, 4, 9):  # the scaler skipped them: nothing moved
        assert all(torch.equal(a, b) for a, b in zip(seen.after[step - 1], seen.after[step], strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(seen.after[4], seen.after[5], strict=True))
    assert [r["skipped_steps"] for r in rows] == [0, 0, 0]  # on_nonfinite: skip drops bad losses only
    overflows = sum(r["overflow_steps"] for r in rows)
    assert overflows >= 3 and rows[-1]["loss_scale"] == 2.0 ** (16 - overflows)  # each one halved the scale
    assert summary["test"] is not None and all(math.isfinite(r["train_loss"]) for r in rows)


def test_a_non_finite_loss_under_fp16_is_divergence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _scale_loss_at(monkeypatch, {8}, math.nan)
    with pytest.raises(TrainingDiverged, match=r"non-finite loss at step 8 \(epoch 1\)"):
        run_experiment(parse_config(_fp16()), tmp_path / "run")
    assert (tmp_path / "run" / "checkpoints" / "last").resolve().name == "epoch-0000"


def test_too_many_overflows_in_a_row_is_divergence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loss_scale, "MAX_SKIPPED_IN_A_ROW", 4)
    _scale_loss_at(monkeypatch, set(range(8, 100)), 1e30)
    with pytest.raises(TrainingDiverged, match=r"non-finite gradients in 4 optimizer steps in a row .* at step 11"):
        run_experiment(parse_config(_fp16()), tmp_path / "run")
    assert [r["epoch"] for r in _rows(tmp_path / "run")] == [0]  # epoch 1 was not saved


@pytest.mark.parametrize(
    "policy", [{"name": "gradual-unfreeze", "every": 1}, {"name": "lora", "rank": 2, "head_epochs": 1}], ids=str
)
def test_an_fp16_run_resumes_exactly(
    tmp_path: Path, extra_plugin: Any, monkeypatch: pytest.MonkeyPatch, policy: dict[str, Any]
) -> None:
    """Phase changes (a frozen prefix that shrinks), gradient accumulation and clipping, an
    overflow before the interruption: the resumed run ends with the straight run's weights."""
    _scale_loss_at(monkeypatch, {4}, 1e30)
    config = toy_config(policy=policy, trainer={**_fp16()["trainer"], "epochs": 4, "grad_accum": 2})
    straight, resumed = straight_and_resumed(config, tmp_path, extra_plugin)  # step 8: inside epoch 3
    _assert_same_run(straight, resumed)
    assert _rows(straight)[1]["overflow_steps"] >= 1


@pytest.mark.gpu
def test_fp16_on_cuda_trains_and_resumes_exactly(tmp_path: Path, extra_plugin: Any) -> None:
    config = _fp16("cuda", epochs=4, grad_accum=2)
    config["policy"] = {"name": "gradual-unfreeze", "every": 1}
    straight, resumed = straight_and_resumed(config, tmp_path, extra_plugin)
    summary = json.loads(RunDir(straight).summary.read_text())
    assert summary["precision"] == "fp16" and summary["device"].startswith("cuda")
    assert all(r["loss_scale"] > 0 for r in _rows(straight))
    _assert_same_run(straight, resumed)


def test_fp16_head_training_on_cached_features_has_its_own_cache_entries(tmp_path: Path) -> None:
    """A head-only phase trains under fp16 on cached features; features computed under fp32
    autocast are not reused for fp16 (nor the other way round) in a shared cache."""
    shared = str(tmp_path / "cache")
    probe = {"name": "linear-probe", "solver": "sgd"}
    fp32 = {**_fp16()["trainer"], "precision": "fp32", "feature_cache": "disk", "feature_cache_dir": shared}
    first = run_experiment(parse_config(toy_config(policy=probe, trainer=fp32)), tmp_path / "fp32")[1]
    _, summary = run_experiment(
        parse_config(toy_config(policy=probe, trainer={**fp32, "precision": "fp16"})), tmp_path / "fp16"
    )
    assert first["feature_cache"]["computed"] == summary["feature_cache"]["computed"] == 3  # train, val, test
    assert summary["best"]["value"] > 0.5 and all(r["loss_scale"] > 0 for r in _rows(tmp_path / "fp16"))
