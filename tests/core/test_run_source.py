"""``run:<dir>``: a finished run is a source with its fine-tuned backbone and without its head."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from headstart import CheckpointError, ConfigError, UnknownNameError, get_registry, load, parse_config
from headstart.experiment import run_experiment

from ..conftest import run_weights
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
    weights = run_weights(target_dir, "last")
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


@pytest.mark.parametrize("policy", [{"name": "lora", "rank": 2}, {"name": "bitfit"}])
def test_a_run_with_a_delta_checkpoint_is_a_source_with_merged_weights(
    tmp_path: Path, policy: dict[str, object]
) -> None:
    run_dir, _ = run_experiment(
        parse_config(toy_config(policy=policy, trainer={"epochs": 2, "lr": 0.05, "progress": False})), tmp_path / "src"
    )
    best = run_dir / "checkpoints" / "best" / "model.safetensors"
    assert not any(k.endswith("stem.0.weight") for k in load_file(str(best)))  # only what trained is stored
    trained = run_weights(run_dir, "best")  # the run as users load it: adapters and all
    source = get_registry().source(f"run:{run_dir}")
    assert not any("lora" in n for n, _ in source.backbone.named_parameters())  # merged into plain layers
    x = {"x": torch.randn(5, 6)}
    model = load(str(run_dir), checkpoint="best", device="cpu").model
    source.backbone.eval()
    assert torch.allclose(source.forward(x).values, model.source.forward(x).values, atol=1e-5)
    assert trained.keys() == model.state_dict().keys()


def test_a_delta_checkpoint_refuses_a_source_with_other_weights(tmp_path: Path) -> None:
    run_dir, _ = run_experiment(
        parse_config(toy_config(policy={"name": "bitfit"}, trainer={"epochs": 1, "progress": False})), tmp_path / "src"
    )
    from headstart.engine.checkpoint import load_weights
    from headstart.model import TransferModel

    other = get_registry().source("toy:mlp", in_features=6, width=16, depth=3)  # other random weights
    torch.nn.init.normal_(other.backbone.stem[0].weight)
    model = TransferModel(other, torch.nn.Identity())
    with pytest.raises(CheckpointError, match="frozen weights differ"):
        load_weights((run_dir / "checkpoints" / "best").resolve(), model, skip=("head.",))
