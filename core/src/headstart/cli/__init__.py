"""The ``headstart`` command: parses its arguments without importing torch, then runs one command.

Each command is one module of this package with four names:

- ``NAME``: the command as typed (``"new-plugin"``),
- ``HELP``: its one-line help,
- ``add_arguments(parser)``: its arguments,
- ``run(args) -> int``: what it does; the exit status.

A command module imports only ``argparse``, ``json``, ``os``, ``sys`` and this package at its
top; everything else (torch, numpy, the experiment and engine modules, plugins, even ``pathlib``)
is imported inside ``run``, so ``headstart --help`` and every other command start fast. **To add a command**: write ``cli/<name>.py`` with those four names
and add its module name to ``COMMANDS`` below (the order is the order of ``headstart --help``).
tests/core/test_cli_startup.py checks that building the parser imports no torch.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType

from .. import __version__

#: Command modules of this package, in the order ``headstart --help`` lists them.
COMMANDS: tuple[str, ...] = (
    "plugins",
    "plan",
    "run",
    "predict",
    "evaluate",
    "compare",
    "report",
    "new_plugin",
    "rank",
)


def user_errors() -> tuple[type[Exception], ...]:
    """Errors that are the user's input, shown as one line without a traceback."""
    from ..data import DataError
    from ..engine.checkpoint import CheckpointError
    from ..freeze import BlockMapError, FreezeStateError, PolicyError
    from ..options import ConfigError
    from ..plugins import PluginError
    from ..registry import UnknownNameError

    return (
        ConfigError,
        UnknownNameError,
        CheckpointError,
        BlockMapError,
        FreezeStateError,
        PluginError,
        PolicyError,
        DataError,
        FileNotFoundError,
    )


def command_modules() -> list[ModuleType]:
    return [importlib.import_module(f".{name}", __name__) for name in COMMANDS]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="headstart", description="Transfer learning and fine-tuning for PyTorch.")
    parser.add_argument("--version", action="version", version=f"headstart {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in command_modules():
        p = sub.add_parser(module.NAME, help=module.HELP)
        module.add_arguments(p)
        p.set_defaults(func=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("headstart: interrupted; the last checkpoint is intact (resume with --resume RUN_DIR)", file=sys.stderr)
        return 130
    except Exception as exc:
        if not isinstance(exc, user_errors()):
            raise
        print(f"headstart: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
