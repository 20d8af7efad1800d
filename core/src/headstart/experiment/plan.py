"""``headstart plan``: the freeze plan of every phase as a table, without training."""

from __future__ import annotations

from typing import Any

from ..freeze.plan import FreezePlan
from .build import Built


def _epochs(built: Built, i: int) -> str:
    start = built.phases[i].start_epoch
    end = built.phases[i + 1].start_epoch if i + 1 < len(built.phases) else built.config.trainer.epochs
    return f"epochs {start}-{end - 1}" if end - start > 1 else f"epoch {start}"


def plan_rows(plan: FreezePlan) -> list[dict[str, Any]]:
    return [
        {
            "block": r.name,
            "params": r.numel,
            "trainable": r.trainable,
            "trainable_params": r.trainable_params,
            "trains": r.selects if r.trainable else None,
            "added_params": r.added,
            "lr": r.lr,
            "norm_mode": r.norm_mode.value,
        }
        for r in plan.rows
    ]


def plan_json(built: Built) -> list[dict[str, Any]]:
    return [
        {
            "phase": plan.phase.name,
            "start_epoch": plan.phase.start_epoch,
            "trainable_params": plan.trainable_numel,
            "frozen_prefix": [r.name for r in plan.rows[: plan.frozen_prefix]],
            "blocks": plan_rows(plan),
        }
        for plan in built.plans()
    ]


def format_plan(built: Built) -> str:
    """A plain-text table per phase: block, params (of which added by the policy), trainable
    parameters and which (all, bias, norm, added, patterns), lr, norm mode."""
    cfg = built.config
    total = sum(b.numel for b in built.freezer.blocks)
    lines = [
        f"source {built.source.name} · task {built.task.name} · policy {built.policy.name} · "
        f"{cfg.trainer.epochs} epoch(s) · {total:,} parameters",
    ]
    if built.lr is not None:
        rate = built.lr
        what = (
            "auto: the centre of its grid, chosen on val when the run starts" if rate.origin == "auto" else rate.origin
        )
        lines.append(f"lr {rate.lr:.3g} (head ×{rate.head_lr_scale:g}) from {what}: {rate.detail}")
    for i, plan in enumerate(built.plans()):
        lines.append("")
        lines.append(
            f"phase {i + 1}/{len(built.phases)} {plan.phase.name!r} ({_epochs(built, i)}): "
            f"{plan.trainable_numel:,} trainable parameters"
            + (
                f", blocks {plan.rows[0].name}..{plan.rows[plan.frozen_prefix - 1].name} run under no_grad"
                if plan.frozen_prefix
                else ""
            )
        )
        header = f"  {'block':<20} {'params':>12} {'added':>9} {'trainable':>12} {'trains':<12} {'lr':>9}  norm mode"
        lines.append(header)
        lines.append("  " + "-" * (len(header) - 2))
        for r in plan.rows:
            lr, trains = (f"{r.lr:.3g}", r.selects) if r.trainable else ("-", "-")
            added = f"{r.added:,}" if r.added else "-"
            lines.append(
                f"  {r.name:<20} {r.numel:>12,} {added:>9} {r.trainable_params:>12,} {trains:<12} {lr:>9}"
                f"  {r.norm_mode.value}"
            )
    return "\n".join(lines)
