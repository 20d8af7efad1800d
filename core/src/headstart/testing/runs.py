"""A run to hand to the engine in a test, assembled the way ``headstart run`` assembles it."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from ..engine.run_state import RunContext
from ..experiment.build import build
from ..experiment.config import ExperimentConfig, parse_config


def run_context(
    config: Mapping[str, Any] | ExperimentConfig, run_dir: Path, *, device: str = "cpu", **fields: Any
) -> RunContext:
    """A :class:`~headstart.RunContext` for ``config`` (an experiment mapping or a parsed config)
    in ``run_dir`` (created), on ``device``, built through :meth:`Built.run_context` like a real
    run. ``fields`` replace the run's own (``policy=``, ``hook=``, ``dist=`` …), for a test that
    trains something the config cannot name. ``headstart.engine.loop.train(run)`` trains it."""
    parsed = config if isinstance(config, ExperimentConfig) else parse_config(dict(config))
    run = build(parsed).run_context(run_dir, device=torch.device(device))
    run.run_dir.mkdir(parents=True, exist_ok=True)
    return dataclasses.replace(run, **fields) if fields else run
