"""The ``headstart`` command: ``plugins``, ``plan``, ``run``, ``compare``, ``report``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .data import DataError
from .engine.checkpoint import CheckpointError
from .freeze import BlockMapError, FreezeStateError, PolicyError
from .options import ConfigError
from .plugins import PluginError, get_plugin_system
from .registry import UnknownNameError, get_registry

#: Errors that are the user's input, shown as one line without a traceback.
USER_ERRORS: tuple[type[Exception], ...] = (
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


def plugins_report() -> dict[str, Any]:
    """Every plugin with its version, hooks and contributions, and the ones that failed."""
    system = get_plugin_system()
    plugins = []
    for name, info in system.infos.items():
        try:
            contributes = system.plugin_contributions(name)
            error = None
        except Exception as exc:  # a plugin whose hook raises is still listed
            contributes, error = {}, f"{type(exc).__name__}: {exc}"
        plugins.append(
            {
                "name": name,
                "distribution": info.distribution,
                "version": info.version,
                "builtin": info.builtin,
                "module": info.module,
                "hooks": info.hooks,
                "contributes": contributes,
                **({"error": error} if error else {}),
            }
        )
    failed = [{"name": f.name, "source": f.source, "error": f.error} for f in system.failures]
    return {"headstart": __version__, "plugins": plugins, "failed": failed}


def _print_plugins(report: dict[str, Any]) -> None:
    print(f"headstart {report['headstart']}")
    for p in report["plugins"]:
        origin = "built-in" if p["builtin"] else f"{p['distribution'] or '?'} {p['version'] or ''}".strip()
        print(f"\n{p['name']}  ({origin})")
        for kind, names in p["contributes"].items():
            if names:
                shown = [f"{n}:…" for n in names] if kind == "sources" else names
                print(f"  {kind:<12} {', '.join(shown)}")
        events = [h for h in p["hooks"] if h.startswith("headstart_on_")]
        if events:
            print(f"  {'events':<12} {', '.join(events)}")
        if p.get("error"):
            print(f"  {'ERROR':<12} {p['error']}")
    if report["failed"]:
        print("\nfailed to load:")
        for f in report["failed"]:
            print(f"  {f['name']} ({f['source']}): {f['error']}")


def cmd_plugins(args: argparse.Namespace) -> int:
    report = plugins_report()
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _print_plugins(report)
    get_registry()  # duplicate names across plugins are an error worth showing
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    from .experiment import build, format_plan, load_config, plan_json

    built = build(load_config(args.experiment, args.set))
    if args.json:
        print(json.dumps(plan_json(built), indent=2))
    else:
        print(format_plan(built))
    return 0


def _launch_torchrun(args: argparse.Namespace, argv: list[str]) -> int:
    """Re-run this command under torchrun with ``--nproc`` processes and one shared run directory."""
    import os
    import subprocess

    from .experiment import load_config
    from .experiment.run import new_run_dir

    rest = list(argv)
    i = rest.index("--nproc") if "--nproc" in rest else -1
    if i >= 0:
        del rest[i : i + 2]
    else:
        rest = [a for a in rest if not a.startswith("--nproc=")]
    if not args.run_dir and not args.resume:
        rest += ["--run-dir", str(new_run_dir(load_config(args.experiment, args.set)))]
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={args.nproc}",
        "-m",
        "headstart",
        *rest,
    ]
    print("launching: " + " ".join(cmd[1:]), file=sys.stderr)
    return subprocess.call(cmd, env=os.environ.copy())


def cmd_run(args: argparse.Namespace) -> int:
    import os

    from .engine import distributed as ddp
    from .experiment import load_config, load_run_config, run_experiment

    if args.nproc > 1 and "WORLD_SIZE" not in os.environ:
        return _launch_torchrun(args, args.argv)

    run_dir = Path(args.run_dir) if args.run_dir else None
    if args.resume:
        run_dir = Path(args.resume)
        config = (
            load_run_config(run_dir, args.set) if args.experiment is None else load_config(args.experiment, args.set)
        )
    elif args.experiment is None:
        raise ConfigError("headstart run needs an experiment file (or --resume RUN_DIR)")
    else:
        config = load_config(args.experiment, args.set)
    run_dir, summary = run_experiment(config, run_dir, resume=bool(args.resume))
    ddp.shutdown()
    if not ddp.from_env().main:
        return 0
    best = summary["best"]
    print(f"run directory: {run_dir}")
    print(
        f"best {summary['monitor']} = {best['value']} at epoch {None if best['epoch'] is None else best['epoch'] + 1}; "
        f"trainable parameters {summary['trainable_params_max']:,} of {summary['total_params']:,}; "
        f"{summary['wall_time_s']:.1f} s"
    )
    if summary.get("test"):
        print("test: " + ", ".join(f"{k}={v:.4f}" for k, v in summary["test"].items()))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from .experiment.matrix import dry_run, load_matrix, run_matrix
    from .experiment.report import markdown_table, write_report

    matrix = load_matrix(args.matrix, args.set)
    if args.dry_run:
        dry_run(matrix)
        return 0
    run_matrix(matrix)
    out = Path(args.report) if args.report else matrix.output_dir / "report"
    written = write_report([matrix.output_dir], out)
    print()
    print(markdown_table(written["rows"]))
    print(f"\nreport: {written['report']}")
    print("plots:  " + ", ".join(written["plots"]))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from .experiment.report import markdown_table, write_report

    paths = [Path(p) for p in args.runs]
    written = write_report(paths, Path(args.out) if args.out else paths[0] / "report")
    print(markdown_table(written["rows"]))
    print(f"\nreport: {written['report']}")
    return 0


def cmd_new_plugin(args: argparse.Namespace) -> int:
    from .scaffold import ScaffoldError, new_plugin

    try:
        target = new_plugin(args.name, args.kind, Path(args.output) if args.output else None)
    except ScaffoldError as exc:
        print(f"headstart: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.kind} plugin {args.name!r} to {target}")
    print(f"next: pip install -e {target} && headstart plugins && pytest {target}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="headstart", description="Transfer learning and fine-tuning for PyTorch.")
    parser.add_argument("--version", action="version", version=f"headstart {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("plugins", help="list plugins, what they contribute, and failures")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_plugins)

    overrides = {
        "action": "append",
        "default": [],
        "metavar": "KEY=VALUE",
        "help": "override a config value, e.g. trainer.epochs=3 (repeatable)",
    }
    p = sub.add_parser("plan", help="print the freeze plan of every phase without training")
    p.add_argument("experiment", help="experiment YAML file")
    p.add_argument("--set", **overrides)  # type: ignore[arg-type]
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("run", help="train an experiment into a run directory")
    p.add_argument("experiment", nargs="?", help="experiment YAML file (optional with --resume)")
    p.add_argument("--set", **overrides)  # type: ignore[arg-type]
    p.add_argument("--run-dir", help="write the run here instead of a new directory under output_dir")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue this run from its last checkpoint")
    p.add_argument(
        "--nproc",
        type=int,
        default=1,
        metavar="N",
        help="train data-parallel on N processes (launches torchrun; GPUs if present, else CPU/gloo)",
    )
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("compare", help="run a matrix of experiments (resumable) and write its report")
    p.add_argument("matrix", help="matrix YAML file")
    p.add_argument("--set", **overrides)  # type: ignore[arg-type]
    p.add_argument("--dry-run", action="store_true", help="print the cells and their trainable parameters only")
    p.add_argument("--report", metavar="DIR", help="where to write the report (default: <output_dir>/report)")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("report", help="write report.md, results.csv/json and plots for run directories")
    p.add_argument("runs", nargs="+", help="run directories, or folders that contain them")
    p.add_argument("--out", metavar="DIR", help="output folder (default: <first path>/report)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("new-plugin", help="write a new plugin distribution (pyproject, hooks, component, tests)")
    p.add_argument("name", help="plugin name: entry-point name, policy name or source scheme (e.g. timeseries)")
    p.add_argument("--kind", choices=("domain", "policy", "source"), default="domain", help="what it contributes")
    p.add_argument("--output", metavar="DIR", help="where to write it (default: ./headstart-NAME)")
    p.set_defaults(func=cmd_new_plugin)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    try:
        return int(args.func(args))
    except USER_ERRORS as exc:
        print(f"headstart: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("headstart: interrupted; the last checkpoint is intact (resume with --resume RUN_DIR)", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
