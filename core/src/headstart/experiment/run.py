"""``headstart run``: a config becomes a run directory with metrics, checkpoints and a summary."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import torch
import yaml

from ..engine import checkpoint as ckpt
from ..engine import distributed as ddp
from ..engine.device import select_device, select_precision
from ..engine.loop import train
from ..engine.run_state import RunContext
from ..options import ConfigError
from ..plugins import get_plugin_system
from ..rundir import RunDir, slug
from .build import build
from .config import ExperimentConfig, apply_overrides, load_config, load_yaml, parse_config


def new_run_dir(config: ExperimentConfig) -> Path:
    """``<output_dir>/<timestamp>_<name or task>_<policy>`` (names through :func:`slug`), made
    unique if it exists."""
    stamp = time.strftime("%Y-%m-%dT%H-%M-%S")
    base = Path(config.output_dir) / f"{stamp}_{slug(config.name or config.task['name'])}_{slug(config.policy['name'])}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def _write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def run_experiment(
    config: ExperimentConfig, run_dir: Path | None = None, *, resume: bool = False
) -> tuple[Path, dict[str, Any]]:
    """Train ``config`` into ``run_dir`` (a new one if not given); with ``resume``, continue the
    run in ``run_dir`` from its ``last`` checkpoint. Returns the run directory and the summary."""
    resume_from = None
    if resume:
        if run_dir is None:
            raise ConfigError("--resume needs the run directory to continue")
        last = RunDir(run_dir).last
        if last.exists():
            resume_from = ckpt.resolve(last)
    d = ddp.from_env()
    device = select_device(config.trainer.device)
    if d.enabled and device.type == "cuda":
        device = torch.device("cuda", d.local_rank)
        torch.cuda.set_device(device)
    ddp.init(d, device)
    built = build(config)
    run_dir = ddp.broadcast(run_dir or new_run_dir(config), d)  # one directory for all processes
    if d.main:
        run_dir.mkdir(parents=True, exist_ok=True)
        RunDir(run_dir).config.write_text(yaml.safe_dump(config.to_dict(), sort_keys=False), encoding="utf-8")
        from ..inference.state import save_inference_files

        save_inference_files(run_dir, built.source, built.task)  # the run loads without its data
    ddp.barrier(d)
    run = RunContext(
        run_dir=run_dir,
        config=config.to_dict(),
        source=built.source,
        task=built.task,
        policy=built.policy,
        model=built.model,
        freezer=built.freezer,
        settings=config.trainer,
        phases=built.phases,
        device=device,
        precision=select_precision(config.trainer.precision, device),
        seed=config.seed,
        hook=get_plugin_system().hook,
        dist=d,
    )
    summary = train(run, resume_from)
    summary = {
        "name": config.name,
        "run_dir": str(run_dir),
        "source": built.source.describe(),
        "task_name": built.task.name,
        "policy": built.policy.name,
        "seed": config.seed,
        **summary,
    }
    if d.main:
        _write_json_atomic(RunDir(run_dir).summary, summary)
    ddp.barrier(d)
    return run_dir, summary


def load_run_config(run_dir: Path, overrides: list[str] | None = None) -> ExperimentConfig:
    """The resolved config saved in a run directory (for ``--resume``)."""
    files = RunDir(run_dir)
    if not files.is_run():
        raise ConfigError(f"{run_dir}: not a Headstart run directory (no {RunDir.CONFIG})")
    return parse_config(apply_overrides(load_yaml(files.config), overrides or []))


__all__ = ["load_config", "load_run_config", "new_run_dir", "run_experiment"]
