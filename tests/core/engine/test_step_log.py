"""steps.jsonl: loss and learning rate every log_every optimizer steps; a resumed run has each step once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from headstart import parse_config, run_experiment

from ..conftest import toy_config


def _rows(run_dir: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (run_dir / "steps.jsonl").read_text().splitlines()]


def test_steps_every_log_every_with_loss_and_lr(tmp_path: Path) -> None:
    trainer = {"epochs": 2, "batch_size": 8, "lr": 0.01, "progress": False, "log_every": 2, "warmup_steps": 3}
    config = toy_config(trainer=trainer)
    run_dir, summary = run_experiment(parse_config(config), tmp_path / "run")
    rows = _rows(run_dir)
    steps_per_epoch = summary["final"]["step"] // 2
    assert [r["step"] for r in rows] == list(range(2, 2 * steps_per_epoch + 1, 2))
    assert {r["epoch"] for r in rows} == {0, 1}
    assert all(isinstance(r["loss"], float) and r["loss"] > 0 and r["lr"] >= 0 for r in rows)
    assert rows[0]["lr"] < rows[1]["lr"]  # warming up: the logged rate is the step's real rate


class Crash(Exception):
    pass


class CrashAt:
    def __init__(self, step: int) -> None:
        self.step = step

    def headstart_on_step_end(self, step: int) -> None:
        if step == self.step:
            raise Crash


def test_resume_keeps_each_step_once(tmp_path: Path) -> None:
    import headstart

    config = toy_config(trainer={"epochs": 2, "batch_size": 8, "progress": False, "log_every": 1})
    whole = headstart.run(config, tmp_path / "whole")
    per_epoch = whole.summary["final"]["step"] // 2
    with pytest.raises(Crash):  # in the second epoch, after its first steps were logged
        headstart.run(config, tmp_path / "part", callbacks=[CrashAt(per_epoch + 3)])
    logged = [r["step"] for r in _rows(tmp_path / "part")]
    assert logged[-1] >= per_epoch + 2  # the rows logged before the crash are on disk
    headstart.run(config, tmp_path / "part", resume=True)
    resumed = _rows(tmp_path / "part")
    assert [r["step"] for r in resumed] == [r["step"] for r in _rows(whole.run_dir)]
    assert [r["loss"] for r in resumed] == pytest.approx([r["loss"] for r in _rows(whole.run_dir)])
