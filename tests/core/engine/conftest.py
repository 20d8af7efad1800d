"""Fixtures of the engine tests: every 2-process case (DDP and FSDP, CPU with gloo) trained in one
torchrun launch, since starting the processes costs far more than the toy runs themselves."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from ..conftest import toy_config

#: the DDP cases of test_distributed.py, by id
DDP_POLICIES: dict[str, dict[str, Any]] = {
    "gradual-unfreeze": {"name": "gradual-unfreeze", "every": 1},
    # adapters added by prepare(), joining at a phase change; biases selected inside blocks
    "lora": {"name": "lora", "rank": 2, "head_epochs": 1},
    "filtered": {"name": "filtered", "schedule": "gradual-unfreeze", "params": ["bias"], "options": {"every": 1}},
}


def ddp_config(policy: dict[str, Any]) -> dict[str, Any]:
    # BatchNorm statistics depend on the per-process batch, so they are fixed here (frozen-stats)
    config = toy_config(
        policy={**policy, "norm_mode": "frozen-stats"},
        trainer={"epochs": 3, "batch_size": 8, "lr": 0.01, "progress": False, "clip_grad_norm": None},
    )
    config["source"]["dropout"] = 0.0
    return config


def fsdp_config(epochs: int) -> dict[str, Any]:
    # only biases train, inside blocks whose weights stay frozen (one FSDP unit holds both), a new block
    # joins at every epoch (phase changes), the frozen prefix runs under no_grad; BatchNorm
    # statistics depend on the per-process batch, so they are fixed (as in the DDP test)
    config = toy_config(
        policy={
            "name": "filtered",
            "schedule": "gradual-unfreeze",
            "params": ["bias"],
            "options": {"every": 1},
            "norm_mode": "frozen-stats",
        },
        trainer={
            "epochs": epochs,
            "batch_size": 8,
            "lr": 0.01,
            "progress": False,
            "schedule": "constant",  # more epochs on resume keep the same trajectory
            "strategy": "fsdp",
        },
    )
    config["source"]["dropout"] = 0.0
    return config


def write(config: dict[str, Any], path: Path) -> Path:
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def two_process_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ``torchrun --nproc-per-node 2`` launch that runs, as ``headstart run`` commands in each
    process: FSDP for 1 epoch into ``fsdp-resumed/``; FSDP for 2 epochs into ``fsdp/``; the DDP cases
    into ``ddp-<id>/``; then ``fsdp-resumed/`` resumed for a second epoch (a phase change). Returns the
    folder that holds them (with the experiment files ``ddp-<id>.yaml``, ``fsdp1.yaml``, ``fsdp2.yaml``)."""
    base = tmp_path_factory.mktemp("two-processes")
    fsdp1, fsdp2 = write(fsdp_config(1), base / "fsdp1.yaml"), write(fsdp_config(2), base / "fsdp2.yaml")
    resumed = str(base / "fsdp-resumed")
    commands = [["run", str(fsdp1), "--run-dir", resumed], ["run", str(fsdp2), "--run-dir", str(base / "fsdp")]]
    for name, policy in DDP_POLICIES.items():
        path = write(ddp_config(policy), base / f"ddp-{name}.yaml")
        commands.append(["run", str(path), "--run-dir", str(base / f"ddp-{name}")])
    # the resume last, after other runs in the same processes: only its run directory carries over
    commands.append(["run", str(fsdp2), "--run-dir", resumed, "--resume", resumed, "--allow-change", "trainer.epochs"])
    script = Path(__file__).with_name("two_processes.py")
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2"]
    result = subprocess.run(
        [*launch, str(script), json.dumps(commands)],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return base


def summary(run_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    return data
