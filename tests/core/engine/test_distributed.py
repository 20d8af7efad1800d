"""DistributedDataParallel on CPU with gloo: 2 processes, the same global batch, the same result."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ..conftest import toy_config


@pytest.mark.slow
@pytest.mark.parametrize(
    "policy",
    [
        {"name": "gradual-unfreeze", "every": 1},
        # adapters added by prepare(), joining at a phase change; biases selected inside blocks
        {"name": "lora", "rank": 2, "head_epochs": 1},
        {"name": "filtered", "schedule": "gradual-unfreeze", "params": ["bias"], "options": {"every": 1}},
    ],
    ids=lambda p: p["name"],
)
def test_two_processes_match_one_process(tmp_path: Path, policy: dict[str, object]) -> None:
    # BatchNorm statistics depend on the per-process batch, so they are fixed here (frozen-stats)
    config = toy_config(
        policy={**policy, "norm_mode": "frozen-stats"},
        trainer={"epochs": 3, "batch_size": 8, "lr": 0.01, "progress": False, "clip_grad_norm": None},
    )
    config["source"]["dropout"] = 0.0
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for name, extra in (("one", []), ("two", ["--nproc", "2"])):
        result = subprocess.run(
            [sys.executable, "-m", "headstart", "run", str(path), "--run-dir", str(tmp_path / name), *extra],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-3000:]
    one = json.loads((tmp_path / "one" / "summary.json").read_text())
    two = json.loads((tmp_path / "two" / "summary.json").read_text())
    assert (one["processes"], two["processes"]) == (1, 2)
    for key in ("train_loss", "val_loss", "val_accuracy"):
        assert two["final"][key] == pytest.approx(one["final"][key], rel=1e-4, abs=1e-5), key
    assert [json.loads(x)["epoch"] for x in (tmp_path / "two" / "metrics.jsonl").read_text().splitlines()] == [0, 1, 2]
    assert (tmp_path / "two" / "checkpoints" / "last" / "model.safetensors").is_file()


def test_a_global_batch_that_does_not_split_evenly_is_refused(tmp_path: Path) -> None:
    from headstart.engine import distributed as ddp
    from headstart.engine.loop import train
    from headstart.testing import run_context

    run = run_context(toy_config(trainer={"batch_size": 7, "progress": False}), tmp_path, dist=ddp.Dist(0, 2, 0))
    with pytest.raises(ValueError, match=r"batch_size = 7 .* must divide evenly across 2 processes"):
        train(run)
