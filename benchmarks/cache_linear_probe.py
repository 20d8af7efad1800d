"""A linear probe for 10 epochs with the frozen-feature cache vs without it.

Both runs train the same head on the same source and data (feature cache ``memory`` vs ``off``);
the cache computes the source's features once, so the source's forward runs once per example
instead of once per example per epoch. Prints one JSON line with both wall times, the speed-up,
and how close the final validation metrics are.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
from pathlib import Path

import torch

from headstart import load_config
from headstart.experiment import run_experiment

DEFAULT = Path(__file__).resolve().parent.parent / "examples" / "vision-efficientnet-digits.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--experiment", type=Path, default=DEFAULT)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--set", action="append", default=[], help="extra config overrides")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        warm = load_config(
            args.experiment,
            [
                "policy={name: linear-probe}",
                "trainer.epochs=1",
                "trainer.progress=false",
                "trainer.max_steps_per_epoch=2",
                *args.set,
            ],
        )
        run_experiment(warm, Path(tmp) / "warm-up")  # first-call costs (imports, allocator) counted for neither
        for cache in ("memory", "off"):
            config = load_config(
                args.experiment,
                [
                    "policy={name: linear-probe}",
                    f"trainer.epochs={args.epochs}",
                    f"trainer.feature_cache={cache}",
                    "trainer.progress=false",
                    *args.set,
                ],
            )
            _, summary = run_experiment(config, Path(tmp) / cache)
            results[cache] = summary
    on, off = results["memory"], results["off"]
    metric = on["monitor"]
    print(
        json.dumps(
            {
                "benchmark": "cache_linear_probe",
                "experiment": args.experiment.name,
                "epochs": args.epochs,
                "wall_s_with_cache": round(on["wall_time_s"], 2),
                "wall_s_without_cache": round(off["wall_time_s"], 2),
                "speedup": round(off["wall_time_s"] / on["wall_time_s"], 2),
                f"final_val_{metric}_with_cache": on["final"].get(f"val_{metric}"),
                f"final_val_{metric}_without_cache": off["final"].get(f"val_{metric}"),
                "machine": f"{platform.machine()} {torch.get_num_threads()} threads, torch {torch.__version__}",
                "device": on["device"],
            }
        )
    )


if __name__ == "__main__":
    main()
