"""``headstart merge RUN_DIR --output DIR``: a run with its adapters merged into the weights they
adapt, as a new run directory whose checkpoint holds the full model."""

from __future__ import annotations

import argparse

from ._options import add_run_dir_arguments

HELP = "write a run with its adapters (LoRA) merged into the weights as a new run directory holding the full model"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run_dir_arguments(parser, runs_model=False)
    parser.add_argument("--output", "-o", required=True, metavar="DIR", help="the new run directory (new or empty)")


def run(args: argparse.Namespace) -> int:
    from ..export import merge_run

    merged = merge_run(args.run_dir, args.output, checkpoint=args.checkpoint)
    check = merged.get("merge_max_abs_diff")
    checked = f"; outputs checked: max abs difference {check:.2e}" if check is not None else ""
    print(
        f"{args.output}: {merged['adapters_merged']} adapter layer(s) merged into the weights of {args.run_dir} "
        f"({args.checkpoint}, epoch {merged['epoch']}); its checkpoint holds the full model{checked}"
    )
    print(f"load with: headstart.load({args.output!r}), or use it as a source: run:{args.output}")
    return 0
