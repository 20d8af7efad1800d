"""``headstart export RUN_DIR --to FORMAT``: a finished run in a format other libraries load."""

from __future__ import annotations

import argparse

from ._options import add_run_dir_arguments

HELP = "write a finished run as hf / timm / torchvision / onnx / torch-export, checked against the model"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run_dir_arguments(parser, runs_model=False)
    parser.add_argument(
        "--to",
        required=True,
        metavar="FORMAT",
        help="hf (NLP, speech), timm / torchvision (vision), onnx or torch-export (every domain), "
        "full (every weight into the run's own checkpoints: a self-contained run directory)",
    )
    parser.add_argument("--output", "-o", metavar="DIR", help="where to write it (default: RUN_DIR/export/FORMAT)")


def run(args: argparse.Namespace) -> int:
    import json

    from ..export import export

    folder = export(args.run_dir, args.to, args.output, checkpoint=args.checkpoint)
    record = json.loads((folder / "export.json").read_text(encoding="utf-8"))
    print(f"{args.to} export written to {folder}: {', '.join(record.get('files', []))}")
    if record.get("max_abs_diff") is not None:
        print(f"checked with {record.get('checked_with')}: max abs difference {record['max_abs_diff']:.2e}")
    if record.get("load_with"):
        print(f"load with: {record['load_with']}")
    return 0
