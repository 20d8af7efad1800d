"""``headstart rank`` from the command line: table, JSON, files, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from headstart.cli import main

TASK = {"name": "vector-classification", "synthetic": {"classes": 3, "per_class": 12, "in_features": 6}}
SMALL = "{name: toy:mlp, in_features: 6, width: 8, depth: 1}"
WIDE = "{name: toy:mlp, in_features: 6, width: 32, depth: 1}"


def _task_file(tmp_path: Path, **extra: object) -> Path:
    path = tmp_path / "task.yaml"
    data = {"output_dir": str(tmp_path / "out"), "task": TASK, "trainer": {"device": "cpu", "batch_size": 8}, **extra}
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_rank_prints_a_table_and_writes_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rank", str(_task_file(tmp_path)), "--sources", SMALL, WIDE]) == 0
    out = capsys.readouterr().out
    assert "| rank | source | dim | examples | logme | h_score | seconds | features |" in out
    assert "toy:mlp(in_features=6,width=32,depth=1) | 32 | 36 |" in out
    rows = json.loads((tmp_path / "out" / "rank" / "rank.json").read_text())["rows"]
    assert [r["rank"] for r in rows] == [1, 2] and rows[0]["logme"] >= rows[1]["logme"]
    assert (tmp_path / "out" / "rank" / "rank.csv").read_text().startswith("rank,source,dim")
    assert len(list((tmp_path / "out" / "feature_cache").glob("*.safetensors"))) == 2


def test_rank_json_and_the_experiments_own_source(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    task = _task_file(tmp_path, source=yaml.safe_load(SMALL))
    assert main(["rank", str(task), "--json", "--cache-dir", str(tmp_path / "c"), "--out", str(tmp_path / "r")]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 1 and rows[0]["dim"] == 8 and rows[0]["target"] == "classification"
    assert (tmp_path / "r" / "rank.json").is_file() and list((tmp_path / "c").glob("*.safetensors"))


def test_rank_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    task = _task_file(tmp_path)
    assert main(["rank", str(task)]) == 2
    assert "no source section; name the candidates with --sources" in capsys.readouterr().err
    assert main(["rank", str(task), "--sources", "toy:nope"]) == 2
    assert "unknown source 'toy:nope'" in capsys.readouterr().err
    assert main(["rank", str(task), "--sources", "{width: 3}"]) == 2
    assert "expected a name (scheme:name) or a mapping with a name" in capsys.readouterr().err
