"""headstart.run (file, Path, dict, in-memory rows), callbacks without a plugin, headstart.export_run,
and their errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import headstart
from headstart.engine.checkpoint import is_delta
from headstart.plugins import PluginError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "toy-mlp.yaml"


def test_run_takes_str_path_and_dict(tmp_path: Path) -> None:
    a = headstart.run(str(EXAMPLE), tmp_path / "a", overrides=["trainer.epochs=1", "trainer.progress=false"])
    b = headstart.run(EXAMPLE, tmp_path / "b", overrides=["trainer.epochs=1", "trainer.progress=false"])
    assert a.summary["final"]["train_loss"] == b.summary["final"]["train_loss"]  # same seed, same run
    import yaml

    data: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    data["trainer"] = {**data["trainer"], "epochs": 1, "progress": False}
    c = headstart.run(data, run_dir=tmp_path / "c")
    assert c.summary["final"]["train_loss"] == a.summary["final"]["train_loss"]
    assert c.load(device="cpu").predict([[0.0] * 8])[0]["label"] in ("0", "1", "2", "3")


def test_in_memory_rows_are_written_into_the_run_directory(tmp_path: Path) -> None:
    rows = [{f"x{i}": float((n % 2) * 2 - 1) for i in range(4)} | {"label": str(n % 2)} for n in range(16)]
    result = headstart.run(
        {
            "source": {"name": "toy:mlp", "in_features": 4, "width": 8},
            "task": {"name": "vector-classification", "data": {"train": rows, "val": rows[:4]}},
            "policy": "full",
            "trainer": {"epochs": 1, "batch_size": 4, "device": "cpu", "progress": False},
        },
        run_dir=tmp_path / "run",
    )
    written = tmp_path / "run" / "data" / "train.csv"
    assert written.read_text().splitlines()[0] == "x0,x1,x2,x3,label" and len(written.read_text().splitlines()) == 17
    saved = (tmp_path / "run" / "config.yaml").read_text()
    assert str(written) in saved and result.summary["task"]["examples"]["train"] == 16


class Recorder:
    def __init__(self) -> None:
        self.events: list[str] = []

    def headstart_on_run_start(self, run: Any) -> None:
        self.events.append("start")

    def headstart_on_checkpoint(self, kind: str) -> None:
        self.events.append(kind)


def test_callbacks_for_one_run_and_for_every_run(tmp_path: Path) -> None:
    rec = Recorder()
    headstart.run(EXAMPLE, tmp_path / "a", overrides=["trainer.epochs=1"], callbacks=[rec])
    assert rec.events[0] == "start" and "last" in rec.events
    n = len(rec.events)
    headstart.run(EXAMPLE, tmp_path / "b", overrides=["trainer.epochs=1"])
    assert len(rec.events) == n  # removed after its run
    headstart.add_callback(rec)
    try:
        headstart.run(EXAMPLE, tmp_path / "c", overrides=["trainer.epochs=1"])
    finally:
        headstart.remove_callback(rec)
    assert len(rec.events) > n
    with pytest.raises(ValueError, match="not a registered callback"):
        headstart.remove_callback(rec)


def test_callbacks_with_wrong_names_are_refused() -> None:
    class Typo:
        def headstart_on_epoch_ends(self, epoch: int) -> None: ...

    class Contributes:
        def headstart_task_types(self) -> list[Any]:
            return []

    with pytest.raises(PluginError, match="headstart_on_epoch_ends"):
        headstart.add_callback(Typo())
    with pytest.raises(ValueError, match="components"):
        headstart.add_callback(Contributes())
    with pytest.raises(ValueError, match="no headstart_on_"):
        headstart.add_callback(object())


def test_export_run_is_the_export_command_from_python(tmp_path: Path) -> None:
    """``headstart.export_run(run_dir, "full")`` is ``headstart export RUN_DIR --to full``: the small
    (delta) checkpoints of a linear probe become full ones; a loaded Predictor exports too; a format
    the run lacks is an ExportError naming the valid ones."""
    probe = ["policy.name=linear-probe", "policy.solver=sgd", "trainer.epochs=1", "trainer.progress=false"]
    result = headstart.run(EXAMPLE, tmp_path / "run", overrides=probe)
    best = result.run_dir / "checkpoints" / "best"
    assert is_delta(best)
    folder = headstart.export_run(result.run_dir, "full")
    assert folder == result.run_dir / "export" / "full" and not is_delta(best)
    assert json.loads((folder / "export.json").read_text())["max_abs_diff"] == 0.0

    predictor = result.load(device="cpu")
    out = headstart.export_run(predictor, "torch-export", tmp_path / "program")
    record = json.loads((out / "export.json").read_text())
    assert out == tmp_path / "program" and record["format"] == "torch-export" and record["max_abs_diff"] <= 1e-4
    with pytest.raises(headstart.ExportError, match=r"--to 'tflite': valid formats for this run .*onnx"):
        headstart.export_run(result.run_dir, "tflite")
