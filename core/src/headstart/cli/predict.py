"""``headstart predict RUN_DIR INPUTS…``: a finished run's predictions for new inputs, as JSONL or CSV."""

from __future__ import annotations

import argparse
import sys

from ._options import add_run_dir_arguments

HELP = "predict new inputs (files, folders, CSV/JSONL/TXT files, texts) with a finished run"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run_dir_arguments(parser, runs_model=True)
    parser.add_argument(
        "inputs",
        nargs="+",
        help="image / audio files or folders; CSV, TSV or JSONL files (one input per row); "
        "TXT files (one text per line); or texts",
    )
    parser.add_argument("--output", "-o", metavar="FILE", help="write .jsonl or .csv here (default: JSONL on stdout)")
    parser.add_argument("--top-k", type=int, default=1, metavar="K", help="alternatives per classification (default 1)")
    parser.add_argument(
        "--on-error",
        choices=("fail", "skip"),
        default="fail",
        help="a bad input stops the command (fail) or is reported on stderr and left out (skip)",
    )


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from ..inference import load, write_predictions
    from ..inference.inputs import expand_inputs

    predictor = load(args.run_dir, checkpoint=args.checkpoint, device=args.device)
    raws = expand_inputs(args.inputs, getattr(predictor.task, "input_extensions", None))
    if not raws:
        print(f"headstart: error: no inputs found in {' '.join(args.inputs)}", file=sys.stderr)
        return 2
    results = predictor.predict(
        raws,
        batch_size=args.batch_size,
        top_k=args.top_k,
        errors="skip" if args.on_error == "skip" else "raise",
        progress=None,
    )
    good = [r for r in results if "error" not in r]
    for r in results:
        if "error" in r:
            print(f"headstart: skipped {r['input']}: {r['error']}", file=sys.stderr)
    if args.output:
        write_predictions(good, Path(args.output))
        print(
            f"{len(good)} predictions written to {args.output}"
            + (f"; {len(results) - len(good)} skipped" if len(good) < len(results) else ""),
            file=sys.stderr,
        )
    else:
        for r in good:
            print(json.dumps(r, ensure_ascii=False))
    return 0 if good else 2
