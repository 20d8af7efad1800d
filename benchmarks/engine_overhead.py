"""Engine overhead: steps/s of Headstart's loop vs a minimal hand-written PyTorch loop.

Same model object, same data, batch size and optimizer (AdamW, same learning rate). Both are
timed in one process, interleaved, several repeats; the result is the median ratio
``headstart_steps_per_s / hand_steps_per_s`` (1.0 = no overhead). The hand loop uses AdamW as
``torch.optim.AdamW(model.parameters())`` does by default (per-parameter ops on a CPU); Headstart
picks the fused kernel, so a second ratio against a hand loop that also passes ``fused=True``
isolates what the engine itself costs. Headstart's time is measured
from the first to the last optimizer step of the epoch through its own events, so evaluation and
checkpoint writing (which a hand loop would also need) are not counted.

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from headstart import hookimpl, parse_config
from headstart.experiment import build, run_experiment
from headstart.plugins import get_plugin_system


def config(args: argparse.Namespace, out: str) -> dict[str, Any]:
    return {
        "seed": 0,
        "source": {"name": "toy:mlp", "in_features": args.features, "width": args.width, "depth": args.depth},
        "task": {
            "name": "vector-classification",
            "synthetic": {"classes": 10, "per_class": args.examples // 10, "in_features": args.features},
        },
        "policy": {"name": "full"},
        "trainer": {
            "epochs": 1,
            "batch_size": args.batch,
            "lr": 1e-3,
            "progress": False,
            "log_every": 50,
            "clip_grad_norm": None,
            "weight_decay": 0.0,
            "schedule": "constant",
            "feature_cache": "off",
        },
        "output_dir": out,
    }


class StepClock:
    """Times optimizer steps through the engine's events."""

    def __init__(self) -> None:
        self.first = self.last = 0.0
        self.steps = 0

    @hookimpl
    def headstart_on_epoch_start(self, run: Any, epoch: int) -> None:
        self.first, self.steps = time.perf_counter(), 0

    @hookimpl
    def headstart_on_step_end(self, run: Any, step: int, metrics: dict[str, Any]) -> None:
        self.last, self.steps = time.perf_counter(), self.steps + 1


def hand_loop(args: argparse.Namespace, cfg: dict[str, Any], fused: bool | None = None) -> float:
    built = build(parse_config(cfg))
    model, task = built.model, built.task
    for p in model.parameters():
        p.requires_grad_(True)
    data = task.dataset("train", train=True)
    loader = torch.utils.data.DataLoader(data, batch_size=args.batch, shuffle=True, collate_fn=task.collate)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0, fused=fused)
    model.train()
    start, steps = time.perf_counter(), 0
    for batch in loader:
        loss = torch.nn.functional.cross_entropy(model(batch["inputs"]), batch["targets"])
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        steps += 1
    return steps / (time.perf_counter() - start)


def headstart_loop(cfg: dict[str, Any], clock: StepClock, out: Path) -> float:
    run_experiment(parse_config(cfg), out)
    return (clock.steps - 1) / (clock.last - clock.first) if clock.steps > 1 else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--examples", type=int, default=4000)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--features", type=int, default=256)
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--depth", type=int, default=4)
    args = parser.parse_args()
    clock = StepClock()
    get_plugin_system().register(clock, "benchmark-clock")
    ratios, fused_ratios, hand, hand_fused, ours = [], [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        cfg = config(args, tmp)
        hand_loop(args, cfg)  # warm-up
        for r in range(args.repeats):
            h = hand_loop(args, cfg)
            o = headstart_loop(cfg, clock, Path(tmp) / f"run{r}")
            f = hand_loop(args, cfg, fused=True)
            hand.append(h)
            hand_fused.append(f)
            ours.append(o)
            ratios.append(o / h)
            fused_ratios.append(o / f)
    print(
        json.dumps(
            {
                "benchmark": "engine_overhead",
                "model": f"toy:mlp width {args.width} depth {args.depth} ({sum(p.numel() for p in build(parse_config(cfg)).model.parameters()):,} params)",
                "batch": args.batch,
                "hand_steps_per_s": round(statistics.median(hand), 2),
                "headstart_steps_per_s": round(statistics.median(ours), 2),
                "median_ratio": round(statistics.median(ratios), 4),
                "ratios": [round(x, 4) for x in ratios],
                "hand_fused_steps_per_s": round(statistics.median(hand_fused), 2),
                "median_ratio_vs_fused_hand": round(statistics.median(fused_ratios), 4),
                "ratios_vs_fused_hand": [round(x, 4) for x in fused_ratios],
                "machine": f"{platform.machine()} {torch.get_num_threads()} threads, torch {torch.__version__}",
                "device": "cpu",
            }
        )
    )


if __name__ == "__main__":
    main()
