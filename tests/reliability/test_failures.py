"""Failures of the environment and of bad paths: one line each, the right exit status (2 for what
the user gave, 1 for a run that failed), nothing lost, no temporary directory left behind."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from headstart.cli import main

from .conftest import assert_intact, leftovers, rows
from .faults import Fault, fork_main


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("headstart: error: ")
    return lines[0]


def test_a_run_directory_under_a_file(experiment: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "afile").write_text("x")
    assert main(["run", str(experiment), "--run-dir", str(tmp_path / "afile" / "run")]) == 2
    line = _one_line(capsys.readouterr().err)
    assert str(tmp_path / "afile") in line and "Not a directory" in line


def test_a_disk_full_while_checkpointing(experiment: Path, tmp_path: Path) -> None:
    """ENOSPC while epoch 1's checkpoint is written, twice: one line each time, exit 1, epoch 0's
    checkpoint and the history intact, no temporary checkpoint directory left; then it resumes."""
    run_dir = tmp_path / "run"
    fault = Fault("fsync", 2, "enospc", str(run_dir / "checkpoints"), "model.safetensors")
    first = fork_main(["run", str(experiment), "--run-dir", str(run_dir)], fault, tmp_path)
    assert first.code == 1, first.err
    line = _one_line(first.err)
    assert "epoch-0001: No space left on device" in line and "--resume" in line
    assert (run_dir / "checkpoints" / "last").resolve().name == "epoch-0000"
    assert leftovers(run_dir) == [] and not (run_dir / ".lock").exists()

    again = Fault("fsync", 1, "enospc", str(run_dir / "checkpoints"), "model.safetensors")
    second = fork_main(["run", "--resume", str(run_dir)], again, tmp_path)
    assert second.code == 1 and leftovers(run_dir) == []
    assert_intact(run_dir)

    assert main(["run", "--resume", str(run_dir)]) == 0
    assert [r["epoch"] for r in rows(run_dir)] == [0, 1, 2]


def test_a_read_only_checkpoint_directory_fails_before_training(experiment: Path, tmp_path: Path) -> None:
    """Found before the first epoch, not after it (injected: the tests may run as root, for whom
    permissions do not stop a write)."""
    run_dir = tmp_path / "run"
    fault = Fault("open", 1, "erofs", str(run_dir / "checkpoints"))
    result = fork_main(["run", str(experiment), "--run-dir", str(run_dir)], fault, tmp_path)
    assert result.code == 2, result.err
    line = _one_line(result.err)
    assert str(run_dir / "checkpoints") in line and "Read-only file system" in line
    assert rows(run_dir) == []  # no epoch was trained for nothing
    assert leftovers(run_dir) == [] and not (run_dir / ".lock").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message for a machine without CUDA")
def test_cuda_asked_for_without_cuda(experiment: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(experiment), "--run-dir", str(tmp_path / "run"), "--set", "trainer.device=cuda"]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "trainer.device = 'cuda' but CUDA is not available here; use auto or cpu" in line


def test_leftovers_of_killed_writers_are_cleaned_on_the_next_start(experiment: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    killed = fork_main(
        ["run", str(experiment), "--run-dir", str(run_dir)], Fault("rename", 2, "kill", str(run_dir)), tmp_path
    )
    assert killed.killed
    assert any(".tmp-epoch-0001" in name for name in leftovers(run_dir))  # what the kill left behind
    shutil.copy(run_dir / "metrics.jsonl", run_dir / ".metrics.jsonl.tmp-99999")  # and a torn metrics rewrite
    assert main(["run", "--resume", str(run_dir)]) == 0
    assert leftovers(run_dir) == []


def test_a_read_only_run_directory_is_one_line(experiment: Path, tmp_path: Path) -> None:
    """The run directory itself not writable (``EROFS`` at its first write): one line naming the
    path, exit 2, nothing trained and no lock or temporary file left."""
    run_dir = tmp_path / "run"
    result = fork_main(
        ["run", str(experiment), "--run-dir", str(run_dir)], Fault("open", 1, "erofs", str(run_dir)), tmp_path
    )
    assert result.code == 2, result.err
    line = _one_line(result.err)
    assert str(run_dir) in line and "Read-only file system" in line
    assert rows(run_dir) == [] and not (run_dir / "checkpoints" / "last").exists()
    assert leftovers(run_dir) == [] and not (run_dir / ".lock").exists()
