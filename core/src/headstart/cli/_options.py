"""Arguments that several commands share, each written once.

Two families of commands take the same leading arguments: those that read an experiment
(``plan``, ``run``, ``rank``: the experiment YAML file and ``--set``) and those that load a finished
run (``predict``, ``evaluate``, ``export``, ``merge``: ``RUN_DIR`` and ``--checkpoint``, and for the ones that run
the model, ``--batch-size`` and ``--device``).
"""

from __future__ import annotations

import argparse


def add_set_option(parser: argparse.ArgumentParser) -> None:
    """``--set KEY=VALUE`` (repeatable): override a config value."""
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. trainer.epochs=3 (repeatable)",
    )


def add_experiment_arguments(parser: argparse.ArgumentParser, help: str, *, optional: bool = False) -> None:
    """The ``experiment`` YAML file (a positional; ``optional``: may be left out) and ``--set``."""
    parser.add_argument("experiment", nargs="?" if optional else None, help=help)
    add_set_option(parser)


def add_run_dir_arguments(parser: argparse.ArgumentParser, *, runs_model: bool) -> None:
    """``RUN_DIR`` and ``--checkpoint best|last``: a finished run to load; with ``runs_model``, also
    ``--batch-size`` and ``--device`` for the forward passes. The options are listed apart, after
    the command's own, in ``--help``."""
    parser.add_argument("run_dir", help="a run directory written by `headstart run`")
    group = parser.add_argument_group("loading the run")
    if runs_model:
        group.add_argument("--batch-size", type=int, default=32, metavar="N")
        group.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda[:N]")
    group.add_argument(
        "--checkpoint", choices=("best", "last"), default="best", help="which checkpoint (default: best)"
    )


def add_json_option(parser: argparse.ArgumentParser, help: str = "machine-readable output") -> None:
    """``--json``: print machine-readable output instead of text."""
    parser.add_argument("--json", action="store_true", help=help)
