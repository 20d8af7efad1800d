"""The ``headstart`` command: parses its arguments without importing torch, then runs one command.

Each command is one module of this package, named as the command is typed (``_`` for ``-``:
``new_plugin.py`` is ``headstart new-plugin``), with three names:

- ``HELP``: its one-line help,
- ``add_arguments(parser)``: its arguments (the ones several commands share — an experiment file
  and ``--set``, a run directory and ``--checkpoint``, ``--json`` — come from ``_options``),
- ``run(args) -> int``: what it does; the exit status.

A command module imports only ``argparse``, ``json``, ``os``, ``sys`` and this package at its
top; everything else (torch, numpy, the experiment and engine modules, plugins, even ``pathlib``)
is imported inside ``run``, so ``headstart --help`` and every other command start fast. **To add a command**: write ``cli/<name>.py`` with those three names
and add its module name to ``COMMANDS`` below (the order is the order of ``headstart --help``).
tests/core/test_cli_startup.py checks that building the parser imports no torch.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
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
    "export",
    "merge",
    "compare",
    "report",
    "new_plugin",
    "rank",
)


def user_errors() -> tuple[type[Exception], ...]:
    """Errors that are the user's input, shown as one line without a traceback."""
    from ..data.formats import DataError
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


def run_failures() -> tuple[type[Exception], ...]:
    """Errors of a run that failed for a reason it explains in one line (exit status 1)."""
    from ..engine.nonfinite import TrainingDiverged

    return (TrainingDiverged,)


#: ``OSError``s that mean a path the user gave is wrong (exit 2); others (a full disk) exit 1.
_PATH_ERRNOS = frozenset(
    {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EISDIR, errno.EEXIST, errno.ENOENT}
)


def _os_error_line(exc: OSError) -> str:
    where = f"{exc.filename}: " if exc.filename else ""
    what = exc.strerror or str(exc)
    if exc.errno == errno.ENOSPC:
        what += "; the last checkpoint is intact — free some space, then continue with --resume RUN_DIR"
    return f"{where}{what}"


def _raising_event_plugin(exc: BaseException) -> tuple[str, str] | None:
    """The plugin and ``headstart_on_*`` hook in whose implementation ``exc`` was raised, if any."""
    from ..plugins import get_plugin_system

    impls = {}
    pm = get_plugin_system().pm
    for name, plugin in pm.list_name_plugin():
        for caller in pm.get_hookcallers(plugin) or []:
            if caller.name.startswith("headstart_on_"):
                for impl in caller.get_hookimpls():
                    if impl.plugin is plugin:
                        impls[impl.function.__code__] = (name, caller.name)
    found, tb = None, exc.__traceback__
    while tb is not None:
        found = impls.get(tb.tb_frame.f_code, found)  # type: ignore[arg-type]
        tb = tb.tb_next
    return found


def command_modules() -> list[ModuleType]:
    return [importlib.import_module(f".{name}", __name__) for name in COMMANDS]


def command_name(module: ModuleType) -> str:
    """The command as typed: its module's name, ``-`` for ``_`` (``new_plugin`` → ``new-plugin``)."""
    return module.__name__.rpartition(".")[2].replace("_", "-")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="headstart", description="Transfer learning and fine-tuning for PyTorch.")
    parser.add_argument("--version", action="version", version=f"headstart {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in command_modules():
        p = sub.add_parser(command_name(module), help=module.HELP)
        module.add_arguments(p)
        p.set_defaults(func=module.run)
    return parser


def _quiet_libraries() -> None:
    """No library loading bars (Hugging Face's "Loading weights") between Headstart's own lines
    and before an error line; ``HF_HUB_DISABLE_PROGRESS_BARS=0`` brings them back."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    if os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] not in ("", "0") and "transformers" in sys.modules:
        sys.modules["transformers"].utils.logging.disable_progress_bar()  # imported before the env var


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    _quiet_libraries()
    args = build_parser().parse_args(argv)
    args.argv = argv
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("headstart: interrupted; the last checkpoint is intact (resume with --resume RUN_DIR)", file=sys.stderr)
        return 130
    except Exception as exc:
        if isinstance(exc, user_errors()) and not isinstance(exc, OSError):
            code, line = 2, str(exc)
        elif isinstance(exc, run_failures()):
            code, line = 1, str(exc)
        elif isinstance(exc, OSError):
            code, line = (2 if exc.errno in _PATH_ERRNOS else 1), _os_error_line(exc)
        elif (where := _raising_event_plugin(exc)) and not os.environ.get("HEADSTART_TRACEBACK"):
            code = 1
            line = (
                f"plugin {where[0]!r} raised in {where[1]}: {type(exc).__name__}: {exc}; the run stopped and its "
                "last checkpoint is intact: fix or remove the plugin, then continue with --resume RUN_DIR "
                "(HEADSTART_TRACEBACK=1 shows the traceback)"
            )
        else:
            raise
        print(f"headstart: error: {line}", file=sys.stderr)
        return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
