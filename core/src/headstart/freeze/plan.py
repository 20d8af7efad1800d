"""Freezing as a pure computation: (phase, blocks, learning rate) -> a freeze plan.

Nothing here touches a model. :mod:`headstart.freeze.apply` is the one place that applies a plan.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from ..interfaces import HEAD, NormMode, Phase
from .blockmap import BlockInfo
from .select import ALL, label, select, selector_error, unmatched


class PolicyError(ValueError):
    """A policy produced phases that do not fit the block map or the epoch count."""


@dataclass(frozen=True)
class BlockPlan:
    """One row of ``headstart plan``: a block in a phase of ``numel`` parameters. ``trainable`` is
    true when any of its parameters trains (``trainable_params`` of them, chosen by ``selects``); ``added`` counts the
    parameters the policy's ``prepare`` added to the block."""

    name: str
    numel: int
    trainable: bool
    lr: float
    norm_mode: NormMode
    trainable_params: int = 0
    selects: str = ALL
    added: int = 0


@dataclass(frozen=True)
class GroupSpec:
    """An optimizer parameter group, identified by name so it survives checkpoints."""

    name: str
    block: str
    decay: bool
    params: tuple[str, ...]


@dataclass(frozen=True)
class FreezePlan:
    """Everything the engine needs to put a model into one phase."""

    phase: Phase
    rows: tuple[BlockPlan, ...]
    trainable_names: frozenset[str]
    group_lr: dict[str, float]
    frozen_prefix: int

    @property
    def trainable_numel(self) -> int:
        return sum(r.trainable_params for r in self.rows)

    def row(self, block: str) -> BlockPlan:
        return next(r for r in self.rows if r.name == block)


def validate_phases(phases: Sequence[Phase], blocks: Sequence[str], epochs: int, policy: str) -> None:
    """Raise :class:`PolicyError` unless ``phases`` are a valid schedule over ``blocks``."""
    if not phases:
        raise PolicyError(f"policy {policy!r} produced no phases")
    if phases[0].start_epoch != 0:
        raise PolicyError(f"policy {policy!r}: the first phase must start at epoch 0, not {phases[0].start_epoch}")
    for a, b in pairwise(phases):
        if b.start_epoch <= a.start_epoch:
            raise PolicyError(
                f"policy {policy!r}: phase {b.name!r} starts at epoch {b.start_epoch}, "
                f"not after phase {a.name!r} (epoch {a.start_epoch})"
            )
    if phases[-1].start_epoch >= max(epochs, 1):
        raise PolicyError(
            f"policy {policy!r}: phase {phases[-1].name!r} starts at epoch {phases[-1].start_epoch} "
            f"but the run has {epochs} epoch(s)"
        )
    known = set(blocks)
    for ph in phases:
        unknown = sorted(set(ph.trainable) - known) + sorted(set(ph.lr_scale) - known)
        if unknown:
            raise PolicyError(
                f"policy {policy!r}, phase {ph.name!r}: unknown block(s) {', '.join(unknown)}; "
                f"blocks are {', '.join(blocks)}"
            )
        bad = {b: s for b, s in ph.lr_scale.items() if not s >= 0}
        if bad:
            raise PolicyError(f"policy {policy!r}, phase {ph.name!r}: negative lr_scale {bad}")
        for block, selectors in ph.params.items():
            where = f"policy {policy!r}, phase {ph.name!r}, params[{block!r}]"
            if block not in known:
                raise PolicyError(f"{where}: unknown block; blocks are {', '.join(blocks)}")
            if block not in ph.trainable:
                raise PolicyError(f"{where}: the block does not train in this phase (add it to trainable)")
            if not isinstance(selectors, tuple) or not selectors:
                raise PolicyError(f"{where}: give a non-empty tuple of selectors, e.g. ('bias',), not {selectors!r}")
            for sel in selectors:
                if (why := selector_error(sel)) is not None:
                    raise PolicyError(f"{where}: {why}")


