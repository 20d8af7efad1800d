"""A probe sweep in ``headstart compare`` vs one probe run: what sharing the feature cache buys.

A matrix of the vision example's linear probe (trained by epochs, ``solver: sgd``, so the learning
rate matters; ``--solver lbfgs`` for the default probe: one fit, which the cells share) over 6 learning rates ×
3 seeds — 18 runs — shares one feature cache (``<output_dir>/feature_cache``): the source's
features of each split are computed by the first cell and read by the other 17, and the cells of
one seed share one built source (``experiment/shared_sources.py``). One probe run and the whole
sweep are each timed ``--repeat`` times (default 3, alternating, each sweep in a fresh directory:
a machine's slow spell hits both). Prints one JSON line: the median wall and CPU time
(``time.process_time``) of one probe run and of the sweep, the median of the repeats' ratios
(and each ratio), what the sweep's first cell and its later cells cost (median), and how many
cells computed features. On a machine shared with other jobs, read the CPU-time ratio:
contention stretches wall time unevenly.
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

import torch
import yaml

from headstart import load_config
from headstart.engine import probe
from headstart.experiment import run_experiment
from headstart.experiment.matrix import load_matrix, run_matrix

DEFAULT = Path(__file__).resolve().parent.parent / "examples" / "vision-efficientnet-digits.yaml"
LRS = [1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1]


class _CellClock:
    """What ``run_matrix`` prints goes here: the time each cell starts (its ``[i/n]`` line)."""

    def __init__(self) -> None:
        self.starts: list[float] = []

    def __call__(self, line: str) -> None:
        if line.startswith("["):
            self.starts.append(time.perf_counter())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--experiment", type=Path, default=DEFAULT)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--image-size", type=int, help="the task's image_size (default: the experiment's own)")
    parser.add_argument(
        "--solver", choices=["sgd", "lbfgs"], default="sgd", help="the probe's solver (lbfgs: one fit, the rate unused)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="timings of each (medians are printed)")
    args = parser.parse_args()
    base = yaml.safe_load(args.experiment.read_text())
    sized = [f"task.image_size={args.image_size}"] if args.image_size else []
    if args.image_size:
        base["task"]["image_size"] = args.image_size
    policy = {"name": "linear-probe", "solver": args.solver}
    singles: list[tuple[float, float]] = []
    sweeps: list[tuple[float, float]] = []
    firsts: list[float] = []
    laters: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        warm = load_config(
            args.experiment, ["trainer.epochs=1", "trainer.max_steps_per_epoch=1", "trainer.progress=false", *sized]
        )
        run_experiment(warm, Path(tmp) / "warm-up")  # imports and first-call costs counted for neither
        for i in range(args.repeat):
            single = load_config(
                args.experiment,
                [f"policy={json.dumps(policy)}", f"trainer.epochs={args.epochs}", "trainer.progress=false", *sized],
            )
            probe.forget_shared_fits()  # each run fits its own probe
            started, cpu = time.perf_counter(), time.process_time()
            run_experiment(single, Path(tmp) / f"single-{i}")
            singles.append((time.perf_counter() - started, time.process_time() - cpu))
            matrix = {
                "name": "sweep",
                "output_dir": str(Path(tmp) / f"sweep-{i}"),
                "base": {"trainer": {**base["trainer"], "epochs": args.epochs, "progress": False}},
                "experiments": [{"name": "vision", "source": base["source"], "task": base["task"]}],
                "policies": [policy],
                "sweep": {"trainer.lr": LRS},
                "seeds": [0, 1, 2],
            }
            path = Path(tmp) / f"sweep-{i}.yaml"
            path.write_text(yaml.safe_dump(matrix))
            probe.forget_shared_fits()  # the one run's probe fit is not the sweep's to reuse: it fits once itself
            clock = _CellClock()
            started, cpu = time.perf_counter(), time.process_time()
            results = run_matrix(load_matrix(path), echo=clock)
            end = time.perf_counter()
            sweeps.append((end - started, time.process_time() - cpu))
            cells = [b - a for a, b in zip(clock.starts, [*clock.starts[1:], end], strict=True)]
            firsts.append(cells[0])
            laters.append(statistics.median(cells[1:]))
    computed = sum(1 for _, s in results if s["feature_cache"]["computed"])
    single_s, single_cpu = (statistics.median(t[k] for t in singles) for k in (0, 1))
    sweep_s, sweep_cpu = (statistics.median(t[k] for t in sweeps) for k in (0, 1))
    ratios = [sw[0] / one[0] for sw, one in zip(sweeps, singles, strict=True)]
    cpu_ratios = [sw[1] / one[1] for sw, one in zip(sweeps, singles, strict=True)]
    print(
        json.dumps(
            {
                "benchmark": "sweep_shared_cache",
                "experiment": args.experiment.name,
                "image_size": base["task"].get("image_size"),
                "solver": args.solver,
                "runs": len(results),
                "epochs": args.epochs,
                "repeats": args.repeat,
                "wall_s_one_probe_run": round(single_s, 2),
                "wall_s_sweep": round(sweep_s, 2),
                "sweep_vs_one_run": round(statistics.median(ratios), 2),
                "sweep_vs_one_run_each_repeat": [round(r, 2) for r in ratios],
                "cpu_s_one_probe_run": round(single_cpu, 2),
                "cpu_s_sweep": round(sweep_cpu, 2),
                "sweep_vs_one_run_cpu": round(statistics.median(cpu_ratios), 2),
                "wall_s_first_cell": round(statistics.median(firsts), 2),
                "wall_ms_later_cell_median": round(1000 * statistics.median(laters)),
                "runs_that_computed_features": computed,
                "machine": f"{platform.machine()} {torch.get_num_threads()} threads, torch {torch.__version__}",
                "load_average_1min": round(os.getloadavg()[0], 1),
            }
        )
    )


if __name__ == "__main__":
    main()
