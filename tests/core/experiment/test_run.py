"""``experiment/run.py``: what a run writes into its directory before it trains."""

from __future__ import annotations

from pathlib import Path

import yaml

from headstart.experiment import run_experiment
from headstart.experiment.config import parse_config

CONFIG = {
    "name": "t",
    "source": {"name": "toy:mlp", "in_features": 4, "width": 8},
    "task": {"name": "vector-classification", "synthetic": {"classes": 2, "per_class": 8, "in_features": 4}},
    "policy": "full",
    "trainer": {"epochs": 1, "batch_size": 4, "device": "cpu", "progress": False, "lr": 1.0e-3},
}


def test_config_yaml_is_the_resolved_config_as_safe_dump_writes_it(tmp_path: Path) -> None:
    config = parse_config(CONFIG)
    run_dir, _ = run_experiment(config, tmp_path / "run")
    text = (run_dir / "config.yaml").read_text(encoding="utf-8")
    # written through libyaml's emitter where PyYAML has it: the same text as the pure-Python one
    assert text == yaml.safe_dump(config.to_dict(), sort_keys=False)
    assert parse_config(yaml.safe_load(text)).to_dict() == config.to_dict()
    # the check that the directories are writable leaves nothing behind
    assert not list(run_dir.rglob(".write-check*"))
