"""Headstart: transfer learning and fine-tuning for PyTorch, the same way across domains.

This module is the public API; plugins import only from here.

Names are imported lazily (PEP 562): ``import headstart`` costs almost nothing, and
``from headstart import build`` imports the modules behind ``build`` (and torch) only then, so
``headstart --help`` starts fast. To export a name, add it to ``_EXPORTS`` (name -> module),
to the ``TYPE_CHECKING`` imports (what type checkers read) and to ``__all__``;
tests/core/test_public_api.py checks that the three agree.
"""

from __future__ import annotations

from .lazy import lazy_attributes
from .version import __version__

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy reads it by name)
if TYPE_CHECKING:
    from .api import RunResult, add_callback, remove_callback, run
    from .classification import SingleLabelTask
    from .data.budget import sample_per_class
    from .data.classes import require_every_class
    from .data.formats import (
        DataError,
        base_suffix,
        open_text,
        package_dir,
        read_csv,
        read_delimited,
        read_jsonl,
        read_tsv,
        require_columns,
        resolve_path,
    )
    from .data.splits import CARVED_SPLITS, SPLITS, Split, check_splits
    from .engine import CheckpointError, RunContext, TrainerSettings
    from .experiment import ExperimentConfig, format_plan, load_config, parse_config, run_experiment
    from .experiment.build import build  # by its module: mypy confuses the name with the submodule here
    from .export import ExportError, export_run
    from .export.hf import checked_hf_export, hf_model, hf_writer
    from .freeze import BlockMapError, FreezePlan, PolicyError, is_norm, resolve_blocks
    from .heads import ClassificationHead, SequenceHead, pool
    from .inference import Predictor, input_path, load, top_labels
    from .interfaces import (
        HEAD,
        Batch,
        Block,
        DatasetFormat,
        DatasetReader,
        Examples,
        Features,
        FeatureSpec,
        LocalModel,
        Metric,
        MetricFn,
        NormMode,
        Phase,
        PolicyFactory,
        PolicyType,
        PredictingTask,
        SourceModel,
        SourceProvider,
        TargetTask,
        TaskFactory,
        TaskType,
        TransferPolicy,
    )
    from .metrics import Ranked
    from .model import TransferModel
    from .options import ConfigError, check_options, suggest
    from .plugins import hookimpl, load_plugins
    from .policies import Policy
    from .preprocessor import source_preprocessor
    from .registry import UnknownNameError, get_registry
    from .reinit import reset_parameters
    from .rundir import RunDir, slug

