"""``headstart evaluate RUN_DIR --data …``: a finished run's metrics on a new labelled set."""

from __future__ import annotations

import argparse

NAME = "evaluate"
HELP = "the task's metrics of a finished run on a new labelled set"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", help="a run directory written by `headstart run`")
    parser.add_argument(
        "--data",
        required=True,
        help="a labelled set in the task's training format (an ImageFolder tree, a CSV / JSONL / CoNLL file, …)",
    )
    parser.add_argument("--json", action="store_true", help="print the metrics as JSON instead of a line of text")
    parser.add_argument("--output", "-o", metavar="FILE", help="also write the metrics as JSON here")
    parser.add_argument("--batch-size", type=int, default=32, metavar="N")
    parser.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda[:N]")
    parser.add_argument("--checkpoint", choices=("best", "last"), default="best")


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
