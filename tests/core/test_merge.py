"""``headstart merge``: a run whose policy added adapters (or stored a delta) becomes a run
directory holding the full model, which loads, predicts the same and serves as a source."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from headstart import CheckpointError, get_registry, load, parse_config
from headstart.cli import main
from headstart.engine.delta import seeded
from headstart.experiment import run_experiment
from headstart.experiment.run import load_run_config
from headstart.export import merge_run

from .conftest import toy_config


def _run(tmp_path: Path, policy: dict[str, object]) -> Path:
    config = toy_config(policy=policy, trainer={"epochs": 2, "lr": 0.05, "progress": False})
    run_dir, _ = run_experiment(parse_config(config), tmp_path / "run")
    return run_dir


@pytest.mark.parametrize(("policy", "adapters"), [({"name": "lora", "rank": 2}, True), ({"name": "bitfit"}, False)])
def test_a_merged_run_holds_every_weight_and_predicts_the_same(
    tmp_path: Path, policy: dict[str, object], adapters: bool
) -> None:
    run_dir = _run(tmp_path, policy)
    assert "backbone.stem.0.weight" not in load_file(str(run_dir / "checkpoints/best/model.safetensors"))  # a delta
    facts = merge_run(run_dir, tmp_path / "merged")

    weights = load_file(str(tmp_path / "merged/checkpoints/best/model.safetensors"))
    assert "backbone.stem.0.weight" in weights and not any("lora" in k or "base_layer" in k for k in weights)
    assert (facts["adapters_merged"] > 0) is adapters and facts["was_delta"]
    recorded = json.loads((tmp_path / "merged/inference.json").read_text())["merged"]
    assert recorded["from"] == str(run_dir.resolve()) and recorded["adapters_merged"] == facts["adapters_merged"]
    best = json.loads((run_dir / "summary.json").read_text())["best"]["epoch"]
    assert recorded["epoch"] == best and (tmp_path / f"merged/checkpoints/epoch-{best:04d}").is_dir()

    before, after = load(run_dir, device="cpu"), load(tmp_path / "merged", device="cpu")
    assert not any("lora" in n for n, _ in after.model.named_parameters())
    points = torch.randn(20, 6, generator=torch.Generator().manual_seed(1)).tolist()
    for a, b in zip(before.predict(points, top_k=3), after.predict(points, top_k=3), strict=True):
        assert a["label"] == b["label"] and a["score"] == pytest.approx(b["score"], abs=1e-4)
    # the training changed the source's layers: the merged stem is not the source's own
    with seeded(0):  # the source as the run built it
        plain = get_registry().source("toy:mlp", in_features=6, width=16, depth=3, dropout=0.1)
    changed = not torch.equal(weights["backbone.stem.0.weight"], plain.backbone.state_dict()["stem.0.weight"])
    assert changed is adapters

    source = get_registry().source(f"run:{tmp_path / 'merged'}")  # a merged run is a source too
    assert torch.equal(source.backbone.state_dict()["stem.0.weight"], weights["backbone.stem.0.weight"])


def test_the_merge_command_and_what_a_merged_run_refuses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = _run(tmp_path, {"name": "lora", "rank": 2})
    assert main(["merge", str(run_dir), "--output", str(tmp_path / "merged")]) == 0
    out = capsys.readouterr().out
    assert "adapter layer(s) merged" in out and "holds the full model" in out and "max abs difference" in out
    with pytest.raises(CheckpointError, match=r"holds a merged model .* cannot be resumed"):
        run_experiment(load_run_config(tmp_path / "merged"), tmp_path / "merged", resume=True)
    assert main(["merge", str(run_dir), "-o", str(tmp_path / "merged")]) == 2
    assert "exists and is not empty; give a new folder" in capsys.readouterr().err
    assert load(tmp_path / "merged", device="cpu")  # the refused calls left it intact