#: Every public name and the module (relative to this package) that defines it.
_EXPORTS: dict[str, str] = {
    # api
    "RunResult": ".api",
    "add_callback": ".api",
    "remove_callback": ".api",
    "run": ".api",
    # classification
    "SingleLabelTask": ".classification",
    # data
    "CARVED_SPLITS": ".data.splits",
    "SPLITS": ".data.splits",
    "Split": ".data.splits",
    "check_splits": ".data.splits",
    "base_suffix": ".data.formats",
    "open_text": ".data.formats",
    "package_dir": ".data.formats",
    "read_delimited": ".data.formats",
    "resolve_path": ".data.formats",
    "DataError": ".data.formats",
    "read_csv": ".data.formats",
    "read_jsonl": ".data.formats",
    "read_tsv": ".data.formats",
    "require_columns": ".data.formats",
    "require_every_class": ".data.classes",
    "sample_per_class": ".data.budget",
    # engine
    "CheckpointError": ".engine",
    "RunContext": ".engine",
    "TrainerSettings": ".engine",
    # experiment
    "ExperimentConfig": ".experiment",
    "build": ".experiment.build",
    "format_plan": ".experiment",
    "load_config": ".experiment",
    "parse_config": ".experiment",
    "run_experiment": ".experiment",
    # export (a finished run in other formats; the plugins' hf writers)
    "ExportError": ".export",
    "export_run": ".export",
    "checked_hf_export": ".export.hf",
    "hf_model": ".export.hf",
    "hf_writer": ".export.hf",
    # freeze
    "BlockMapError": ".freeze",
    "FreezePlan": ".freeze",
    "PolicyError": ".freeze",
    "is_norm": ".freeze",
    "resolve_blocks": ".freeze",
    # heads
    "ClassificationHead": ".heads",
    "SequenceHead": ".heads",
    "pool": ".heads",
    # inference
    "Predictor": ".inference",
    "input_path": ".inference",
    "load": ".inference",
    "top_labels": ".inference",
    # interfaces
    "HEAD": ".interfaces",
    "Batch": ".interfaces",
    "Block": ".interfaces",
    "DatasetFormat": ".interfaces",
    "DatasetReader": ".interfaces",
    "Examples": ".interfaces",
    "Features": ".interfaces",
    "FeatureSpec": ".interfaces",
    "LocalModel": ".interfaces",
    "Metric": ".interfaces",
    "MetricFn": ".interfaces",
    "NormMode": ".interfaces",
    "Phase": ".interfaces",
    "PolicyFactory": ".interfaces",
    "PolicyType": ".interfaces",
    "PredictingTask": ".interfaces",
    "SourceModel": ".interfaces",
    "SourceProvider": ".interfaces",
    "TargetTask": ".interfaces",
    "TaskFactory": ".interfaces",
    "TaskType": ".interfaces",
    "TransferPolicy": ".interfaces",
    # metrics
    "Ranked": ".metrics",
    # model
    "TransferModel": ".model",
    # options
    "ConfigError": ".options",
    "check_options": ".options",
    "suggest": ".options",
    # plugins
    "hookimpl": ".plugins",
    "load_plugins": ".plugins",
    # policies
    "Policy": ".policies",
    # preprocessor
    "source_preprocessor": ".preprocessor",
    # registry
    "UnknownNameError": ".registry",
    "get_registry": ".registry",
    # reinit
    "reset_parameters": ".reinit",
    # run directories
    "RunDir": ".rundir",
    "slug": ".rundir",
}


__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS, globals())

__all__ = [
    "CARVED_SPLITS",
    "HEAD",
    "SPLITS",
    "Batch",
    "Block",
    "BlockMapError",
    "CheckpointError",
    "ClassificationHead",
    "ConfigError",
    "DataError",
    "DatasetFormat",
    "DatasetReader",
    "Examples",
    "ExperimentConfig",
    "ExportError",
    "FeatureSpec",
    "Features",
    "FreezePlan",
    "LocalModel",
    "Metric",
    "MetricFn",
    "NormMode",
    "Phase",
    "Policy",
    "PolicyError",
    "PolicyFactory",
    "PolicyType",
    "PredictingTask",
    "Predictor",
    "Ranked",
    "RunContext",
    "RunDir",
    "RunResult",
    "SequenceHead",
    "SingleLabelTask",
    "SourceModel",
    "SourceProvider",
    "Split",
    "TargetTask",
    "TaskFactory",
    "TaskType",
    "TrainerSettings",
    "TransferModel",
    "TransferPolicy",
    "UnknownNameError",
    "__version__",
    "add_callback",
    "base_suffix",
    "build",
    "check_options",
    "check_splits",
    "checked_hf_export",
    "export_run",
    "format_plan",
    "get_registry",
    "hf_model",
    "hf_writer",
    "hookimpl",
    "input_path",
    "is_norm",
    "load",
    "load_config",
    "load_plugins",
    "open_text",
    "package_dir",
    "parse_config",
    "pool",
    "read_csv",
    "read_delimited",
    "read_jsonl",
    "read_tsv",
    "remove_callback",
    "require_columns",
    "require_every_class",
    "reset_parameters",
    "resolve_blocks",
    "resolve_path",
    "run",
    "run_experiment",
    "sample_per_class",
    "slug",
    "source_preprocessor",
    "suggest",
    "top_labels",
]
