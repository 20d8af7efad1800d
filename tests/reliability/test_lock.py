"""One process per run directory: a second run or resume is refused naming the holder; a lock
left by a killed process is taken over; two runs started together leave one clean history."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from headstart.cli import main

from .conftest import assert_intact, leftovers, rows
from .faults import Fault, fork_main, fork_start, wait, wait_stopped


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("headstart: error: ")
    return lines[0]


@pytest.mark.parametrize("second", ["run", "resume"])
def test_a_second_process_is_refused_with_the_holder_named(
    experiment: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], second: str
) -> None:
    run_dir = tmp_path / "run"
    # the first run stops itself while writing its first metrics row, holding the directory
    pid = fork_start(
        ["run", str(experiment), "--run-dir", str(run_dir)],
        Fault("open", 2, "stop", str(run_dir), "metrics.jsonl"),
        tmp_path,
    )
    try:
        wait_stopped(pid)
        argv = (
            ["run", "--resume", str(run_dir)]
            if second == "resume"
            else ["run", str(experiment), "--run-dir", str(run_dir)]
        )
        assert main(argv) == 2
        line = _one_error_line(capsys.readouterr().err)
        assert f"in use by pid {pid} on {socket.gethostname()} since " in line
    finally:
        os.kill(pid, signal.SIGCONT)
    first = wait(pid, tmp_path)
    assert first.code == 0, first.err
    assert [r["epoch"] for r in rows(run_dir)] == [0, 1, 2]  # the refused process wrote nothing
    assert_intact(run_dir)
    assert leftovers(run_dir) == [] and not (run_dir / ".lock").exists()


def test_the_lock_of_a_killed_process_is_taken_over(experiment: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    killed = fork_main(
        ["run", str(experiment), "--run-dir", str(run_dir)], Fault("rename", 2, "kill", str(run_dir)), tmp_path
    )
    assert killed.killed
    holder = json.loads((run_dir / ".lock").read_text())
    assert holder["host"] == socket.gethostname() and holder["pid"] != os.getpid()
    assert main(["run", "--resume", str(run_dir)]) == 0
    assert [r["epoch"] for r in rows(run_dir)] == [0, 1, 2]
    assert not (run_dir / ".lock").exists()


def test_a_lock_held_on_another_host_is_not_broken(
    experiment: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / ".lock").write_text(
        json.dumps({"pid": 1, "host": "gpu-node-7", "started": 0, "command": "headstart run x"})
    )
    assert main(["run", str(experiment), "--run-dir", str(run_dir)]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "in use by pid 1 on gpu-node-7" in line and str(run_dir / ".lock") in line
    assert sorted(p.name for p in run_dir.iterdir()) == [".lock"]  # nothing else was touched


def test_two_runs_started_together(experiment: Path, tmp_path: Path) -> None:
    """The issue's case, with two real ``headstart run`` processes started at the same moment."""
    run_dir = tmp_path / "run"
    script = Path(__file__).with_name("faults.py")
    cmd = [sys.executable, str(script), "run", str(experiment), "--run-dir", str(run_dir)]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(p.wait(timeout=300), p.stderr.read() if p.stderr else "") for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    err = next(e for code, e in results if code == 2)
    line = _one_error_line(err)
    assert "in use by pid" in line or "already holds a run" in line
    assert [r["epoch"] for r in rows(run_dir)] == [0, 1, 2]
    assert_intact(run_dir)
    assert leftovers(run_dir) == [] and not (run_dir / ".lock").exists()
