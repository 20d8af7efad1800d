"""``headstart evaluate RUN_DIR --data …``: a finished run's metrics on a new labelled set."""

from __future__ import annotations

import argparse

from ._options import add_json_option, add_run_dir_arguments

HELP = "the task's metrics of a finished run on a new labelled set"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run_dir_arguments(parser, runs_model=True)
    parser.add_argument(
        "--data",
        required=True,
        help="a labelled set in the task's training format (an ImageFolder tree, a CSV / JSONL / CoNLL file, …)",
    )
    add_json_option(parser, "print the metrics as JSON instead of a line of text")
    parser.add_argument("--output", "-o", metavar="FILE", help="also write the metrics as JSON here")


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from ..inference import load

    predictor = load(args.run_dir, checkpoint=args.checkpoint, device=args.device)
    metrics = predictor.evaluate(args.data, batch_size=args.batch_size, progress=None)
    result = {"run_dir": str(args.run_dir), "data": str(args.data), "checkpoint": args.checkpoint, "metrics": metrics}
    if args.output:
        out = Path(args.output)
        out.parent.mkdir(parents=True, exist_ok=True)
        from ..engine.atomic import atomic_write_json

        atomic_write_json(out, result)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        shown = ", ".join(f"{k}={v:.4f}" for k, v in metrics.items() if k != "examples")
        print(f"{args.data}: {int(metrics['examples'])} examples; {shown}")
    return 0
