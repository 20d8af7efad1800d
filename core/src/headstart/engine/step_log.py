"""``steps.jsonl``: the training loss and learning rate every ``trainer.log_every`` optimizer
steps — the curve people watch between epochs. A built-in plugin on the loop's events.

One row per logged step: ``{"step", "epoch", "phase", "lr", "loss"}`` (the loss of that step's
last batch, as read by the loop at its ``log_every`` sync), and ``loss_scale`` under fp16. A resumed run first drops the rows of
steps after its checkpoint, so the file has each step once.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..plugins import hookimpl, logging_steps_only
from ..rundir import RunDir
from .atomic import atomic_write_text, json_safe

#: the step logs of the runs in progress in this process; each logged row is appended with its own
#: open/close, so a crashed or diverged run leaves every row it logged on disk and no open file
_logs: set[Path] = set()


@hookimpl
def headstart_on_run_start(run: Any) -> None:
    if not isinstance(getattr(run, "files", None), RunDir) or not run.dist.main:
        return  # only the main process of a run writes
    path = run.files.steps
    kept = []
    if not path.exists():  # a new run: an empty file (nothing to keep, so nothing to lose)
        path.touch()
        _logs.add(path)
        return
    for line in path.read_text(encoding="utf-8").splitlines():  # resumed: keep the steps before the checkpoint
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if row.get("step", 0) <= run.step:
            kept.append(line)
    atomic_write_text(path, "".join(f"{line}\n" for line in kept))  # a kill here keeps the old file
    _logs.add(path)


@hookimpl
@logging_steps_only
def headstart_on_step_end(run: Any, step: int, metrics: dict[str, Any]) -> None:
    if "loss" not in metrics:  # only logging steps are written; the others cost nothing here
        return
    path = run.files.steps if isinstance(getattr(run, "files", None), RunDir) else None
    if path not in _logs:
        return
    phase = run.freezer.plan.phase.name if run.freezer.plan is not None else None
    row = {"step": step, "epoch": run.epoch, "phase": phase, "lr": metrics.get("lr"), "loss": metrics["loss"]}
    if "loss_scale" in metrics:
        row["loss_scale"] = metrics["loss_scale"]
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(json_safe(row)) + "\n")


@hookimpl
def headstart_on_run_end(run: Any, summary: dict[str, Any]) -> None:
    if isinstance(getattr(run, "files", None), RunDir):
        _logs.discard(run.files.steps)
