"""``headstart plan``: the freeze plan of every phase, without training."""

from __future__ import annotations

import argparse
import json

from ._options import add_experiment_arguments, add_json_option

HELP = "print the freeze plan of every phase without training"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_experiment_arguments(parser, "experiment YAML file")
    add_json_option(parser)


def run(args: argparse.Namespace) -> int:
    from ..experiment import build, format_plan, load_config, plan_json

    built = build(load_config(args.experiment, args.set))
    if args.json:
        print(json.dumps(plan_json(built), indent=2))
    else:
        print(format_plan(built))
    return 0
