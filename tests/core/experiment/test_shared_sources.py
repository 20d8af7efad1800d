"""The cells of a matrix with the same source, task and seed build their source once: a cell that
gets a lent source ends as a run on its own does, and a source that comes back changed is dropped."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from headstart import parse_config
from headstart.experiment import build, run_experiment, shared_sources
from headstart.experiment.matrix import load_matrix, run_matrix

from ..conftest import TOY_EXPERIMENT, toy_config, toy_matrix


def _count_builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    build_module = importlib.import_module("headstart.experiment.build")
    built: list[str] = []
    real = build_module.build_source

    def counting(config: Any) -> Any:
        built.append(json.dumps(config.source, sort_keys=True))
        return real(config)

    monkeypatch.setattr(build_module, "build_source", counting)
    return built


def _final(run_dir: Path) -> tuple[dict[str, torch.Tensor], list[dict[str, Any]]]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    for row in rows:
        row.pop("elapsed_s")
    return load_file(str(run_dir / "checkpoints" / "last" / "model.safetensors")), rows


def test_cells_of_one_source_and_seed_share_a_build_and_end_as_runs_on_their_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = _count_builds(monkeypatch)
    path = toy_matrix(
        tmp_path,
        trainer={"epochs": 3, "device": "cpu"},  # only a run on the CPU is lent a source
        policies=[{"name": "linear-probe", "solver": "sgd"}, "full"],
        sweep={"trainer.lr": [0.01, 0.1]},
        seeds=[0, 1],
    )
    results = run_matrix(load_matrix(path), echo=lambda *_: None)
    assert len(results) == 8
    # a probe gives its source back unchanged; full fine-tuning trains it, so the next cell builds
    # again: per seed, the first probe builds and lends to the second, each full cell builds
    assert len(built) < 8
    for cell, _ in results:  # every cell ends exactly as the same config run on its own
        alone = tmp_path / "alone" / cell.run_dir.name
        run_experiment(parse_config(cell.config), alone)
        weights, rows = _final(cell.run_dir)
        alone_weights, alone_rows = _final(alone)
        assert rows == alone_rows, cell.label
        assert weights.keys() == alone_weights.keys()
        assert all(torch.equal(weights[k], alone_weights[k]) for k in weights), cell.label


def test_only_probe_cells_reuse_the_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    built = _count_builds(monkeypatch)
    path = toy_matrix(
        tmp_path, policies=[{"name": "linear-probe", "solver": "sgd"}], sweep={"trainer.lr": [0.01, 0.1, 1.0]}
    )
    run_matrix(load_matrix(path), echo=lambda *_: None)
    assert len(built) == 1  # three cells, one seed: one build
    built.clear()
    (tmp_path / "full").mkdir()
    path = toy_matrix(
        tmp_path / "full", trainer={"device": "cpu"}, policies=["full"], sweep={"trainer.lr": [0.01, 0.1, 1.0]}
    )
    run_matrix(load_matrix(path), echo=lambda *_: None)
    assert len(built) == 3  # each cell trained the source it was lent: the next one builds its own


def _toy(seed: int = 0) -> Any:
    trainer = {"epochs": 3, "batch_size": 8, "lr": 0.01, "progress": False, "device": "cpu"}
    return parse_config(toy_config(seed=seed, source={**TOY_EXPERIMENT["source"]}, trainer=trainer))


def test_a_source_changed_by_its_cell_is_dropped() -> None:
    config = _toy()
    changes = [
        lambda s: s.backbone.state_dict(keep_vars=True)[next(iter(s.backbone.state_dict()))].data.add_(
            1.0
        ),  # no version bump
        lambda s: setattr(next(m for m in s.backbone.modules() if isinstance(m, torch.nn.Linear)), "in_features", 99),
        lambda s: s.backbone.register_forward_hook(lambda *_: None),
        lambda s: setattr(s, "extra", 1),
    ]
    with shared_sources.sharing():
        for change in changes:
            first = build(config).source
            change(first)
            shared_sources.give_back(first)
            assert build(config).source is not first, change


def test_flags_the_freeze_engine_sets_are_put_back_and_a_lent_source_is_not_lent_twice() -> None:
    config = _toy()
    with shared_sources.sharing():
        built = build(config)
        source = built.source
        state = {k: v.clone() for k, v in source.backbone.state_dict().items()}
        for p in source.backbone.parameters():
            p.requires_grad_(False)
        source.backbone.eval()
        inner = build(config).source  # lent out: a run inside the run builds its own
        assert inner is not source
        shared_sources.give_back(source)
        again = build(config)
        assert again.source is source
        assert all(p.requires_grad for p in source.backbone.parameters()) and source.backbone.training
        assert all(torch.equal(v, state[k]) for k, v in source.backbone.state_dict().items())
        # the random state after the build is what a build leaves: the head starts the same
        fresh = build(_toy())
        assert fresh.source is not source  # lent again, so this one is built
        for a, b in zip(again.model.head.parameters(), fresh.model.head.parameters(), strict=True):
            assert torch.equal(a, b)
    assert shared_sources.key_of(config) is None  # outside sharing() nothing is lent


def test_nothing_is_lent_to_a_run_on_another_device() -> None:
    with shared_sources.sharing():
        assert shared_sources.key_of(_toy()) is not None  # the toy config trains on the CPU
        on_gpu = parse_config(toy_config(source={**TOY_EXPERIMENT["source"]}, trainer={"device": "cuda", "epochs": 1}))
        assert shared_sources.key_of(on_gpu) is None
