"""Experiments: config files, building runs, plans, and running them."""

from .build import Built, build, seed_everything
from .config import ExperimentConfig, apply_overrides, load_config, parse_config
from .plan import format_plan, plan_json
from .run import load_run_config, run_experiment

__all__ = [
    "Built",
    "ExperimentConfig",
    "apply_overrides",
    "build",
    "format_plan",
    "load_config",
    "load_run_config",
    "parse_config",
    "plan_json",
    "run_experiment",
    "seed_everything",
]
