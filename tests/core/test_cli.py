"""The headstart command end to end on the toy plugin."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from headstart.cli import main

from .conftest import toy_config


def test_plugins_lists_builtins_and_the_toy_plugin(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "toy  (headstart-toy 0.1.0)" in out and "sources      toy:…" in out
    # every policy on its own line with its docstring's first line; the kinds of other plugins on one line
    assert (
        "policies     linear-probe      Transfer learning: every source block frozen, only the new head trains." in out
    )
    for name in ("lora", "bitfit", "norm-tune", "filtered"):
        line = next(line for line in out.splitlines() if line.split()[:1] == [name])
        assert len(line.split(name, 1)[1].strip()) > 20, line  # a description follows the name


def test_plugins_json_carries_descriptions(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    builtin = next(p for p in report["plugins"] if "policies" in p["contributes"] and p["builtin"])
    assert set(builtin["descriptions"]) == set(builtin["contributes"]["policies"])
    assert builtin["descriptions"]["bitfit"].startswith("BitFit")


def test_plugins_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    toy = next(p for p in report["plugins"] if p["name"] == "toy")
    assert toy["contributes"] == {"sources": ["toy"], "tasks": ["vector-classification"]}
    assert toy["hooks"] == ["headstart_source_providers", "headstart_task_types"]
    assert report["failed"] == []


def test_plan_prints_a_table_per_phase(write_config: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(toy_config(policy={"name": "lp-ft"}, trainer={"epochs": 4}))
    assert main(["plan", str(path)]) == 0
    out = capsys.readouterr().out
    assert "phase 1/2 'lp' (epochs 0-1)" in out and "phase 2/2 'ft' (epochs 2-3)" in out
    assert "blocks stem..stage3 run under no_grad" in out
    assert main(["plan", str(path), "--json", "--set", "policy.name=top-k"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert [(b["block"], b["trainable"]) for b in plan[0]["blocks"]][-2:] == [("stage3", True), ("head", True)]


def test_run_and_resume(write_config: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = toy_config()
    config["trainer"]["schedule"] = "constant"  # so more epochs don't change the epochs already run
    path = write_config(config)
    run_dir = tmp_path / "run"
    assert main(["run", str(path), "--run-dir", str(run_dir), "--set", "trainer.epochs=2"]) == 0
    assert "run directory:" in capsys.readouterr().out
    assert json.loads((run_dir / "summary.json").read_text())["epochs_run"] == 2
    # resuming a finished run with more epochs (explicitly allowed) continues from its last checkpoint
    assert main(["run", "--resume", str(run_dir), "--set", "trainer.epochs=3"]) == 2
    assert "--allow-change trainer.epochs" in capsys.readouterr().err
    argv = ["run", "--resume", str(run_dir), "--set", "trainer.epochs=3", "--allow-change", "trainer.epochs"]
    assert main(argv) == 0
    rows = (run_dir / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(r)["epoch"] for r in rows] == [0, 1, 2]


def test_user_errors_are_one_line_with_exit_code_2(
    write_config: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config(toy_config(trainer={"epocs": 3}))
    assert main(["plan", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("headstart: error: trainer.epocs: unknown key (did you mean 'epochs'?)")
    assert "Traceback" not in err


def test_resume_refuses_a_checkpoint_that_is_not_ours(
    write_config: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "run"
    assert main(["run", str(write_config()), "--run-dir", str(run_dir), "--set", "trainer.epochs=1"]) == 0
    state = run_dir / "checkpoints" / "last" / "state.pt"
    marker = tmp_path / "EXECUTED"
    state.write_bytes(
        b"\x80\x02cos\nsystem\nq\x00X"
        + len(f"touch {marker}").to_bytes(4, "little")
        + f"touch {marker}".encode()
        + b"q\x01\x85q\x02Rq\x03."
    )
    assert main(["run", "--resume", str(run_dir)]) == 2
    assert "refused" in capsys.readouterr().err
    assert not marker.exists()


def test_console_script_and_module_entry(write_config: Callable[..., Path], tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "headstart", "plan", str(write_config())], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "policy full" in result.stdout
    config = yaml.safe_load((write_config()).read_text())
    assert config["source"]["name"] == "toy:mlp"
