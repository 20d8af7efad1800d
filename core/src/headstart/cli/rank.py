"""``headstart rank``: score candidate sources for a task from their frozen features (LogME, H-score)."""

from __future__ import annotations

import argparse
import json

from ._options import add_experiment_arguments, add_json_option

HELP = "rank candidate sources for a task by LogME / H-score on their frozen features, before training"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_experiment_arguments(parser, "experiment YAML file: its task and trainer sections are used")
    parser.add_argument(
        "--sources",
        nargs="+",
        metavar="SOURCE",
        help="source names (timm:resnet50, hf:bert-base-uncased, run:runs/x …) or YAML mappings "
        "('{name: toy:mlp, width: 32}'); default: the experiment's own source",
    )
    parser.add_argument(
        "--cache-dir",
        metavar="DIR",
        help="feature cache folder, shared with runs whose trainer.feature_cache_dir is the same "
        "(default: trainer.feature_cache_dir, else <output_dir>/feature_cache)",
    )
    parser.add_argument(
        "--out", metavar="DIR", help="where to write rank.json and rank.csv (default: <output_dir>/rank)"
    )
    add_json_option(parser, "print the rows as JSON instead of a table")


def _source(text: str) -> dict[str, object]:
    import yaml

    from ..options import ConfigError

    value = yaml.safe_load(text) if text.lstrip().startswith("{") else {"name": text}
    if not isinstance(value, dict) or not isinstance(value.get("name"), str):
        raise ConfigError(f"--sources {text!r}: expected a name (scheme:name) or a mapping with a name")
    return value


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from ..experiment.config import apply_overrides, load_yaml
    from ..options import ConfigError
    from ..rank import format_table, rank_sources, write_ranking

    data = apply_overrides(load_yaml(args.experiment), args.set)
    if args.sources:
        sources = [_source(s) for s in args.sources]
    elif data.get("source"):
        sources = [_source(data["source"]) if isinstance(data["source"], str) else data["source"]]
    else:
        raise ConfigError(f"{args.experiment}: no source section; name the candidates with --sources S1 S2 …")
    trainer = data.get("trainer") or {}
    output_dir = Path(str(data.get("output_dir") or "runs"))
    if args.cache_dir:
        cache_dir: Path | None = Path(args.cache_dir)
    elif isinstance(trainer, dict) and trainer.get("feature_cache") == "off":
        cache_dir = None
    else:
        cache_dir = Path(trainer.get("feature_cache_dir") or output_dir / "feature_cache")
    echo = (lambda line: print(line, file=sys.stderr)) if args.json else print
    rows = rank_sources(data, sources, cache_dir, echo=echo)
    written = write_ranking(rows, Path(args.out) if args.out else output_dir / "rank", {"task": data.get("task")})
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    print()
    print(format_table(rows))
    print(f"\nLogME: per-example log evidence (higher is better); written: {', '.join(map(str, written))}")
    if cache_dir is not None:
        print(f"features cached in {cache_dir} (set trainer.feature_cache_dir to it and a probe reuses them)")
    return 0
