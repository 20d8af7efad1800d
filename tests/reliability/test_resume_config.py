"""Resume continues the run that was started, or refuses before touching anything.

A run is killed after its first checkpoint; a resume that asks for other settings must exit 2 with
one line listing the differing keys, leave config.yaml, the metrics history and the checkpoints
byte for byte as they were, and a plain ``--resume`` afterwards must still finish the run.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from headstart.cli import main

from .conftest import rows, tiny_config
from .faults import Fault, fork_main


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run killed after epoch 0's checkpoint (epoch 1's row written, its checkpoint not)."""
    base = tmp_path_factory.mktemp("interrupted")
    (base / "exp.yaml").write_text(yaml.safe_dump(tiny_config()), encoding="utf-8")
    run_dir = base / "run"
    result = fork_main(
        ["run", str(base / "exp.yaml"), "--run-dir", str(run_dir)], Fault("rename", 2, "kill", str(run_dir)), base
    )
    assert result.killed
    return run_dir


@pytest.fixture
def run_dir(interrupted: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(interrupted, copy, symlinks=True)
    return copy


def _snapshot(run_dir: Path) -> dict[str, bytes]:
    files = {}
    for p in sorted(run_dir.rglob("*")):
        if p.is_symlink():
            files[str(p.relative_to(run_dir))] = str(p.readlink()).encode()
        elif p.is_file() and p.name != ".lock":
            files[str(p.relative_to(run_dir))] = p.read_bytes()
    return files


def _refused(argv: list[str], run_dir: Path, capsys: pytest.CaptureFixture[str]) -> str:
    before = _snapshot(run_dir)
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert _snapshot(run_dir) == before, "a refused resume changed the run directory"
    assert main(["run", "--resume", str(run_dir)]) == 0  # the run is still resumable as it was
    assert [r["epoch"] for r in rows(run_dir)] == [0, 1, 2]
    return lines[0]


CHANGES = {
    "trainer.lr=0.1": "trainer.lr: 0.01 -> 0.1",
    "seed=1": "seed: 0 -> 1",
    "source.width=8": "source.width: 16 -> 8",
    "trainer.optimizer=sgd": "trainer.optimizer: 'adamw' -> 'sgd'",
    "policy.name=linear-probe": "policy.name: 'full' -> 'linear-probe'",
    "trainer.epochs=5": "trainer.epochs: 3 -> 5",
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_a_changed_setting_is_refused(run_dir: Path, change: str, capsys: pytest.CaptureFixture[str]) -> None:
    line = _refused(["run", "--resume", str(run_dir), "--set", change], run_dir, capsys)
    assert line.startswith(f"headstart: error: {run_dir}: cannot resume with a changed config (")
    assert CHANGES[change] in line and "Nothing was changed." in line


def test_another_experiment_file_is_refused(run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump({**tiny_config(), "policy": {"name": "top-k", "k": 1}}), encoding="utf-8")
    line = _refused(["run", str(other), "--resume", str(run_dir)], run_dir, capsys)
    assert "policy.name: 'full' -> 'top-k'" in line and "policy.k: None -> 1" in line


def test_more_epochs_of_a_constant_schedule_with_allow_change(run_dir: Path) -> None:
    argv = ["run", "--resume", str(run_dir), "--set", "trainer.epochs=4", "--allow-change", "trainer.epochs"]
    assert main(argv) == 0
    assert [r["epoch"] for r in rows(run_dir)] == [0, 1, 2, 3]
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["trainer"]["epochs"] == 4


def test_more_epochs_of_a_cosine_schedule_are_refused_even_when_allowed(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    config["trainer"]["schedule"] = "cosine"  # as if the run had been started with cosine
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config))
    argv = ["run", "--resume", str(run_dir), "--set", "trainer.epochs=4", "--allow-change", "trainer.epochs"]
    before = _snapshot(run_dir)
    assert main(argv) == 2
    assert "only with trainer.schedule = constant" in capsys.readouterr().err
    assert _snapshot(run_dir) == before


def test_allow_change_refuses_a_key_that_changes_the_trajectory(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = _refused(
        ["run", "--resume", str(run_dir), "--set", "trainer.lr=0.1", "--allow-change", "trainer.lr"], run_dir, capsys
    )
    assert "--allow-change trainer.lr: not a key that can change on resume" in line


def test_watching_settings_may_change(run_dir: Path) -> None:
    argv = ["run", "--resume", str(run_dir), "--set", "trainer.log_every=2", "--set", "trainer.num_workers=0"]
    assert main(argv) == 0
    assert [r["epoch"] for r in rows(run_dir)] == [0, 1, 2]
