"""``headstart export RUN_DIR --to full`` on toy runs: a run's small (delta) checkpoints are
rewritten in place with every weight (same outputs, same training state, training can resume from
them), and a run that already has full checkpoints is left as it was."""

from __future__ import annotations

import json
from pathlib import Path

import torch

import headstart
from headstart import parse_config, run_experiment
from headstart.engine.checkpoint import is_delta, load_state
from headstart.export import export

from .conftest import toy_config


def _probe_config(epochs: int) -> dict[str, object]:
    return toy_config(
        policy={"name": "linear-probe", "solver": "sgd"},
        trainer={"epochs": epochs, "batch_size": 8, "lr": 0.01, "progress": False, "schedule": "constant"},
    )


def test_delta_checkpoints_become_full_with_the_same_outputs_and_state(tmp_path: Path) -> None:
    run_dir, _ = run_experiment(parse_config(_probe_config(2)), tmp_path / "run")
    best, last = run_dir / "checkpoints" / "best", run_dir / "checkpoints" / "last"
    assert is_delta(best) and is_delta(last)
    x = torch.randn(5, 6)
    before = {kind: headstart.load(run_dir, checkpoint=kind, device="cpu").model({"x": x}) for kind in ("best", "last")}
    state = load_state(last)

    folder = export(run_dir, "full")
    record = json.loads((folder / "export.json").read_text())
    assert folder == run_dir / "export" / "full" and record["max_abs_diff"] == 0.0
    assert sorted(record["files"]) == sorted(
        {f"checkpoints/{p.resolve().name}/model.safetensors" for p in (best, last)}
    )
    assert not is_delta(best) and not is_delta(last)
    for kind, out in before.items():
        assert torch.equal(headstart.load(run_dir, checkpoint=kind, device="cpu").model({"x": x}), out)
    assert load_state(last)["step"] == state["step"]
    assert all(torch.equal(a, b) for a, b in zip(load_state(last)["rng"]["torch"], state["rng"]["torch"], strict=True))

    # training goes on from the full checkpoint (more epochs of a constant schedule)
    _, summary = run_experiment(parse_config(_probe_config(3)), run_dir, resume=True, allow_change=["trainer.epochs"])
    assert summary["epochs_run"] == 3


def test_a_run_with_full_checkpoints_is_left_as_it_was(tmp_path: Path) -> None:
    run_dir, _ = run_experiment(parse_config(toy_config()), tmp_path / "run")
    weights = (run_dir / "checkpoints" / "best" / "model.safetensors").read_bytes()
    record = json.loads((export(run_dir, "full") / "export.json").read_text())
    assert record["files"] == [] and not is_delta(run_dir / "checkpoints" / "best")
    assert (run_dir / "checkpoints" / "best" / "model.safetensors").read_bytes() == weights
