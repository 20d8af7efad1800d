"""``trainer.num_workers: auto``: a worker count from the cores on a GPU, none on a CPU; loaders
prefetch with their workers, and a run with workers trains like one without."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from headstart import ConfigError, parse_config, run_experiment
from headstart.engine.settings import TrainerSettings, resolve_workers

from ..conftest import toy_config


def test_auto_is_the_default_and_resolves_from_the_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    assert TrainerSettings().num_workers == "auto"
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)), raising=False)
    assert resolve_workers("auto", "cuda") == 8  # capped
    assert resolve_workers("auto", "cuda", processes_per_node=4) == 3  # 16 cores / 4 processes - 1
    assert resolve_workers("auto", "cuda", processes_per_node=16) == 0
    assert resolve_workers("auto", "cpu") == 0  # the CPU step uses every core itself
    assert resolve_workers(3, "cpu") == 3


def test_bad_values_name_the_key() -> None:
    with pytest.raises(ConfigError, match="num_workers"):
        parse_config(toy_config(trainer={"num_workers": "many"}))
    with pytest.raises(ConfigError, match="num_workers must be auto or an integer >= 0"):
        parse_config(toy_config(trainer={"num_workers": -1}))


def test_two_workers_train_the_same_weights_as_none(tmp_path: Path) -> None:
    def last_weights(workers: int, name: str) -> dict[str, torch.Tensor]:
        trainer = {"epochs": 2, "batch_size": 8, "progress": False, "num_workers": workers, "feature_cache": "off"}
        run_dir, _ = run_experiment(parse_config(toy_config(trainer=trainer)), tmp_path / name)
        from safetensors.torch import load_file

        return load_file(next((run_dir / "checkpoints" / "last").glob("*.safetensors")))

    a, b = last_weights(0, "none"), last_weights(2, "two")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
