"""``headstart compare`` never reuses a cell trained under other settings, and a kill while it
writes its report leaves the previous report whole."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from headstart.cli import main

from ..core.conftest import toy_matrix
from .faults import Fault, fork_main


def _matrix(tmp_path: Path, lr: float = 0.01) -> Path:
    return toy_matrix(tmp_path, trainer={"epochs": 1, "batch_size": 16, "lr": lr})


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink()
    }


def test_a_changed_base_is_refused_not_silently_reused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", str(_matrix(tmp_path))]) == 0
    capsys.readouterr()
    before = _files(tmp_path / "out")
    assert main(["compare", str(_matrix(tmp_path, lr=0.1))]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert "cell a × linear-probe × seed 0:" in err and "trained under other settings (trainer.lr: 0.01 -> 0.1)" in err
    assert _files(tmp_path / "out") == before
    assert main(["compare", str(_matrix(tmp_path))]) == 0  # the unchanged matrix still reuses it


def test_a_kill_while_writing_the_report_keeps_the_previous_one(tmp_path: Path) -> None:
    matrix = _matrix(tmp_path)
    assert main(["compare", str(matrix)]) == 0
    report = tmp_path / "out" / "report"
    before = {name: (report / name).read_bytes() for name in ("results.csv", "results.json", "report.md")}
    for name in before:
        killed = fork_main(["compare", str(matrix)], Fault("open", 1, "kill-after", str(report), name), tmp_path)
        assert killed.killed, killed.err
        assert (report / name).read_bytes() == before[name], f"{name} damaged by a kill while it was rewritten"
    assert json.loads((report / "results.json").read_text())["rows"]
