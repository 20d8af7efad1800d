"""``run:<dir>``: a finished run is a source with its fine-tuned backbone and without its head."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from headstart import CheckpointError, ConfigError, UnknownNameError, get_registry, parse_config
from headstart.experiment import run_experiment

from .conftest import toy_config


def test_a_finished_run_is_a_source(tmp_path: Path) -> None:
    run_dir, _ = run_experiment(parse_config(toy_config(trainer={"epochs": 2, "progress": False})), tmp_path / "src")
    saved = load_file(str(run_dir / "checkpoints" / "best" / "model.safetensors"))
    source = get_registry().source(f"run:{run_dir}")
    assert [b.name for b in source.blocks] == ["stem", "stage1", "stage2", "stage3"]
    for name, value in source.backbone.state_dict().items():
        assert torch.equal(value, saved[f"backbone.{name}"]), name
    assert source.describe()["inner"]["name"] == "toy:mlp"

    target = toy_config(
        source={"name": f"run:{run_dir}"},
        policy={"name": "linear-probe"},
        task={"name": "vector-classification", "synthetic": {"classes": 2, "per_class": 8, "in_features": 6}},
        trainer={"epochs": 1, "progress": False},
    )
    target_dir, summary = run_experiment(parse_config(target), tmp_path / "target")
    assert summary["source"]["name"] == f"run:{run_dir}"
    weights = load_file(str(target_dir / "checkpoints" / "last" / "model.safetensors"))
    assert weights["head.fc.weight"].shape == (2, 16)  # a new head for the new task
    assert torch.equal(weights["backbone.stem.0.weight"], saved["backbone.stem.0.weight"])


def test_not_a_run_directory(tmp_path: Path) -> None:
    with pytest.raises(UnknownNameError, match="is not a Headstart run directory"):
        get_registry().source(f"run:{tmp_path}")


def test_a_run_without_checkpoint(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("source: {name: 'toy:mlp'}\n")
    with pytest.raises(CheckpointError, match="has no 'best' checkpoint"):
        get_registry().source(f"run:{tmp_path}")


def test_the_new_run_may_override_source_options_but_not_the_weights(tmp_path: Path) -> None:
    run_dir, _ = run_experiment(parse_config(toy_config(trainer={"epochs": 1, "progress": False})), tmp_path / "src")
    source = get_registry().source(f"run:{run_dir}", dropout=0.3)
    assert source.describe()["inner"]["dropout"] == 0.3
    saved = load_file(str(run_dir / "checkpoints" / "best" / "model.safetensors"))
    assert torch.equal(source.backbone.state_dict()["stem.0.weight"], saved["backbone.stem.0.weight"])
    with pytest.raises(ConfigError, match=r"source\.widht: unknown key"):
        get_registry().source(f"run:{run_dir}", widht=3)
