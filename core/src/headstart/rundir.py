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
    .lock                held while a process trains in the directory (``experiment/lock.py``)

Code that reads or writes one of these asks :class:`RunDir` for its path; nothing else spells
the names. :func:`slug` turns a free-form name (an experiment, a task, a policy) into one safe
path component, for run directories, matrix cells and plot files alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

CheckpointKind = Literal["last", "best"]
CHECKPOINT_KINDS: tuple[CheckpointKind, ...] = ("last", "best")


def slug(text: str) -> str:
    """``text`` as one path component: every character other than a letter, a digit, ``-`` or
    ``.`` becomes ``-`` (``_`` too, so ``_`` and ``__`` stay free as separators), leading and
    trailing ``-`` are dropped, and an empty result is ``run``."""
    return "".join(c if c.isalnum() or c in "-." else "-" for c in text).strip("-") or "run"


@dataclass(frozen=True)
class RunDir:
    """The files of one run directory. ``RunDir(path).summary`` is ``path / "summary.json"``, and
    so on; the directory itself need not exist yet."""

    path: Path

    def __init__(self, path: str | Path) -> None:
        object.__setattr__(self, "path", Path(path))

    CONFIG = "config.yaml"
    METRICS = "metrics.jsonl"
    METRICS_CSV = "metrics.csv"
    STEPS = "steps.jsonl"
    SUMMARY = "summary.json"
    CELL = "cell.json"
    INFERENCE = "inference.json"
    INFERENCE_SOURCE = "inference/source"
    CHECKPOINTS = "checkpoints"
    FEATURE_CACHE = "feature_cache"
    LOCK = ".lock"

    @property
    def config(self) -> Path:
        return self.path / self.CONFIG

    @property
    def metrics(self) -> Path:
        return self.path / self.METRICS

    @property
    def metrics_csv(self) -> Path:
        return self.path / self.METRICS_CSV

    @property
    def steps(self) -> Path:
        return self.path / self.STEPS

    @property
    def summary(self) -> Path:
        return self.path / self.SUMMARY

    @property
    def cell(self) -> Path:
        return self.path / self.CELL

    @property
    def inference(self) -> Path:
        return self.path / self.INFERENCE

    @property
    def inference_source(self) -> Path:
        return self.path / self.INFERENCE_SOURCE

    @property
    def checkpoints(self) -> Path:
        return self.path / self.CHECKPOINTS

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

    @property
    def feature_cache(self) -> Path:
        return self.path / self.FEATURE_CACHE

    @property
    def lock(self) -> Path:
        return self.path / self.LOCK

    def is_run(self) -> bool:
        """Whether a run was started here (its config is saved)."""
        return self.config.is_file()

    def is_finished(self) -> bool:
        """Whether the run finished (its summary is written)."""
        return self.summary.is_file()

    def __str__(self) -> str:
        return str(self.path)
