"""``headstart new-plugin``: write a new plugin distribution (pyproject, hooks, component, tests)."""

from __future__ import annotations

import argparse
import sys

HELP = "write a new plugin distribution (pyproject, hooks, component, tests)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="plugin name: entry-point name, policy name or source scheme (e.g. timeseries)")
    parser.add_argument("--kind", choices=("domain", "policy", "source"), default="domain", help="what it contributes")
    parser.add_argument("--output", metavar="DIR", help="where to write it (default: ./headstart-NAME)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..scaffold import ScaffoldError, new_plugin

    try:
        target = new_plugin(args.name, args.kind, Path(args.output) if args.output else None)
    except ScaffoldError as exc:
        print(f"headstart: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.kind} plugin {args.name!r} to {target}")
    print(f"next: pip install -e {target} && headstart plugins && pytest {target}")
    return 0
