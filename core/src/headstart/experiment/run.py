"""``headstart run``: a config becomes a run directory with metrics, checkpoints and a summary."""

from __future__ import annotations

import copy
import math
import time
from pathlib import Path
from typing import Any

import torch
import yaml

from ..engine import checkpoint as ckpt
from ..engine import distributed as ddp
from ..engine.atomic import atomic_write_json, atomic_write_text, remove_stale_temps
from ..engine.device import select_device
from ..engine.loop import train
from ..options import ConfigError
from ..registry import get_registry
from ..rundir import RunDir, slug
from . import shared_sources
from .build import build, resolve_data_seed
from .config import ExperimentConfig, apply_overrides, load_config, load_yaml, parse_config
from .lock import RunLock
from .lr import AUTO_FACTORS, LearningRate
from .resume import check_resume

#: libyaml's emitter where PyYAML has it (the same text as ``yaml.safe_dump``, in a fifth of the time)
_YAML_DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


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


def _prepare(config: ExperimentConfig, run_dir: Path, resume: bool, allow_change: list[str] | tuple[str, ...]) -> None:
    """Under the run lock, before anything is built: refuse a changed resume, the resume of a
    merged model or a second run into a used directory, remove what killed processes left behind, check the directory is writable,
    and save the config."""
    files = RunDir(run_dir)
    requested = config.to_dict()
    write_config = True
    if resume and files.last.exists() and "merged_from" in (state := ckpt.load_state(ckpt.resolve(files.last))):
        raise ckpt.CheckpointError(
            f"{run_dir}: holds a merged model (`headstart merge` of {state['merged_from']}), which has no "
            "training state and cannot be resumed; resume the original run, or start a new one from it "
            f"(source: run:{run_dir})"
        )
    if resume and files.is_run():
        stored = parse_config(load_yaml(files.config)).to_dict()
        write_config = bool(check_resume(stored, requested, allow_change, where=str(run_dir)))
    elif not resume and (files.last.exists() or files.is_finished()):
        raise ConfigError(
            f"{run_dir}: already holds a run; continue it with --resume {run_dir}, or choose another --run-dir"
        )
    ckpt.clean_leftovers(files.checkpoints)
    remove_stale_temps(run_dir)
    files.checkpoints.mkdir(exist_ok=True)
    for d in (run_dir, files.checkpoints):  # fail now, not after an epoch of training
        _check_writable(d)
    if write_config:
        atomic_write_text(files.config, yaml.dump(requested, Dumper=_YAML_DUMPER, sort_keys=False))


def _check_writable(folder: Path) -> None:
    """Create and remove a file in ``folder`` (nothing to keep, so nothing to make durable);
    an ``OSError`` names the file."""
    probe = folder / ".write-check"
    try:
        with open(probe, "wb"):
            pass
        probe.unlink()
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror or str(exc), str(exc.filename or probe)) from exc


def run_experiment(
    config: ExperimentConfig,
    run_dir: Path | None = None,
    *,
    resume: bool = False,
    allow_change: list[str] | tuple[str, ...] = (),
) -> tuple[Path, dict[str, Any]]:
    """Train ``config`` into ``run_dir`` (a new one if not given); with ``resume``, continue the
    run in ``run_dir`` from its ``last`` checkpoint. Returns the run directory and the summary.

    The run directory is locked for the whole run (:mod:`.lock`). A resume whose config differs
    from the saved one in a key that changes the run is refused before anything is touched
    (:mod:`.resume`); ``allow_change`` lists keys the caller accepts changing."""
    if resume and run_dir is None:
        raise ConfigError("--resume needs the run directory to continue")
    resolve_data_seed(config)  # the draw of a label budget is saved with the run (config.yaml)
    d = ddp.from_env()
    device = select_device(config.trainer.device)
    if d.enabled and device.type == "cuda":
        device = torch.device("cuda", d.local_rank)
        torch.cuda.set_device(device)
    ddp.init(d, device)
    run_dir = ddp.broadcast(run_dir or new_run_dir(config), d)  # one directory for all processes
    lock = RunLock(run_dir)
    if d.main:
        lock.acquire()
    try:
        if d.main:
            _prepare(config, run_dir, resume, allow_change)
        ddp.barrier(d)
        return _run(config, run_dir, resume, d, device)
    finally:
        lock.release()


