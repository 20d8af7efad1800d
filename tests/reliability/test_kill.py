"""kill -9 at every step of checkpointing and of the metrics rewrite: the run resumes exactly.

A forked child runs ``headstart run`` and SIGKILLs itself at the N-th watched call (see
``faults.py``); the directory must then be intact, and ``--resume`` must end with the same
weights and history as a run that was never interrupted.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from headstart.cli import main

from .conftest import assert_intact, leftovers, rows, strict_json, weights, without_time
from .faults import Fault, count_calls, fork_main


@pytest.fixture(scope="module")
def straight(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run that was never interrupted, and the list of watched calls it makes."""
    base = tmp_path_factory.mktemp("straight")
    (base / "exp.yaml").write_text(_yaml(), encoding="utf-8")
    run_dir = base / "run"
    assert main(["run", str(base / "exp.yaml"), "--run-dir", str(run_dir)]) == 0
    return run_dir


def _yaml() -> str:
    import yaml

    from .conftest import tiny_config

    return yaml.safe_dump(tiny_config())


def _points(straight: Path, tmp_path: Path) -> list[tuple[str, str]]:
    exp = straight.parent / "exp.yaml"
    run_dir = tmp_path / "count"
    return count_calls(["run", str(exp), "--run-dir", str(run_dir)], run_dir, tmp_path)


def _kill_and_resume(straight: Path, tmp_path: Path, fault: Fault) -> None:
    exp = straight.parent / "exp.yaml"
    run_dir = tmp_path / "run"
    fault.under = str(run_dir)
    result = fork_main(["run", str(exp), "--run-dir", str(run_dir)], fault, tmp_path)
    assert result.killed, f"the fault {fault} never fired (exit {result.code}): {result.err}"
    assert_intact(run_dir)
    history = rows(run_dir)
    assert without_time(history) == without_time(rows(straight))[: len(history)]

    assert main(["run", "--resume", str(run_dir)]) == 0  # takes over the dead process's lock
    assert_intact(run_dir)
    assert leftovers(run_dir) == []
    a, b = weights(straight), weights(run_dir)
    assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a), "resumed weights differ"
    assert without_time(rows(run_dir)) == without_time(rows(straight))
    summary = strict_json(run_dir / "summary.json")
    assert summary["best"]["metrics"]["epoch"] == summary["best"]["epoch"]


def test_the_fault_points_cover_checkpoints_metrics_and_summary(straight: Path, tmp_path: Path) -> None:
    points = _points(straight, tmp_path)
    replaced = {Path(p).name for c, p in points if c in ("replace", "rename")}
    assert {"config.yaml", "metrics.jsonl", "metrics.csv", "last", "best", "epoch-0002", "summary.json"} <= replaced
    assert {c for c, _ in points} == {"open", "fsync", "replace", "rename", "symlink", "unlink", "rmtree"}


# a spread of points (see test_the_fault_points_...: 3 epochs, each writes metrics then a checkpoint)
SPREAD = [
    ("open", 6, "kill"),  # the first epoch's metrics row
    ("open", 6, "kill-after"),  # … its temporary file opened, nothing written
    ("fsync", 16, "kill"),  # inside the first checkpoint, before its rename
    ("rename", 1, "kill-after"),  # the first checkpoint in place, no link yet
    ("symlink", 2, "kill"),  # `last` switched, `best` not yet
    ("replace", 12, "kill"),  # epoch 1's `last` link
    ("rmtree", 1, "kill"),  # pruning the checkpoint no link names
    ("replace", 17, "kill-after"),  # the last epoch's `best` link switched
    ("open", 12, "kill"),  # the summary
]


@pytest.mark.parametrize(("call", "n", "action"), SPREAD, ids=[f"{a}-{c}-{n}" for c, n, a in SPREAD])
def test_kill_then_resume_is_exact(straight: Path, tmp_path: Path, call: str, n: int, action: str) -> None:
    _kill_and_resume(straight, tmp_path, Fault(call, n, action))


