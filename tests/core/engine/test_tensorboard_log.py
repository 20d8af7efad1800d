"""trainer.loggers: [tensorboard] writes event files TensorBoard reads; off, tensorboard is not imported."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from headstart import ConfigError, parse_config, run_experiment

from ..conftest import toy_config

TRAINER = {"epochs": 2, "batch_size": 8, "lr": 0.01, "progress": False, "log_every": 2}


def test_event_files_hold_step_and_epoch_scalars(tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    config = parse_config(toy_config(trainer={**TRAINER, "loggers": ["tensorboard"]}))
    run_dir, summary = run_experiment(config, tmp_path / "run")
    events = EventAccumulator(str(run_dir / "tensorboard"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"train/loss", "train/lr", "epoch/train_loss", "epoch/val_accuracy"} <= tags
    losses = events.Scalars("train/loss")
    assert [e.step for e in losses] == list(range(2, summary["final"]["step"] + 1, 2))
    assert [e.step for e in events.Scalars("epoch/val_accuracy")] == [0, 1]  # epochs as in metrics.jsonl
    assert events.Scalars("epoch/train_loss")[-1].value == pytest.approx(summary["final"]["train_loss"], rel=1e-5)


def test_without_the_logger_tensorboard_is_not_imported(tmp_path: Path) -> None:
    code = (
        "import sys; from headstart import parse_config, run_experiment; "
        f"from tests.core.conftest import toy_config; run_experiment(parse_config(toy_config(trainer={TRAINER!r})), "
        f"__import__('pathlib').Path({str(tmp_path / 'run')!r})); "
        "print('tensorboard' in sys.modules, 'torch.utils.tensorboard' in sys.modules)"
    )
    root = Path(__file__).resolve().parents[3]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False False"
    assert not (tmp_path / "run" / "tensorboard").exists()


def test_unknown_logger_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="loggers"):
        parse_config(toy_config(trainer={**TRAINER, "loggers": ["wandb"]}))
