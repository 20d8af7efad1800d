"""Learning rates that fit the policy and the source: defaults, the config, and ``trainer.lr: auto``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from headstart import parse_config
from headstart.experiment import build, format_plan, run_experiment
from headstart.experiment.lr import AUTO_FACTORS, CORE_SOURCE_LR, resolve_lr
from headstart.policies import LPFT, Full, GradualUnfreeze, LinearProbe, Scratch

from ..conftest import toy_config


@dataclass
class _Source:
    name: str = "hf:bert-like"
    default_lr: float | None = 3e-5


@pytest.mark.parametrize(
    ("policy", "lr", "head_scale"),
    [
        (Full(), 3e-5, 10.0),  # the source's rate, a new head 10x faster
        (GradualUnfreeze(), 3e-5, 10.0),
        (LinearProbe(), 5e-3, 1.0),  # a head's rate, whatever the source
        (LPFT(ft_lr_scale=0.1), 3e-4, 1.0),  # fine-tunes at 3e-4 * 0.1 = the source's rate
        (Scratch(), 3e-4, 1.0),
    ],
)
def test_each_policy_has_its_default_for_the_source_family(policy: Any, lr: float, head_scale: float) -> None:
    rate = resolve_lr(None, {"name": policy.name}, policy, _Source())  # type: ignore[arg-type]
    assert rate.origin == "default" and "3e-05" in rate.detail
    assert rate.lr == pytest.approx(lr) and rate.head_lr_scale == head_scale


def test_the_config_wins_and_head_lr_scale_still_applies() -> None:
    rate = resolve_lr(0.02, {"name": "full"}, Full(), _Source())  # type: ignore[arg-type]
    assert (rate.lr, rate.head_lr_scale, rate.origin) == (0.02, 1.0, "config")
    rate = resolve_lr(None, {"name": "full", "head_lr_scale": 3}, Full(), _Source(default_lr=None))  # type: ignore[arg-type]
    assert (rate.lr, rate.head_lr_scale) == (CORE_SOURCE_LR, 3.0) and "no source default" in rate.detail


def test_plan_and_build_use_the_default(tmp_path: Path) -> None:
    built = build(parse_config(toy_config(policy={"name": "full"}, trainer={"epochs": 2})))
    assert built.lr is not None and built.lr.origin == "default"
    head = built.plans()[0].row("head")
    assert head.lr == pytest.approx(CORE_SOURCE_LR * 10)
    assert f"lr {CORE_SOURCE_LR:.3g} (head ×10) from default" in format_plan(built)


def test_lr_auto_picks_the_best_trial_on_val(tmp_path: Path) -> None:
    config = toy_config(
        policy={"name": "linear-probe", "solver": "sgd"},
        trainer={"epochs": 4, "batch_size": 8, "lr": "auto", "progress": False, "monitor": "loss"},
    )
    run_dir, summary = run_experiment(parse_config(config), tmp_path / "run")
    rate = summary["lr"]
    assert rate["origin"] == "auto" and len(rate["trials"]) == len(AUTO_FACTORS)
    best = min(rate["trials"], key=lambda k: rate["trials"][k])  # val loss: lower is better
    assert f"{rate['lr']:.3g}" == best
    assert len(list((run_dir / "lr-trials").iterdir())) == len(AUTO_FACTORS)
    trial = parse_config(toy_config(trainer={"lr": "auto"}))
    assert trial.trainer.lr == "auto"