def phase_at(phases: Sequence[Phase], epoch: int) -> int:
    """Index of the phase in force at ``epoch``."""
    idx = 0
    for i, ph in enumerate(phases):
        if ph.start_epoch <= epoch:
            idx = i
    return idx


def group_specs(blocks: Sequence[BlockInfo], ndims: dict[str, int]) -> list[GroupSpec]:
    """The fixed optimizer group layout: per block, weights that decay, then those that don't.

    Biases, normalisation parameters and other 1-D parameters never decay. The layout does not
    depend on the phase, so the optimizer (and its state) is built once and survives unfreezing.
    """
    specs = []
    for b in blocks:
        norm = set(b.norm_params)
        decay = tuple(p for p in b.params if p not in norm and ndims[p] > 1)
        no_decay = tuple(p for p in b.params if p in norm or ndims[p] <= 1)
        if decay:
            specs.append(GroupSpec(f"{b.name}/decay", b.name, True, decay))
        if no_decay:
            specs.append(GroupSpec(f"{b.name}/no_decay", b.name, False, no_decay))
    return specs


def compute_plan(
    phase: Phase,
    blocks: Sequence[BlockInfo],
    lr: float,
    *,
    norm_mode: NormMode | None = None,
    keep_frozen: Sequence[str] = (),
    head_lr_scale: float = 1.0,
    added: frozenset[str] = frozenset(),
) -> FreezePlan:
    """Turn one phase into a plan. ``norm_mode`` overrides the phase's; ``keep_frozen`` names
    blocks that never train whatever the policy says (e.g. wav2vec 2.0's feature encoder);
    ``head_lr_scale`` multiplies the new head's learning rate (a fresh head often wants more);
    ``added`` names the parameters the policy's ``prepare`` added (selected with ``"added"``).

    The frozen prefix (run under ``no_grad``) ends at the first block in which anything trains:
    a block whose biases alone train still needs its activations for backward."""
    names = [b.name for b in blocks]
    unknown = sorted(set(keep_frozen) - set(names))
    if unknown:
        raise PolicyError(f"keep_frozen names unknown block(s) {', '.join(unknown)}; blocks are {', '.join(names)}")
    mode = NormMode(norm_mode) if norm_mode is not None else phase.norm_mode
    rows: list[BlockPlan] = []
    trainable: set[str] = set()
    group_lr: dict[str, float] = {}
    used: dict[str, list[BlockInfo]] = {}
    for b in blocks:
        on = b.name in phase.trainable and b.name not in keep_frozen
        selectors = tuple(phase.params.get(b.name, (ALL,)))
        chosen: list[str] = []
        if on:
            for sel in selectors:
                used.setdefault(sel, []).append(b)
            frozen_norm = set(b.norm_params) if mode is NormMode.FROZEN else set()
            chosen = [p for p in select(b, selectors, added) if p not in frozen_norm]
        size = dict(zip(b.params, b.sizes, strict=True))
        block_lr = lr * phase.lr_scale.get(b.name, 1.0) * (head_lr_scale if b.name == HEAD else 1.0) if on else 0.0
        rows.append(
            BlockPlan(
                b.name,
                b.numel,
                bool(chosen),
                block_lr,
                mode if chosen else NormMode.FROZEN,
                sum(size[p] for p in chosen),
                label(selectors),
                sum(size[p] for p in b.params if p in added),
            )
        )
        trainable.update(chosen)
        group_lr[f"{b.name}/decay"] = block_lr
        group_lr[f"{b.name}/no_decay"] = block_lr
    missing = [sel for sel, bs in used.items() if sel != ALL and unmatched([sel], bs, added)]
    if missing:
        raise PolicyError(
            f"phase {phase.name!r}: selector(s) {', '.join(map(repr, missing))} match no parameter of the "
            f"block(s) they are given for ({', '.join(b.name for b in used[missing[0]])})"
        )
    prefix = 0
    for r in rows:
        if r.trainable or r.name == HEAD:
            break
        prefix += 1
    return FreezePlan(phase, tuple(rows), frozenset(trainable), group_lr, prefix)
