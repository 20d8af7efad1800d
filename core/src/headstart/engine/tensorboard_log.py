"""TensorBoard event files when ``trainer.loggers`` includes ``tensorboard``: a built-in plugin
on the loop's events. ``tensorboard`` (core's ``tensorboard`` extra) is imported only then.

Scalars: ``train/loss`` and ``train/lr`` every ``log_every`` steps (x: the optimizer step), and
every number of an epoch's ``metrics.jsonl`` row as ``epoch/<name>`` (x: the epoch, from 1 as
the console counts). Files go to ``<run>/tensorboard``; ``tensorboard --logdir runs`` shows them.
"""

from __future__ import annotations

from typing import Any

from ..plugins import hookimpl, logging_steps_only
from ..rundir import RunDir

_writers: dict[str, Any] = {}


def _key(run: Any) -> str | None:
    files = getattr(run, "files", None)
    return str(files.path) if isinstance(files, RunDir) else None


@hookimpl
def headstart_on_run_start(run: Any) -> None:
    key = _key(run)
    if key is None or "tensorboard" not in getattr(run.settings, "loggers", ()) or not run.dist.main:
        return
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as exc:
        raise RuntimeError(
            f"trainer.loggers includes tensorboard but the package is missing ({exc}); "
            "pip install 'headstart[tensorboard]'"
        ) from None
    old = _writers.pop(key, None)
    if old is not None:
        old.close()
    _writers[key] = SummaryWriter(log_dir=str(run.files.path / "tensorboard"), purge_step=run.step + 1)


@hookimpl
@logging_steps_only
def headstart_on_step_end(run: Any, step: int, metrics: dict[str, Any]) -> None:
    if "loss" not in metrics:
        return
    writer = _writers.get(_key(run) or "")
    if writer is not None:
        writer.add_scalar("train/loss", metrics["loss"], step)
        writer.add_scalar("train/lr", metrics["lr"], step)
        if "loss_scale" in metrics:
            writer.add_scalar("train/loss_scale", metrics["loss_scale"], step)


@hookimpl
def headstart_on_epoch_end(run: Any, epoch: int, metrics: dict[str, float]) -> None:
    writer = _writers.get(_key(run) or "")
    if writer is None:
        return
    for name, value in metrics.items():
        if isinstance(value, int | float) and not isinstance(value, bool) and name not in ("epoch", "step"):
            writer.add_scalar(f"epoch/{name}", value, epoch)
    writer.flush()


@hookimpl
def headstart_on_run_end(run: Any, summary: dict[str, Any]) -> None:
    writer = _writers.pop(_key(run) or "", None)
    if writer is not None:
        writer.close()
