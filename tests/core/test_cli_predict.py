"""``headstart predict`` and ``headstart evaluate`` on a toy run: inputs from CSV / JSONL files,
outputs as JSONL on stdout or CSV / JSONL files, bad rows skipped or failing, metrics as JSON."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from headstart import parse_config, run_experiment
from headstart.cli import main


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("toy")
    config = {
        "seed": 0,
        "output_dir": str(root / "runs"),
        "source": {"name": "toy:mlp", "in_features": 4, "width": 8, "depth": 2},
        "task": {"name": "vector-classification", "synthetic": {"classes": 3, "per_class": 10, "in_features": 4}},
        "policy": {"name": "full"},
        "trainer": {"epochs": 2, "batch_size": 8, "device": "cpu", "progress": False},
    }
    return run_experiment(parse_config(config))[0]


def _table(path: Path, rows: list[dict[str, object]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_predict_rows_of_a_csv_to_stdout_and_files(
    toy_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [{"x0": i, "x1": -i, "x2": 0.5, "x3": 1} for i in range(5)]
    table = _table(tmp_path / "new.csv", rows)
    assert main(["predict", str(toy_run), str(table), "--top-k", "2"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["input"] for r in lines] == [f"{table}:{i + 2}" for i in range(5)]
    assert all(r["label"] in ("0", "1", "2") and len(r["top_k"]) == 2 for r in lines)
    out = tmp_path / "pred.csv"
    assert main(["predict", str(toy_run), str(table), "--output", str(out)]) == 0
    written = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [w["label"] for w in written] == [r["label"] for r in lines]
    assert json.loads(written[0]["top_k"])[0]["label"] == lines[0]["label"]


def test_bad_rows_fail_or_are_skipped(toy_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    table = _table(tmp_path / "bad.csv", [{"x0": 1, "x1": 2, "x2": 3, "x3": 4}, {"x0": "a", "x1": 2, "x2": 3, "x3": 4}])
    assert main(["predict", str(toy_run), str(table)]) == 2
    assert f"{table}:3" in capsys.readouterr().err
    out = tmp_path / "pred.jsonl"
    assert main(["predict", str(toy_run), str(table), "--on-error", "skip", "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"skipped {table}:3" in err and "1 skipped" in err
    assert len(out.read_text().splitlines()) == 1


def test_evaluate_prints_a_line_and_json(toy_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    table = _table(
        tmp_path / "labelled.csv",
        [{"x0": i % 3, "x1": 0, "x2": 1, "x3": -1, "label": str(i % 3)} for i in range(6)],
    )
    assert main(["evaluate", str(toy_run), "--data", str(table)]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"{table}: 6 examples; loss=") and "accuracy=" in line
    saved = tmp_path / "m.json"
    assert main(["evaluate", str(toy_run), "--data", str(table), "--json", "-o", str(saved)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(saved.read_text()) and printed["metrics"]["examples"] == 6
    assert 0.0 <= printed["metrics"]["accuracy"] <= 1.0 and "macro-f1" in printed["metrics"]


def test_not_a_run_directory_is_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["predict", str(tmp_path), "x"]) == 2
    assert "not a Headstart run directory" in capsys.readouterr().err


def test_export_onnx_from_the_command_line(toy_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import numpy as np
    import onnxruntime as ort
    import torch

    import headstart

    assert main(["export", str(toy_run), "--to", "onnx", "-o", str(tmp_path / "onnx")]) == 0
    out = capsys.readouterr().out
    assert "onnx export written to" in out and "max abs difference" in out
    session = ort.InferenceSession(str(tmp_path / "onnx" / "model.onnx"), providers=["CPUExecutionProvider"])
    x = torch.randn(7, 4)
    (got,) = session.run(None, {"x": x.numpy()})
    with torch.no_grad():
        expected = headstart.load(toy_run, device="cpu").model({"x": x}).numpy()
    assert np.abs(got - expected).max() <= 1e-4
    assert main(["export", str(toy_run), "--to", "hf"]) == 2
    assert "valid formats for this run" in capsys.readouterr().err
