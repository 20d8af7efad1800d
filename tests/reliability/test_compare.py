"""``headstart compare`` never reuses a cell trained under other settings, and a kill while it
writes its report leaves the previous report whole."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from headstart.cli import main

from ..core.conftest import TOY_EXPERIMENT, toy_matrix
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


def test_a_label_budget_cell_is_reused_by_the_unchanged_matrix(tmp_path: Path) -> None:
    """A budget's run saves the draw's seed (``task.data_seed``) in its config.yaml, which the
    matrix's own cell does not spell: compare run again reuses the cell instead of refusing it."""
    matrix = toy_matrix(tmp_path, trainer={"epochs": 1, "batch_size": 16, "lr": 0.01}, label_budgets=[4])
    assert main(["compare", str(matrix)]) == 0
    (cell,) = [p for p in (tmp_path / "out").iterdir() if "__b4__" in p.name]
    assert "data_seed: 0" in (cell / "config.yaml").read_text()
    before = _files(cell)
    assert main(["compare", str(matrix)]) == 0
    assert _files(cell) == before


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


def test_a_diverging_cell_is_named_and_marked_and_the_others_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Cell b diverges (``trainer.lr: 1e30``, ``on_nonfinite: stop``): the other cell still runs, the
    report lists b as diverged, and compare exits 1 with one line naming b."""
    b = {**TOY_EXPERIMENT, "name": "b", "trainer": {"lr": 1e30}}
    path = toy_matrix(tmp_path, trainer={"epochs": 1}, experiments=[TOY_EXPERIMENT, b], policies=["full"])
    out = tmp_path / "out"
    for attempt in range(2):  # compare again: a is reused, b is retried (and diverges again)
        assert main(["compare", str(path)]) == 1
        captured = capsys.readouterr()
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
        assert lines[0].startswith(
            "headstart: error: 1 of 2 cells diverged: cell b × full × seed 0: training diverged: "
        )
        assert lines[0].endswith(f"{out / 'report' / 'report.md'} lists them")
        assert "diverged: training diverged" in captured.out and ("finished earlier" in captured.out) == (attempt == 1)
    (a,) = [d for d in out.iterdir() if d.name.startswith("a__")]
    (b,) = [d for d in out.iterdir() if d.name.startswith("b__")]
    assert (a / "summary.json").is_file() and not (b / "summary.json").exists()
    marker = json.loads((b / "diverged.json").read_text())
    assert marker["cell"] == "b × full × seed 0" and marker["error"].startswith("training diverged: ")
    assert not (b / "checkpoints" / "best").exists()  # nothing non-finite was kept
    results = json.loads((out / "report" / "results.json").read_text())
    assert [r["experiment"] for r in results["rows"]] == ["a"]
    assert [d["cell"] for d in results["diverged"]] == ["b × full × seed 0"]
    report = (out / "report" / "report.md").read_text()
    assert "## Diverged cells" in report and f"**b × full × seed 0** (`{b}`): training diverged: " in report
