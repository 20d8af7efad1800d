"""``headstart compare``: run a matrix of experiments (resumable) and write its report."""

from __future__ import annotations

import argparse

from ._options import add_set_option

HELP = "run a matrix of experiments (resumable) and write its report"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("matrix", help="matrix YAML file")
    add_set_option(parser)
    parser.add_argument("--dry-run", action="store_true", help="print the cells and their trainable parameters only")
    parser.add_argument("--report", metavar="DIR", help="where to write the report (default: <output_dir>/report)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..engine.nonfinite import TrainingDiverged
    from ..experiment.matrix import CellsDiverged, dry_run, load_matrix, run_matrix
    from ..experiment.report import markdown_table, write_report

    matrix = load_matrix(args.matrix, args.set)
    if args.dry_run:
        dry_run(matrix)
        return 0
    diverged: CellsDiverged | None = None
    try:
        run_matrix(matrix)
    except CellsDiverged as exc:  # the other cells ran: report them, mark these, then fail
        diverged = exc
    out = Path(args.report) if args.report else matrix.output_dir / "report"
    written = write_report([matrix.output_dir], out)
    print()
    print(markdown_table(written["rows"]))
    for c in written.get("rank") or []:  # rank: true — how well the estimates predicted the results
        print(f"{c['task']} × {c['policy']}: Kendall τ(LogME, {c['metric']}) = {c['tau_logme']:.3f}")
    print(f"\nreport: {written['report']}")
    print("plots:  " + ", ".join(written["plots"]))
    if diverged is not None:
        raise TrainingDiverged(f"{diverged}; {written['report']} lists them")
    return 0
