"""``headstart run``: train an experiment into a run directory (``--nproc N``: under torchrun)."""

from __future__ import annotations

import argparse
import os
import sys

from ._options import add_experiment_arguments

HELP = "train an experiment into a run directory"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_experiment_arguments(parser, "experiment YAML file (optional with --resume)", optional=True)
    parser.add_argument("--run-dir", help="write the run here instead of a new directory under output_dir")
    parser.add_argument("--resume", metavar="RUN_DIR", help="continue this run from its last checkpoint")
    parser.add_argument(
        "--allow-change",
        action="append",
        default=[],
        metavar="KEY",
        help="with --resume: accept a changed value of KEY (trainer.epochs with a constant schedule, "
        "trainer.patience, trainer.min_delta, trainer.eval_batch_size, trainer.device, trainer.compile)",
    )
    parser.add_argument(
        "--nproc",
        type=int,
        default=1,
        metavar="N",
        help="train data-parallel on N processes (launches torchrun; GPUs if present, else CPU/gloo)",
    )


def _launch_torchrun(args: argparse.Namespace, argv: list[str]) -> int:
    """Re-run this command under torchrun with ``--nproc`` processes and one shared run directory."""
    import subprocess

    from ..experiment import load_config
    from ..experiment.run import new_run_dir

    rest = list(argv)
    i = rest.index("--nproc") if "--nproc" in rest else -1
    if i >= 0:
        del rest[i : i + 2]
    else:
        rest = [a for a in rest if not a.startswith("--nproc=")]
    if not args.run_dir and not args.resume:
        rest += ["--run-dir", str(new_run_dir(load_config(args.experiment, args.set)))]
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={args.nproc}",
        "-m",
        "headstart",
        *rest,
    ]
    print("launching: " + " ".join(cmd[1:]), file=sys.stderr)
    return subprocess.call(cmd, env=os.environ.copy())


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..engine import distributed as ddp
    from ..experiment import load_config, load_run_config, run_experiment
    from ..options import ConfigError

    if args.nproc > 1 and "WORLD_SIZE" not in os.environ:
        return _launch_torchrun(args, args.argv)

    run_dir = Path(args.run_dir) if args.run_dir else None
    if args.resume:
        run_dir = Path(args.resume)
        config = (
            load_run_config(run_dir, args.set) if args.experiment is None else load_config(args.experiment, args.set)
        )
    elif args.experiment is None:
        raise ConfigError("headstart run needs an experiment file (or --resume RUN_DIR)")
    else:
        config = load_config(args.experiment, args.set)
    if args.allow_change and not args.resume:
        raise ConfigError("--allow-change only applies to --resume RUN_DIR")
    run_dir, summary = run_experiment(config, run_dir, resume=bool(args.resume), allow_change=args.allow_change)
    ddp.shutdown()
    if not ddp.from_env().main:
        return 0
    best = summary["best"]
    print(f"run directory: {run_dir}")
    print(
        f"best {summary['monitor']} = {best['value']} at epoch {best['epoch']}; "
        f"trainable parameters {summary['trainable_params_max']:,} of {summary['total_params']:,}; "
        f"{summary['wall_time_s']:.1f} s"
    )
    if summary.get("test"):
        print("test: " + ", ".join(f"{k}={v:.4f}" for k, v in summary["test"].items()))
    return 0
