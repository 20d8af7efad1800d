"""Epochs are numbered the same way wherever a user sees one (from 0): the console's per-epoch
lines and its "best … at epoch N", metrics.jsonl, summary.json and the checkpoint directories."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from headstart.cli import main

from .conftest import toy_config


def test_console_files_and_checkpoints_name_the_same_epochs(
    write_config: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = toy_config(trainer={"epochs": 4, "batch_size": 8, "lr": 0.01, "progress": True, "log_every": 1})
    run_dir = tmp_path / "run"
    assert main(["run", str(write_config(config)), "--run-dir", str(run_dir)]) == 0
    out = capsys.readouterr().out
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    summary = json.loads((run_dir / "summary.json").read_text())

    shown = [int(m) for m in re.findall(r"^epoch (\d+) \(\d+/4\) \[full\]", out, flags=re.M)]
    assert shown == [r["epoch"] for r in rows] == [0, 1, 2, 3]
    for line, row in zip((ln for ln in out.splitlines() if ln.startswith("epoch ")), rows, strict=True):
        assert f"val_accuracy={row['val_accuracy']:.4f}" in line  # each line is the row of that epoch

    best = max(rows, key=lambda r: r["val_accuracy"])  # the first epoch with the best value
    printed = int(re.search(r"best accuracy = \S+ at epoch (\d+);", out).group(1))  # type: ignore[union-attr]
    assert printed == summary["best"]["epoch"] == summary["best"]["metrics"]["epoch"] == best["epoch"]
    assert (run_dir / "checkpoints" / "best").resolve().name == f"epoch-{printed:04d}"
    assert (run_dir / "checkpoints" / "last").resolve().name == f"epoch-{summary['final']['epoch']:04d}"
