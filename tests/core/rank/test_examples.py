"""The ranking examples of docs/choosing-a-source.md: they load, and the toy one runs end to end."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from headstart.cli import main
from headstart.experiment.matrix import load_matrix

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(("name", "cells", "prerequisites"), [("toy", 36, 5), ("vision", 10, 2), ("nlp", 6, 0)])
def test_rank_examples_load(name: str, cells: int, prerequisites: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    matrix = load_matrix(ROOT / "examples" / "rank" / f"{name}.yaml")
    assert matrix.rank and len(matrix.cells) == cells and len(matrix.prerequisites) == prerequisites
    assert len({json.dumps(c.config["task"], sort_keys=True) for c in matrix.cells}) == 1  # one target task


@pytest.mark.slow
def test_toy_rank_example_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(ROOT / "examples" / "rank", tmp_path / "examples" / "rank")
    monkeypatch.chdir(tmp_path)
    assert main(["compare", "examples/rank/toy.yaml", "--set", "seeds=[0]", "--set", "base.trainer.epochs=3"]) == 0
    out = capsys.readouterr().out
    ranked = json.loads(Path("runs/rank-toy/report/rank_vs_results.json").read_text())
    assert {c["policy"] for c in ranked} == {"linear-probe", "full"}
    assert all(len(c["sources"]) == 6 and math.isfinite(c["tau_logme"]) for c in ranked)
    assert "Kendall τ(LogME, accuracy)" in out
    logme = {s["source"]: s["logme"] for s in ranked[0]["sources"]}
    assert logme["src-16ep"] > logme["random-init"]  # trained features explain the target better
