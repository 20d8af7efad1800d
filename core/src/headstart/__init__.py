"""Headstart: transfer learning and fine-tuning for PyTorch, the same way across domains.

This module is the public API; plugins import only from here.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .data import DataError, read_csv, read_jsonl, read_tsv, require_columns
from .engine import CheckpointError, RunContext, TrainerSettings
from .experiment import ExperimentConfig, build, format_plan, load_config, parse_config, run_experiment
from .freeze import BlockMapError, FreezePlan, PolicyError, is_norm, resolve_blocks
from .heads import ClassificationHead, SequenceHead, pool
from .interfaces import (
    HEAD,
    Batch,
    Block,
    DatasetFormat,
    Features,
    FeatureSpec,
    LocalModel,
    Metric,
    NormMode,
    Phase,
    PolicyType,
    SourceModel,
    SourceProvider,
    TargetTask,
    TaskType,
    TransferPolicy,
)
from .metrics import Ranked
from .model import TransferModel
from .options import ConfigError, check_options, suggest
from .plugins import hookimpl, load_plugins
from .policies import Policy
from .registry import UnknownNameError, get_registry
from .reinit import reset_parameters

__all__ = [
    "HEAD",
    "Batch",
    "Block",
    "BlockMapError",
    "CheckpointError",
    "ClassificationHead",
    "ConfigError",
    "DataError",
    "DatasetFormat",
    "ExperimentConfig",
    "FeatureSpec",
    "Features",
    "FreezePlan",
    "LocalModel",
    "Metric",
    "NormMode",
    "Phase",
    "Policy",
    "PolicyError",
    "PolicyType",
    "Ranked",
    "RunContext",
    "SequenceHead",
    "SourceModel",
    "SourceProvider",
    "TargetTask",
    "TaskType",
    "TrainerSettings",
    "TransferModel",
    "TransferPolicy",
    "UnknownNameError",
    "__version__",
    "build",
    "check_options",
    "format_plan",
    "get_registry",
    "hookimpl",
    "is_norm",
    "load_config",
    "load_plugins",
    "parse_config",
    "pool",
    "read_csv",
    "read_jsonl",
    "read_tsv",
    "require_columns",
    "reset_parameters",
    "resolve_blocks",
    "run_experiment",
    "suggest",
]