def test_kill_while_a_resume_rewrites_the_history_loses_nothing(straight: Path, tmp_path: Path) -> None:
    """The issue's case: a resume drops the rows it will redo by rewriting metrics.jsonl; a kill
    in the middle of that rewrite (file opened, nothing written yet) must not lose the history."""
    exp, run_dir = straight.parent / "exp.yaml", tmp_path / "run"
    first = fork_main(["run", str(exp), "--run-dir", str(run_dir)], Fault("rename", 2, "kill", str(run_dir)), tmp_path)
    assert first.killed  # epoch 1's row written, its checkpoint not: the resume redoes epoch 1
    assert [r["epoch"] for r in rows(run_dir)] == [0, 1]
    before = (run_dir / "metrics.jsonl").read_bytes()

    killed = fork_main(
        ["run", "--resume", str(run_dir)], Fault("open", 1, "kill-after", str(run_dir), "metrics.jsonl"), tmp_path
    )
    assert killed.killed
    assert (run_dir / "metrics.jsonl").read_bytes() == before
    assert_intact(run_dir)

    assert main(["run", "--resume", str(run_dir)]) == 0
    assert without_time(rows(run_dir)) == without_time(rows(straight))
    summary = strict_json(run_dir / "summary.json")
    assert summary["best"]["metrics"] == next(r for r in rows(run_dir) if r["epoch"] == summary["best"]["epoch"])


def test_kill_while_a_resume_rewrites_the_step_log_loses_nothing(straight: Path, tmp_path: Path) -> None:
    """``steps.jsonl`` too is rewritten by a resume (the steps after the checkpoint are dropped);
    a kill during that rewrite keeps the old file, and the resumed run logs each step once."""
    exp, run_dir = straight.parent / "exp.yaml", tmp_path / "run"
    first = fork_main(["run", str(exp), "--run-dir", str(run_dir)], Fault("rename", 2, "kill", str(run_dir)), tmp_path)
    assert first.killed
    before = (run_dir / "steps.jsonl").read_bytes()
    assert before.count(b"\n") >= 2
    killed = fork_main(
        ["run", "--resume", str(run_dir)], Fault("open", 1, "kill-after", str(run_dir), "steps.jsonl"), tmp_path
    )
    assert killed.killed
    assert (run_dir / "steps.jsonl").read_bytes() == before

    assert main(["run", "--resume", str(run_dir)]) == 0

    def steps(d: Path) -> list[int]:
        return [json.loads(line)["step"] for line in (d / "steps.jsonl").read_text(encoding="utf-8").splitlines()]

    assert steps(run_dir) == steps(straight) and steps(run_dir) == sorted(set(steps(run_dir)))


@pytest.mark.slow
def test_kill_at_every_point(straight: Path, tmp_path: Path) -> None:
    """Every watched call of one whole epoch (epoch 1: metrics, checkpoint, links, pruning) and of
    the summary. (Epochs 0 and 2 repeat the same calls.)"""
    points = _points(straight, tmp_path)
    counts: dict[str, int] = {}
    numbered = []
    for call, path in points:
        counts[call] = counts.get(call, 0) + 1
        numbered.append((call, counts[call], path))
    epoch_1 = [i for i, (_, _, p) in enumerate(numbered) if "epoch-0001" in p]
    first = max(i for i in range(epoch_1[0]) if "metrics.jsonl" in numbered[i][2] and numbered[i][0] == "open")
    chosen = list(dict.fromkeys(numbered[first : epoch_1[-1] + 2] + [n for n in numbered if "summary.json" in n[2]]))
    assert len(chosen) >= 20
    for call, n, _ in chosen:  # (killing after the call is the next call's "before")
        case = tmp_path / f"{call}-{n}"
        case.mkdir()
        _kill_and_resume(straight, case, Fault(call, n, "kill"))