def _run(
    config: ExperimentConfig, run_dir: Path, resume: bool, d: ddp.Dist, device: torch.device
) -> tuple[Path, dict[str, Any]]:
    last = RunDir(run_dir).last
    resume_from = ckpt.resolve(last) if resume and last.exists() else None
    built = build(config)
    try:
        rate = built.lr
        if rate is not None and rate.origin == "auto" and not d.enabled:
            rate = auto_lr(config, run_dir, rate)
            built.freezer.lr = rate.lr  # plans are computed from it when each phase starts
        if d.main:
            from ..inference.state import save_inference_files

            save_inference_files(run_dir, built.source, built.task)  # the run loads without its data
        ddp.barrier(d)
        run = built.run_context(run_dir, device=device, dist=d)
        summary = train(run, resume_from)
    finally:
        shared_sources.give_back(built.source)  # a source lent by the matrix goes back
    summary = {
        "name": config.name,
        "run_dir": str(run_dir),
        "source": built.source.describe(),
        "task_name": built.task.name,
        "policy": built.policy.name,
        "seed": config.seed,
        "lr": rate.to_dict() if rate is not None else None,
        **summary,
    }
    if d.main:
        atomic_write_json(RunDir(run_dir).summary, summary)
    ddp.barrier(d)
    return run_dir, summary


def load_run_config(run_dir: Path, overrides: list[str] | None = None) -> ExperimentConfig:
    """The resolved config saved in a run directory (for ``--resume``)."""
    files = RunDir(run_dir)
    if not files.is_run():
        raise ConfigError(f"{run_dir}: not a Headstart run directory (no {RunDir.config})")
    return parse_config(apply_overrides(load_yaml(files.config), overrides or []))


__all__ = ["load_config", "load_run_config", "new_run_dir", "run_experiment"]


def auto_lr(config: ExperimentConfig, run_dir: Path, centre: LearningRate) -> LearningRate:
    """Try ``centre.lr`` × :data:`AUTO_FACTORS` in short runs under ``run_dir/lr-trials``
    (``RunDir.lr_trials``: part of the run, never rows of a report); return the rate whose best
    validation monitor is best."""
    data = config.to_dict()
    epochs = max(1, math.ceil(config.trainer.epochs / 4))
    trial_data = copy.deepcopy(data)
    trial_data["trainer"]["epochs"] = epochs
    try:  # the fewest epochs the policy accepts (lp-ft needs two)
        build(parse_config(trial_data))
    except Exception:
        epochs = config.trainer.epochs
    trials: dict[str, float | None] = {}
    best: tuple[float, float] | None = None
    for factor in AUTO_FACTORS:
        lr = centre.lr * factor
        trial = copy.deepcopy(data)
        trial["trainer"].update({"lr": lr, "epochs": epochs, "progress": False})
        trial["policy"]["head_lr_scale"] = centre.head_lr_scale
        _, summary = run_experiment(parse_config(trial), RunDir(run_dir).lr_trials / f"lr={lr:.3g}")
        value = summary["best"]["value"]
        trials[f"{lr:.3g}"] = value
        metric = get_registry().metrics.get(summary["monitor"])
        higher = summary["monitor"] != "loss" and (metric[1].higher_is_better if metric else True)
        if (
            value is not None
            and not math.isnan(value)
            and (best is None or (value > best[1] if higher else value < best[1]))
        ):
            best = (lr, value)
    chosen = best[0] if best is not None else centre.lr
    detail = f"{centre.detail}; best of {len(AUTO_FACTORS)} trials of {epochs} epoch(s) on val"
    return LearningRate(chosen, centre.head_lr_scale, "auto", detail, trials)
