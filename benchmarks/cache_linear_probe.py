"""A linear probe trained by epochs of AdamW with the frozen-feature cache vs without it.

Runs of the same head on the same source and data (``policy.solver=sgd``, so the head trains by
epochs): 10 epochs with the cache in memory and 100 epochs with it, each ``--repeat`` times
(default 3, alternating; the median of the repeats' ratios and the median times are printed),
and 10 epochs with the cache off. The cache computes the source's features once and keeps the
targets with them, so a cached epoch indexes tensors: it runs neither the source nor the data
pipeline (decoding, transforms, collate). Prints one JSON line: wall times, the speed-up at 10
epochs (the limit is about 10×, since one pass over the data remains), the cost of 100 cached
epochs relative to 10, and the final validation metrics with and without the cache (the same:
frozen blocks run in eval mode).

For scale it also prints what a cached epoch costs (the 100-epoch runs' extra time over their 90
more epochs) and what the same epoch costs as a hand-written PyTorch loop: the head's
``nn.Linear`` on tensors of the same shape, cross-entropy, backward and fused AdamW per batch —
no validation, no gradient clipping, no non-finite check, no checkpoint. That loop is about what
an engine can reach here: ``cost_100_vs_10_epochs_at_bare_loop_epochs`` is the ratio a cached
epoch as cheap as that loop would give. The two are compared in one more 100-epoch cached run,
untimed, in which one epoch of the loop runs after each of the engine's (the engine's epoch timed
from ``headstart_on_epoch_start`` to ``headstart_on_epoch_end``: training and validation, not the
occasional checkpoint): alternating, a machine whose speed drifts between minutes slows both
alike (``cached_epoch_ms_alternating`` and ``bare_loop_epoch_ms``, medians).

Each run is timed from ``headstart_on_run_start`` to ``headstart_on_run_end`` (training, the
per-epoch validation and checkpoints, the test split), in wall time and in the process's CPU time
(``time.process_time``). On a machine shared with other jobs the CPU-time ratios are the ones to
read: contention stretches wall time, and unevenly between runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from headstart import hookimpl, load_config
from headstart.experiment import run_experiment
from headstart.plugins import get_plugin_system

DEFAULT = Path(__file__).resolve().parent.parent / "examples" / "vision-efficientnet-digits.yaml"


class RunClock:
    """Wall and CPU time from the start to the end of a run's training (build excluded), and the
    shape of what the head trains on (examples, features, classes, batch size)."""

    def __init__(self) -> None:
        self.start = (0.0, 0.0)
        self.spent = (0.0, 0.0)
        self.shape = (0, 0, 0, 0)

    @hookimpl
    def headstart_on_run_start(self, run: Any) -> None:
        linear = next(m for m in run.model.head.modules() if isinstance(m, torch.nn.Linear))
        examples = len(run.task.dataset("train", train=False))
        self.shape = (examples, linear.in_features, linear.out_features, run.settings.batch_size)
        self.start = (time.perf_counter(), time.process_time())

    @hookimpl
    def headstart_on_run_end(self, run: Any, summary: Any) -> None:
        self.spent = (time.perf_counter() - self.start[0], time.process_time() - self.start[1])


class BareLoop:
    """A hand-written loop over tensors of a linear head's shape, which leaves the global random
    state as it found it (it may run between a run's epochs)."""

    def __init__(self, examples: int, dim: int, classes: int, batch_size: int) -> None:
        self.generator = torch.Generator().manual_seed(0)
        self.features = torch.randn(examples, dim, generator=self.generator)
        self.targets = torch.randint(0, classes, (examples,), generator=self.generator)
        with torch.random.fork_rng(devices=[]):
            self.head = torch.nn.Linear(dim, classes)
        self.optimizer = torch.optim.AdamW(self.head.parameters(), lr=1e-3, fused=True)
        self.batch_size = batch_size

    def epoch_s(self) -> float:
        """Wall time of one epoch."""
        started = time.perf_counter()
        for index in torch.randperm(len(self.targets), generator=self.generator).split(self.batch_size):
            torch.nn.functional.cross_entropy(self.head(self.features[index]), self.targets[index]).backward()
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
        return time.perf_counter() - started


class Alternate:
    """After each epoch of a run, one epoch of the hand-written loop; both timed."""

    def __init__(self) -> None:
        self.on = False
        self.loop: BareLoop | None = None
        self.started = 0.0
        self.engine: list[float] = []
        self.bare: list[float] = []

    @hookimpl
    def headstart_on_epoch_start(self, run: Any, epoch: int) -> None:
        self.started = time.perf_counter()

    @hookimpl
    def headstart_on_epoch_end(self, run: Any, epoch: int, metrics: Any) -> None:
        if not self.on:
            return
        self.engine.append(time.perf_counter() - self.started)
        self.loop = self.loop or BareLoop(*CLOCK.shape)
        self.bare.append(self.loop.epoch_s())


CLOCK = RunClock()
ALTERNATE = Alternate()


def _run(args: argparse.Namespace, tmp: str, name: str, epochs: int, cache: str, extra: list[str]) -> dict[str, Any]:
    config = load_config(
        args.experiment,
        [
            "policy={name: linear-probe, solver: sgd}",
            f"trainer.epochs={epochs}",
            f"trainer.feature_cache={cache}",
            "trainer.progress=false",
            *extra,
            *args.set,
        ],
    )
    _, summary = run_experiment(config, Path(tmp) / name)
    summary["wall_s"], summary["cpu_s"] = CLOCK.spent
    return summary


def _median(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    """The first summary, with the median wall and CPU times of all of them."""
    out = dict(summaries[0])
    for key in ("wall_s", "cpu_s"):
        out[key] = statistics.median(s[key] for s in summaries)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--experiment", type=Path, default=DEFAULT)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--set", action="append", default=[], help="extra config overrides")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each cached length (medians are printed)")
    args = parser.parse_args()
    get_plugin_system().register(CLOCK, "benchmark-clock")
    get_plugin_system().register(ALTERNATE, "benchmark-alternate")
    with tempfile.TemporaryDirectory() as tmp:
        # first-call costs (imports, allocator, weights from disk) counted for none of the runs
        _run(args, tmp, "warm-up", 1, "off", ["trainer.max_steps_per_epoch=2"])
        _run(args, tmp, "warm-up-cached", 2, "memory", ["trainer.max_steps_per_epoch=2"])  # its code paths too
        ons, longs = [], []
        for i in range(args.repeat):  # the cached runs, alternating: a machine's slow spell hits both
            ons.append(_run(args, tmp, f"on-{i}", args.epochs, "memory", []))
            longs.append(_run(args, tmp, f"long-{i}", args.epochs * 10, "memory", []))
        off = _run(args, tmp, "off", args.epochs, "off", [])
        ALTERNATE.on = True  # untimed: each engine epoch, then one of the loop
        _run(args, tmp, "alternating", args.epochs * 10, "memory", [])
    on, long = _median(ons), _median(longs)
    ratios = [b["wall_s"] / a["wall_s"] for a, b in zip(ons, longs, strict=True)]
    skip = 5  # the first epochs: warming up
    bare = statistics.median(ALTERNATE.bare[skip:])
    alternating = statistics.median(ALTERNATE.engine[skip:])
    extra = args.epochs * 9  # the 100-epoch run's epochs beyond the 10-epoch run's
    epoch = (long["wall_s"] - on["wall_s"]) / extra
    rest = on["wall_s"] - args.epochs * epoch  # the feature pass, the test split, setup
    metric = on["monitor"]
    print(
        json.dumps(
            {
                "benchmark": "cache_linear_probe",
                "experiment": args.experiment.name,
                "epochs": args.epochs,
                "wall_s_with_cache": round(on["wall_s"], 2),
                "wall_s_without_cache": round(off["wall_s"], 2),
                "speedup": round(off["wall_s"] / on["wall_s"], 2),
                f"wall_s_{args.epochs * 10}_epochs_with_cache": round(long["wall_s"], 2),
                f"cost_{args.epochs * 10}_vs_{args.epochs}_epochs": round(statistics.median(ratios), 2),
                f"cost_{args.epochs * 10}_vs_{args.epochs}_epochs_each_repeat": [round(r, 2) for r in ratios],
                "cpu_s_with_cache": round(on["cpu_s"], 2),
                "cpu_s_without_cache": round(off["cpu_s"], 2),
                "speedup_cpu": round(off["cpu_s"] / on["cpu_s"], 2),
                "cached_epoch_ms": round(1000 * epoch, 1),
                "bare_loop_epoch_ms": round(1000 * bare, 1),
                "cached_epoch_ms_alternating": round(1000 * alternating, 1),
                f"cost_{args.epochs * 10}_vs_{args.epochs}_epochs_at_bare_loop_epochs": round(
                    (rest + args.epochs * 10 * bare) / (rest + args.epochs * bare), 2
                ),
                f"cpu_s_{args.epochs * 10}_epochs_with_cache": round(long["cpu_s"], 2),
                f"cpu_cost_{args.epochs * 10}_vs_{args.epochs}_epochs": round(long["cpu_s"] / on["cpu_s"], 2),
                f"final_val_{metric}_with_cache": on["final"].get(f"val_{metric}"),
                f"final_val_{metric}_without_cache": off["final"].get(f"val_{metric}"),
                "machine": f"{platform.machine()} {torch.get_num_threads()} threads, torch {torch.__version__}",
                "device": on["device"],
                "load_average_1min": round(os.getloadavg()[0], 1),
            }
        )
    )


if __name__ == "__main__":
    main()
