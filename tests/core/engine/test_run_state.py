"""The run's state (engine/run_state.py)."""

from __future__ import annotations

from pathlib import Path

import torch

from headstart import parse_config
from headstart.experiment.build import build

from ..conftest import toy_config


def test_run_files_follow_the_run_directory(tmp_path: Path) -> None:
    run = build(parse_config(toy_config())).run_context(tmp_path / "a", device=torch.device("cpu"))
    assert run.files.metrics == tmp_path / "a" / "metrics.jsonl"
    assert run.files is run.files  # made once, not on every event
    run.run_dir = tmp_path / "b"
    assert run.files.metrics == tmp_path / "b" / "metrics.jsonl"
