"""Engine overhead: steps/s of Headstart's loop vs a minimal hand-written PyTorch loop.

Same model object, same data, batch size and optimizer (AdamW, same learning rate). Both are
timed in one process, interleaved, several repeats; the result is the median ratio
``headstart_steps_per_s / hand_steps_per_s`` (1.0 = no overhead), in wall time and in the CPU
time of the training thread (``time.thread_time``: steadier on a machine shared with other jobs). The hand loop uses AdamW as
``torch.optim.AdamW(model.parameters())`` does by default (per-parameter ops on a CPU); Headstart
picks the fused kernel, so a second ratio against a hand loop that also passes ``fused=True``
isolates what the engine itself costs. Headstart's time is measured
from the end of the first to the end of the last optimizer step of the epoch through its own
events (the hand loop likewise), so evaluation and
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
from step_clock import StepClock, steps_per_s  # benchmarks/step_clock.py

from headstart import parse_config
from headstart.experiment import build, run_experiment


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


def hand_loop(args: argparse.Namespace, cfg: dict[str, Any], fused: bool | None = None) -> tuple[float, float]:
    """Steps per second of wall time and of this thread's CPU time."""
    built = build(parse_config(cfg))
    model, task = built.model, built.task
    for p in model.parameters():
        p.requires_grad_(True)
    data = task.dataset("train", train=True)
    loader = torch.utils.data.DataLoader(data, batch_size=args.batch, shuffle=True, collate_fn=task.collate)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0, fused=fused)
    model.train()
    start = cpu = 0.0
    steps = 0
    for batch in loader:
        loss = torch.nn.functional.cross_entropy(model(batch["inputs"]), batch["targets"])
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        steps += 1
        if steps == 1:  # timed like Headstart's: from the end of the first step to the end of the last
            start, cpu = time.perf_counter(), time.thread_time()
    return (steps - 1) / (time.perf_counter() - start), (steps - 1) / (time.thread_time() - cpu)


def headstart_loop(cfg: dict[str, Any], clock: StepClock, out: Path) -> tuple[float, float]:
    run_experiment(parse_config(cfg), out)
    return steps_per_s(clock.wall), steps_per_s(clock.cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--examples", type=int, default=4000)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--features", type=int, default=256)
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--depth", type=int, default=4)
    args = parser.parse_args()
    clock = StepClock.registered()
    runs: dict[str, list[tuple[float, float]]] = {"hand": [], "headstart": [], "hand_fused": []}
    with tempfile.TemporaryDirectory() as tmp:
        cfg = config(args, tmp)
        hand_loop(args, cfg)  # warm-up
        for r in range(args.repeats):  # interleaved
            runs["hand"].append(hand_loop(args, cfg))
            runs["headstart"].append(headstart_loop(cfg, clock, Path(tmp) / f"run{r}"))
            runs["hand_fused"].append(hand_loop(args, cfg, fused=True))

    def ratios(base: str, clock_index: int) -> list[float]:
        return [o[clock_index] / h[clock_index] for o, h in zip(runs["headstart"], runs[base], strict=True)]

    def median(xs: list[float]) -> float:
        return round(statistics.median(xs), 4)

    params = sum(p.numel() for p in build(parse_config(cfg)).model.parameters())
    print(
        json.dumps(
            {
                "benchmark": "engine_overhead",
                "model": f"toy:mlp width {args.width} depth {args.depth} ({params:,} params)",
                "batch": args.batch,
                "repeats": args.repeats,
                **{f"{k}_steps_per_s": round(statistics.median(x[0] for x in v), 2) for k, v in runs.items()},
                "median_ratio": median(ratios("hand", 0)),
                "ratios": [round(x, 3) for x in ratios("hand", 0)],
                "median_ratio_vs_fused_hand": median(ratios("hand_fused", 0)),
                "ratios_vs_fused_hand": [round(x, 3) for x in ratios("hand_fused", 0)],
                "cpu_time_ratio": median(ratios("hand", 1)),
                "cpu_time_ratio_vs_fused_hand": median(ratios("hand_fused", 1)),
                "machine": f"{platform.machine()} {torch.get_num_threads()} threads, torch {torch.__version__}",
                "device": "cpu",
            }
        )
    )


if __name__ == "__main__":
    main()
