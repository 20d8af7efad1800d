"""Freeze plans as a pure computation, and phase validation."""

from __future__ import annotations

import pytest

from headstart import HEAD, NormMode, Phase, TransferModel
from headstart.freeze import BlockMapError, Freezer, PolicyError, compute_plan, resolve_blocks, validate_phases
from headstart.interfaces import Block


def test_blocks_cover_every_parameter_exactly_once(model: TransferModel) -> None:
    infos = resolve_blocks(model, model.blocks)
    owned = [p for b in infos for p in b.params]
    assert sorted(owned) == sorted(n for n, _ in model.named_parameters())
    assert len(owned) == len(set(owned))
    assert [b.name for b in infos] == ["stem", "stage1", "stage2", "stage3", HEAD]
    assert infos[0].norm_modules == ("backbone.stem.1",)


def test_a_parameter_in_no_block_is_named(model: TransferModel) -> None:
    blocks = [b for b in model.blocks if b.name != "stage2"]
    with pytest.raises(BlockMapError, match=r"belong to no block: backbone\.stages\.1\.0\.weight"):
        resolve_blocks(model, blocks)


def test_a_member_that_does_not_exist_is_named(model: TransferModel) -> None:
    with pytest.raises(BlockMapError, match=r"'backbone\.stages\.9'"):
        resolve_blocks(model, [*model.blocks, Block("extra", ("backbone.stages.9",))])


def test_the_same_member_in_two_blocks_is_refused(model: TransferModel) -> None:
    with pytest.raises(BlockMapError, match="listed in block 'stem' and in block 'again'"):
        resolve_blocks(model, [*model.blocks, Block("again", ("backbone.stem",))])


def test_longest_prefix_wins(model: TransferModel) -> None:
    blocks = [Block("all", ("backbone",)), Block("bn", ("backbone.stem.1",)), Block(HEAD, (HEAD,))]
    infos = {b.name: b for b in resolve_blocks(model, blocks)}
    assert infos["bn"].params == ("backbone.stem.1.weight", "backbone.stem.1.bias")
    assert "backbone.stem.1.weight" not in infos["all"].params


def test_plan_rows_lr_and_prefix(model: TransferModel) -> None:
    infos = resolve_blocks(model, model.blocks)
    phase = Phase("p", 0, frozenset({"stage2", "stage3", HEAD}), {"stage2": 0.5})
    plan = compute_plan(phase, infos, 0.1)
    assert [(r.name, r.trainable, r.lr) for r in plan.rows] == [
        ("stem", False, 0.0),
        ("stage1", False, 0.0),
        ("stage2", True, 0.05),
        ("stage3", True, 0.1),
        (HEAD, True, 0.1),
    ]
    assert plan.frozen_prefix == 2
    assert plan.trainable_numel == sum(b.numel for b in infos if b.name in phase.trainable)
    assert [r.norm_mode for r in plan.rows[:2]] == [NormMode.FROZEN, NormMode.FROZEN]


def test_norm_mode_frozen_keeps_norm_affine_out_of_training(model: TransferModel) -> None:
    infos = resolve_blocks(model, model.blocks)
    plan = compute_plan(Phase("p", 0, frozenset({"stem", HEAD})), infos, 0.1, norm_mode=NormMode.FROZEN)
    assert "backbone.stem.0.weight" in plan.trainable_names
    assert "backbone.stem.1.weight" not in plan.trainable_names
    stats = compute_plan(Phase("p", 0, frozenset({"stem", HEAD})), infos, 0.1, norm_mode=NormMode.FROZEN_STATS)
    assert "backbone.stem.1.weight" in stats.trainable_names


def test_keep_frozen_overrides_the_policy(model: TransferModel) -> None:
    infos = resolve_blocks(model, model.blocks)
    plan = compute_plan(Phase("all", 0, frozenset(b.name for b in infos)), infos, 0.1, keep_frozen=["stem"])
    assert not plan.row("stem").trainable and plan.row("stage1").trainable
    assert plan.frozen_prefix == 1
    with pytest.raises(PolicyError, match="keep_frozen names unknown block"):
        compute_plan(Phase("all", 0, frozenset()), infos, 0.1, keep_frozen=["encoder"])


@pytest.mark.parametrize(
    ("phases", "message"),
    [
        ([], "produced no phases"),
        ([Phase("a", 1, frozenset({HEAD}))], "must start at epoch 0"),
        ([Phase("a", 0, frozenset({HEAD})), Phase("b", 0, frozenset({HEAD}))], "not after phase 'a'"),
        ([Phase("a", 0, frozenset({HEAD})), Phase("b", 5, frozenset({HEAD}))], "but the run has 3 epoch"),
        ([Phase("a", 0, frozenset({"decoder"}))], r"unknown block\(s\) decoder"),
    ],
)
def test_invalid_phases_are_explained(phases: list[Phase], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        validate_phases(phases, ["stem", HEAD], 3, "custom")


def test_group_layout_separates_decay_and_is_fixed(model: TransferModel) -> None:
    freezer = Freezer(model, lr=0.1, weight_decay=0.05)
    groups = {g["name"]: g for g in freezer.param_groups()}
    assert groups["stem/decay"]["weight_decay"] == 0.05
    assert groups["stem/no_decay"]["weight_decay"] == 0.0
    decay_ids = {id(p) for p in groups["stem/decay"]["params"]}
    assert decay_ids == {id(model.backbone.stem[0].weight)}  # biases and BatchNorm never decay
    total = sum(len(g["params"]) for g in groups.values())
    assert total == len(list(model.parameters()))


def test_head_lr_scale_multiplies_only_the_head(model: TransferModel) -> None:
    infos = resolve_blocks(model, model.blocks)
    plan = compute_plan(Phase("all", 0, frozenset(b.name for b in infos)), infos, 0.01, head_lr_scale=10.0)
    assert plan.row(HEAD).lr == pytest.approx(0.1)
    assert plan.row("stage3").lr == pytest.approx(0.01)
