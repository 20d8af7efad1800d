"""Every policy of the foundation on a vision source (plan + one short run), and BatchNorm done right."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from headstart import NormMode, build, format_plan, get_registry, parse_config, run_experiment
from headstart.cli import main

POLICY_OPTIONS: dict[str, dict[str, Any]] = {"top-k": {"k": 2}, "gradual-unfreeze": {"every": 1}, "lora": {"rank": 2}}


def bn_stats(model: torch.nn.Module, prefix: str) -> dict[str, torch.Tensor]:
    return {
        n: b.clone()
        for n, b in model.named_buffers()
        if n.startswith(prefix) and n.endswith(("running_mean", "running_var"))
    }


def changed(before: dict[str, torch.Tensor], after: dict[str, torch.Tensor]) -> list[str]:
    return [n for n in before if not torch.equal(before[n], after[n])]


@pytest.mark.parametrize("policy", sorted(get_registry().policies))
def test_every_policy_plans_and_runs_on_a_timm_source(
    policy: str, split_tree: Path, vision_config: Callable[..., dict[str, Any]]
) -> None:
    config = parse_config(
        vision_config(
            str(split_tree),
            policy={"name": policy, **POLICY_OPTIONS.get(policy, {})},
            trainer={"epochs": 2, "max_steps_per_epoch": 2},
        )
    )
    built = build(config)
    plan = format_plan(built)
    assert "stem" in plan and "stage4" in plan and "head" in plan
    run_dir, summary = run_experiment(config)
    assert summary["epochs_run"] == 2 and summary["test"] is not None
    assert 0.0 <= summary["test"]["accuracy"] <= 1.0 and "macro-f1" in summary["test"]
    assert summary["source"]["name"] == "timm:test_resnet"
    assert (run_dir / "summary.json").is_file()
    trainable_max = summary["trainable_params_max"]
    head_params = sum(p.numel() for n, p in built.model.named_parameters() if n.startswith("head."))
    if policy == "linear-probe":
        assert trainable_max == head_params
    else:
        assert trainable_max > head_params


def test_linear_probe_keeps_batchnorm_statistics_and_weights_fixed(
    split_tree: Path, vision_config: Callable[..., dict[str, Any]]
) -> None:
    config = parse_config(vision_config(str(split_tree), trainer={"epochs": 1, "max_steps_per_epoch": 3}))
    built = build(config)
    stats = bn_stats(built.model, "backbone.")
    weights = {n: p.clone() for n, p in built.model.named_parameters() if n.startswith("backbone.")}
    head = {n: p.clone() for n, p in built.model.named_parameters() if n.startswith("head.")}
    _train(built, config)
    assert stats and changed(stats, bn_stats(built.model, "backbone.")) == []
    assert all(torch.equal(p, weights[n]) for n, p in built.model.named_parameters() if n in weights)
    assert any(not torch.equal(p, head[n]) for n, p in built.model.named_parameters() if n in head)


@pytest.mark.parametrize(
    ("norm_mode", "stats_move", "affine_trains"),
    [(None, True, True), ("train", True, True), ("frozen-stats", False, True), ("frozen", False, False)],
)
def test_norm_mode_is_honoured_in_trainable_blocks(
    norm_mode: str | None,
    stats_move: bool,
    affine_trains: bool,
    split_tree: Path,
    vision_config: Callable[..., dict[str, Any]],
) -> None:
    policy: dict[str, Any] = {"name": "top-k", "k": 1}
    if norm_mode:
        policy["norm_mode"] = norm_mode
    config = parse_config(
        vision_config(str(split_tree), policy=policy, trainer={"epochs": 1, "max_steps_per_epoch": 3})
    )
    built = build(config)
    top, frozen = bn_stats(built.model, "backbone.layer4."), bn_stats(built.model, "backbone.layer1.")
    gammas = {n: p.clone() for n, p in built.model.named_parameters() if n.startswith("backbone.layer4.") and "bn" in n}
    _train(built, config)
    assert bool(changed(top, bn_stats(built.model, "backbone.layer4."))) is stats_move
    assert changed(frozen, bn_stats(built.model, "backbone.layer1.")) == []  # frozen block: never
    after = dict(built.model.named_parameters())
    assert any(not torch.equal(after[n], g) for n, g in gammas.items()) is affine_trains
    if norm_mode:
        assert built.freezer.plan is not None and built.freezer.plan.row("stage4").norm_mode is NormMode(norm_mode)


def test_frozen_prefix_runs_without_autograd_and_the_head_still_learns(
    split_tree: Path, vision_config: Callable[..., dict[str, Any]]
) -> None:
    config = parse_config(vision_config(str(split_tree), policy={"name": "top-k", "k": 1}))
    built = build(config)
    built.freezer.apply(built.phases[0], 0)
    built.model.train()
    seen: dict[str, bool] = {}
    for name in ("layer3", "layer4"):
        module = built.model.backbone.get_submodule(name)
        module.register_forward_hook(lambda m, a, out, name=name: seen.__setitem__(name, out.requires_grad))
    task = built.task
    batch = task.collate([task.dataset("train", train=True)[i] for i in range(4)])
    task.loss(built.model(batch["inputs"]), batch).backward()
    assert seen == {"layer3": False, "layer4": True}
    grads = {n for n, p in built.model.named_parameters() if p.grad is not None}
    assert grads and all(n.startswith(("backbone.layer4.", "head.")) for n in grads)
    assert any(n.startswith("head.") for n in grads)
    built.freezer.remove_hooks()


def test_scratch_reinitialises_the_backbone(
    split_tree: Path, vision_config: Callable[..., dict[str, Any]], tmp_path: Path
) -> None:
    torch.manual_seed(123)
    file = tmp_path / "trained.pth"
    torch.save(get_registry().source("timm:test_resnet", pretrained=False).backbone.state_dict(), file)
    source = {"name": "timm:test_resnet", "weights": str(file)}
    pretrained = build(parse_config(vision_config(str(split_tree), source=source, policy="full")))
    scratch = build(parse_config(vision_config(str(split_tree), source=source, policy="scratch")))
    a = dict(pretrained.model.backbone.named_parameters())
    b = dict(scratch.model.backbone.named_parameters())
    assert any(not torch.equal(a[n], b[n]) for n in a)
    assert scratch.source.describe()["weights"]["reinitialized"] == 0


def test_cli_plugins_plan_and_run(
    split_tree: Path, vision_config: Callable[..., dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plugins", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    vision = next(p for p in report["plugins"] if p["name"] == "vision")
    assert vision["distribution"] == "headstart-vision"
    assert vision["contributes"]["sources"] == ["timm", "torchvision"]
    assert vision["contributes"]["tasks"] == ["image-classification"]
    assert "efficientnet_lite0" in vision["contributes"]["local models"]
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(vision_config(str(split_tree), policy={"name": "lp-ft"})), encoding="utf-8")
    assert main(["plan", str(path)]) == 0
    out = capsys.readouterr().out
    assert "phase 1/2 'lp'" in out and "stage4" in out
    assert main(["run", str(path), "--set", "trainer.max_steps_per_epoch=1"]) == 0
    assert "test:" in capsys.readouterr().out


def _train(built: Any, config: Any) -> None:
    """Train ``built`` in place with the engine (the same loop ``headstart run`` uses)."""
    import torch

    from headstart.engine.loop import train

    run_dir = Path(config.output_dir) / "direct"
    run_dir.mkdir(parents=True, exist_ok=True)
    train(built.run_context(run_dir, device=torch.device("cpu")))
