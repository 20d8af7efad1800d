"""``headstart report``: report.md, results.csv/json and plots for run directories."""

from __future__ import annotations

import argparse

HELP = "write report.md, results.csv/json and plots for run directories"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs", nargs="+", help="run directories, or folders that contain them")
    parser.add_argument("--out", metavar="DIR", help="output folder (default: <first path>/report)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..experiment.report import markdown_table, write_report

    paths = [Path(p) for p in args.runs]
    written = write_report(paths, Path(args.out) if args.out else paths[0] / "report")
    print(markdown_table(written["rows"]))
    print(f"\nreport: {written['report']}")
    return 0
