"""Learning rates that fit the policy and the source: defaults, the config, and ``trainer.lr: auto``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from headstart import parse_config
from headstart.experiment import build, format_plan, run_experiment
from headstart.experiment.build import optimizer_steps
from headstart.experiment.lr import AUTO_FACTORS, CORE_SOURCE_LR, MAX_STEP_BOOST, RECIPE_STEPS, resolve_lr, step_boost
from headstart.policies import LPFT, BitFit, Filtered, Full, GradualUnfreeze, LinearProbe, Lora, NormTune, Scratch
from headstart.policies.base import PEFT_MAX_LR

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
        (Lora(), 3e-4, 1.0),  # adapters and head at 10x the source's rate, as LoRA is usually run
        (BitFit(), 3e-4, 1.0),
        (NormTune(), 3e-4, 1.0),
    ],
)
def test_each_policy_has_its_default_for_the_source_family(policy: Any, lr: float, head_scale: float) -> None:
    rate = resolve_lr(None, {"name": policy.name}, policy, _Source())  # type: ignore[arg-type]
    assert rate.origin == "default" and "3e-05" in rate.detail
    assert rate.lr == pytest.approx(lr) and rate.head_lr_scale == head_scale


def test_the_detail_shows_the_source_rate_and_what_the_policy_makes_of_it() -> None:
    """``headstart plan`` prints ``detail``: the arithmetic from the family rate to the rate in force."""
    full = resolve_lr(None, {"name": "full"}, Full(), _Source(), steps=RECIPE_STEPS // 4)  # type: ignore[arg-type]
    assert full.detail == "policy full (hf:bert-like: 3e-05 × 2 for 250 steps = 6e-05)"
    lpft = resolve_lr(None, {"name": "lp-ft"}, LPFT(ft_lr_scale=0.1), _Source(), steps=RECIPE_STEPS // 4)  # type: ignore[arg-type]
    assert lpft.detail == "policy lp-ft (hf:bert-like: 3e-05 × 2 for 250 steps = 6e-05; lp-ft makes it 0.0006)"
    probe = resolve_lr(None, {"name": "linear-probe"}, LinearProbe(), _Source())  # type: ignore[arg-type]
    assert probe.detail == "policy linear-probe (hf:bert-like: 3e-05; linear-probe makes it 0.005)"


@pytest.mark.parametrize("policy", [Lora(), BitFit(), NormTune()])
def test_parameter_efficient_policies_stop_at_their_largest_default(policy: Any) -> None:
    """A short run's step boost and the 10x do not compound past ``PEFT_MAX_LR``; an explicit
    ``trainer.lr`` is the rate of what trains (times the policy's ``lr_scale``), as in PEFT."""
    fast = resolve_lr(None, {"name": policy.name}, policy, _Source(default_lr=3e-3), steps=10)  # type: ignore[arg-type]
    assert fast.lr == PEFT_MAX_LR and fast.head_lr_scale == 1.0 and f"{policy.name} makes it 0.01" in fast.detail
    slow = resolve_lr(None, {"name": policy.name}, policy, _Source(), steps=RECIPE_STEPS)  # type: ignore[arg-type]
    assert slow.lr == pytest.approx(3e-4)
    given = resolve_lr(2e-4, {"name": policy.name}, policy, _Source(), steps=10)  # type: ignore[arg-type]
    assert (given.lr, given.head_lr_scale, given.origin) == (2e-4, 1.0, "config")


@pytest.mark.parametrize(
    ("policy", "lr", "head_scale"),
    [
        (Filtered(schedule="gradual-unfreeze", params=["bias"]), 3e-4, 1.0),  # biases: bitfit's rate
        (Filtered(schedule="full", params=["norm", "bias"]), 3e-4, 1.0),
        (Filtered(schedule="full", params=["*.attention.*"]), 3e-5, 10.0),  # whole layers: full's
        (Filtered(schedule="lp-ft", params=["bias"], options={"ft_lr_scale": 0.2}), 1.5e-4, 1.0),  # lp-ft's own
        (Filtered(schedule="linear-probe", params=["bias"]), 5e-3, 1.0),
    ],
)
def test_filtered_takes_its_schedules_default_or_the_parameter_efficient_one(
    policy: Any, lr: float, head_scale: float
) -> None:
    rate = resolve_lr(None, {"name": "filtered"}, policy, _Source())  # type: ignore[arg-type]
    assert rate.lr == pytest.approx(lr) and rate.head_lr_scale == head_scale


def test_the_config_wins_and_head_lr_scale_still_applies() -> None:
    rate = resolve_lr(0.02, {"name": "full"}, Full(), _Source(), steps=10)  # type: ignore[arg-type]
    assert (rate.lr, rate.head_lr_scale, rate.origin) == (0.02, 1.0, "config")  # no step boost either
    rate = resolve_lr(None, {"name": "full", "head_lr_scale": 3}, Full(), _Source(default_lr=None))  # type: ignore[arg-type]
    assert (rate.lr, rate.head_lr_scale) == (CORE_SOURCE_LR, 3.0) and "no source default" in rate.detail


@pytest.mark.parametrize(
    ("steps", "boost"),
    [(None, 1.0), (RECIPE_STEPS * 4, 1.0), (RECIPE_STEPS, 1.0), (RECIPE_STEPS // 4, 2.0), (1, MAX_STEP_BOOST)],
)
def test_short_runs_scale_the_family_rate_by_the_square_root_of_the_missing_steps(steps: Any, boost: float) -> None:
    assert step_boost(steps) == pytest.approx(boost)
    full = resolve_lr(None, {"name": "full"}, Full(), _Source(), steps=steps)  # type: ignore[arg-type]
    assert full.lr == pytest.approx(3e-5 * boost) and full.head_lr_scale == 10.0
    assert ("for " in full.detail) == (boost > 1)
    scratch = resolve_lr(None, {"name": "scratch"}, Scratch(), _Source(), steps=steps)  # type: ignore[arg-type]
    assert scratch.lr == pytest.approx(3e-4 * boost)
    probe = resolve_lr(None, {"name": "linear-probe"}, LinearProbe(), _Source(), steps=steps)  # type: ignore[arg-type]
    assert probe.lr == 5e-3  # a head's rate does not depend on the source or the run's length
    fast = resolve_lr(None, {"name": "scratch"}, Scratch(), _Source(default_lr=3e-3), steps=steps)  # type: ignore[arg-type]
    assert fast.lr == pytest.approx(min(3e-2 * boost, 3e-3))  # scratch stops at 3e-3


def test_plan_and_build_use_the_default(tmp_path: Path) -> None:
    config = parse_config(toy_config(policy={"name": "full"}, trainer={"epochs": 2}))
    built = build(config)
    steps = optimizer_steps(config, built.task)
    examples = len(built.task.dataset("train", train=False))
    assert steps == 2 * -(-examples // config.trainer.batch_size)
    assert built.lr is not None and built.lr.origin == "default"
    boost = step_boost(steps)
    assert boost > 1  # a toy run is far shorter than a recipe
    head = built.plans()[0].row("head")
    assert head.lr == pytest.approx(CORE_SOURCE_LR * boost * 10)
    assert f"lr {CORE_SOURCE_LR * boost:.3g} (head ×10) from default" in format_plan(built)
    assert f"× {boost:.3g} for {steps} steps" in format_plan(built)
    capped = parse_config(toy_config(policy={"name": "full"}, trainer={"epochs": 3, "max_steps_per_epoch": 1}))
    assert optimizer_steps(capped, built.task) == 3


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


class _Task:
    def __init__(self, splits: tuple[str, ...], data: object) -> None:
        self._splits, self.data = splits, data

    def splits(self) -> tuple[str, ...]:
        return self._splits

    def dataset(self, split: str, train: bool) -> object:
        if isinstance(self.data, Exception):
            raise self.data
        return self.data


def test_steps_are_unknown_only_without_a_sized_train_split() -> None:
    config = parse_config(toy_config(trainer={"epochs": 2, "batch_size": 4}))
    assert optimizer_steps(config, _Task(("train", "val"), list(range(10)))) == 2 * 3  # type: ignore[arg-type]
    assert optimizer_steps(config, _Task(("test",), list(range(10)))) is None  # type: ignore[arg-type]
    assert optimizer_steps(config, _Task(("train",), iter(range(10)))) is None  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"labels\.csv:3"):  # a real error in the data is not swallowed
        optimizer_steps(config, _Task(("train",), ValueError("labels.csv:3: no label")))  # type: ignore[arg-type]
