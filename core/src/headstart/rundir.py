"""The run directory's layout: the name of every file a run writes, in one place, and the one slug rule.

A run directory (``headstart run`` writes one; ``headstart compare`` writes one per cell)::

    config.yaml          the resolved experiment config (what ``--resume`` and ``run:<dir>`` read)
    metrics.jsonl        one row per epoch (``metrics.csv``: the same rows as CSV)
    steps.jsonl          one row per optimizer step, for writers that log steps
    summary.json         written when the run finishes; its presence means "finished"
    cell.json            a matrix cell's coordinates (experiment, policy, budget, seed)
    inference.json       what ``headstart.load`` needs to rebuild the task and source without data
    inference/source/    the files the source saved to rebuild itself
    checkpoints/         ``epoch-NNNN/`` directories and the ``last`` / ``best`` links
    feature_cache/       cached source features (default place; ``trainer.feature_cache_dir`` moves it)
    lr-trials/           the short runs of ``trainer.lr: auto``, one run directory each (never reported as runs)
    .lock                held while a process trains in the directory (``experiment/lock.py``)

Code that reads or writes one of these asks :class:`RunDir` for its path; nothing else spells
the names. :func:`slug` turns a free-form name (an experiment, a task, a policy) into one safe
path component, for run directories, matrix cells and plot files alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, overload

CheckpointKind = Literal["last", "best"]
CHECKPOINT_KINDS: tuple[CheckpointKind, ...] = ("last", "best")


def slug(text: str) -> str:
    """``text`` as one path component: every character other than a letter, a digit, ``-`` or
    ``.`` becomes ``-`` (``_`` too, so ``_`` and ``__`` stay free as separators), leading and
    trailing ``-`` are dropped, and an empty result is ``run``."""
    return "".join(c if c.isalnum() or c in "-." else "-" for c in text).strip("-") or "run"


class _File:
    """A file of the run directory: ``RunDir(path).<attribute>`` is ``path / name``, and
    ``RunDir.<attribute>`` is the name alone."""

    def __init__(self, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type) -> str: ...
    @overload
    def __get__(self, obj: RunDir, owner: type) -> Path: ...
    def __get__(self, obj: RunDir | None, owner: type) -> Path | str:
        return self.name if obj is None else obj.path / self.name


@dataclass(frozen=True)
class RunDir:
    """The files of one run directory. ``RunDir(path).summary`` is ``path / "summary.json"``, and
    so on (``RunDir.summary`` is the name alone); the directory itself need not exist yet."""

    path: Path

    def __init__(self, path: str | Path) -> None:
        object.__setattr__(self, "path", Path(path))

    config = _File("config.yaml")
    metrics = _File("metrics.jsonl")
    metrics_csv = _File("metrics.csv")
    steps = _File("steps.jsonl")
    summary = _File("summary.json")
    cell = _File("cell.json")
    diverged = _File("diverged.json")  # a compare cell whose training diverged: its label and the error line
    inference = _File("inference.json")
    inference_source = _File("inference/source")
    checkpoints = _File("checkpoints")
    feature_cache = _File("feature_cache")
    lr_trials = _File("lr-trials")  # trainer.lr: auto's trial runs (experiment/run.py: auto_lr)
    lock = _File(".lock")

    def checkpoint(self, kind: CheckpointKind) -> Path:
        """The ``last`` or ``best`` link under ``checkpoints/``."""
        if kind not in CHECKPOINT_KINDS:
            raise ValueError(f"checkpoint = {kind!r}; valid: {', '.join(CHECKPOINT_KINDS)}")
        return self.checkpoints / kind

    @property
    def last(self) -> Path:
        return self.checkpoint("last")

    @property
    def best(self) -> Path:
        return self.checkpoint("best")

    def is_run(self) -> bool:
        """Whether a run was started here (its config is saved)."""
        return self.config.is_file()

    def is_finished(self) -> bool:
        """Whether the run finished (its summary is written)."""
        return self.summary.is_file()

    def __str__(self) -> str:
        return str(self.path)
