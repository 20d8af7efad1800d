"""Applying plans: requires_grad, optimizer groups, BatchNorm modes, the no-grad prefix, state."""

from __future__ import annotations

import pytest
import torch

from headstart import HEAD, NormMode, Phase, TransferModel
from headstart.freeze import Freezer, FreezeStateError
from headstart.policies import GradualUnfreeze

from .conftest import make_model


def _batch(n: int = 16, features: int = 4) -> dict[str, torch.Tensor]:
    return {"x": torch.randn(n, features)}


def _step(model: TransferModel, optimizer: torch.optim.Optimizer) -> None:
    model.train()
    out = model(_batch())
    loss = torch.nn.functional.cross_entropy(out, torch.randint(0, 3, (16,)))
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def _applied(
    model: TransferModel,
    trainable: set[str] | None = None,
    optimizer_class: type[torch.optim.Optimizer] = torch.optim.SGD,
    norm_mode: NormMode | None = None,
) -> tuple[Freezer, torch.optim.Optimizer]:
    """A freezer on ``model`` with one phase applied (``trainable`` blocks; every block when
    ``None``) and its optimizer, each group at the learning rate the phase gives it."""
    freezer = Freezer(model, lr=0.1, norm_mode=norm_mode)
    optimizer = optimizer_class(freezer.param_groups(), lr=0.0)
    blocks = freezer.block_names if trainable is None else trainable
    freezer.apply(Phase("phase", 0, frozenset(blocks)), 0, optimizer)
    for g in optimizer.param_groups:
        g["lr"] = g["base_lr"]
    return freezer, optimizer


def test_requires_grad_and_group_lrs_follow_each_phase(model: TransferModel) -> None:
    freezer = Freezer(model, lr=0.1)
    optimizer = torch.optim.SGD(freezer.param_groups(), lr=0.0)
    phases = GradualUnfreeze(every=1, decay=0.5).phases(freezer.block_names, 5)
    for index, phase in enumerate(phases):
        freezer.apply(phase, index, optimizer)
        for info in freezer.blocks:
            trainable = info.name in phase.trainable
            params = dict(model.named_parameters())
            assert all(params[p].requires_grad == trainable for p in info.params), (phase.name, info.name)
        lrs = {g["name"].split("/")[0]: g["base_lr"] for g in optimizer.param_groups}
        expected = {b: (0.1 * phase.lr_scale.get(b, 1.0) if b in phase.trainable else 0.0) for b in freezer.block_names}
        assert lrs == pytest.approx(expected)


def test_frozen_blocks_do_not_change_and_trainable_ones_do(model: TransferModel) -> None:
    _, optimizer = _applied(model, {"stage3", HEAD}, torch.optim.AdamW)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    _step(model, optimizer)
    for name, p in model.named_parameters():
        changed = not torch.equal(before[name], p)
        assert changed == name.startswith(("backbone.stages.2", "head")), name


def test_frozen_batchnorm_keeps_running_stats_through_train_and_an_epoch(model: TransferModel) -> None:
    _, optimizer = _applied(model, {HEAD})
    bn = model.backbone.stem[1]
    mean, var = bn.running_mean.clone(), bn.running_var.clone()
    model.train()
    assert model.training and not bn.training  # eval stays locked after model.train()
    for _ in range(5):
        _step(model, optimizer)
    assert torch.equal(bn.running_mean, mean) and torch.equal(bn.running_var, var)
    assert int(bn.num_batches_tracked) == 0


def test_trainable_block_batchnorm_updates_in_train_mode(model: TransferModel) -> None:
    _, optimizer = _applied(model)
    bn = model.backbone.stem[1]
    mean = bn.running_mean.clone()
    _step(model, optimizer)
    assert bn.training and not torch.equal(bn.running_mean, mean)


def test_frozen_stats_mode_fixes_statistics_but_trains_affine(model: TransferModel) -> None:
    _, optimizer = _applied(model, norm_mode=NormMode.FROZEN_STATS)
    bn = model.backbone.stem[1]
    mean, weight = bn.running_mean.clone(), bn.weight.detach().clone()
    _step(model, optimizer)
    assert not bn.training
    assert torch.equal(bn.running_mean, mean)
    assert not torch.equal(bn.weight, weight)


def test_frozen_prefix_runs_without_autograd_and_stores_no_gradients() -> None:
    model = make_model()
    grad_mode: dict[str, bool] = {}
    for name, module in [
        ("stem", model.backbone.stem),
        ("stage1", model.backbone.stages[0]),
        ("stage2", model.backbone.stages[1]),
        ("stage3", model.backbone.stages[2]),
    ]:
        module.register_forward_hook(lambda m, a, o, name=name: grad_mode.__setitem__(name, torch.is_grad_enabled()))
    freezer = Freezer(model, lr=0.1)
    optimizer = torch.optim.SGD(freezer.param_groups(), lr=0.0)
    plan = freezer.apply(Phase("top", 0, frozenset({"stage2", "stage3", HEAD})), 0, optimizer)
    assert plan.frozen_prefix == 2
    model.train()
    out = model(_batch())
    assert grad_mode == {"stem": False, "stage1": False, "stage2": True, "stage3": True}
    out.sum().backward()
    assert torch.is_grad_enabled()  # restored after the prefix
    for name, p in model.named_parameters():
        assert (p.grad is None) == name.startswith(("backbone.stem", "backbone.stages.0")), name


def test_phase_change_keeps_optimizer_state_of_blocks_that_stay_trainable(model: TransferModel) -> None:
    freezer, optimizer = _applied(model, {HEAD}, torch.optim.AdamW)
    _step(model, optimizer)
    head_state = optimizer.state[model.head.fc.weight]["exp_avg"].clone()
    freezer.apply(Phase("ft", 1, frozenset(freezer.block_names)), 1, optimizer)
    assert torch.equal(optimizer.state[model.head.fc.weight]["exp_avg"], head_state)
    assert model.backbone.stem[0].weight not in optimizer.state  # never stepped while frozen


def test_state_is_kept_by_parameter_name_and_checked(model: TransferModel) -> None:
    freezer = Freezer(model, lr=0.1)
    freezer.apply(Phase("lp", 0, frozenset({HEAD})), 0)
    state = freezer.state_dict()
    assert state["phase_name"] == "lp" and state["trainable"] == ["head.fc.bias", "head.fc.weight"]
    Freezer(make_model(), lr=0.1).check_state(state)  # same architecture: accepted
    with pytest.raises(FreezeStateError, match="different source or block map"):
        Freezer(make_model(depth=2), lr=0.1).check_state(state)


def test_frozen_blocks_run_in_eval_mode_but_trainable_children_do_not() -> None:
    model = make_model()
    freezer = Freezer(model, lr=0.1)
    freezer.apply(Phase("top", 0, frozenset({"stage3", HEAD})), 0)
    model.train()
    frozen_dropout, trainable_dropout = model.backbone.stages[0][3], model.backbone.stages[2][3]
    assert not frozen_dropout.training  # a frozen block is a fixed function: no dropout noise
    assert trainable_dropout.training and model.head.training
    assert model.backbone.training  # the lock is per module, not recursive from the root


def test_a_block_map_out_of_forward_order_fails_loudly() -> None:
    from headstart.interfaces import Block

    model = make_model()
    # stages.2 runs last in forward, but this map puts it inside the frozen prefix, before stages.1
    model.source.blocks = [
        Block("stem", ("stem",)),
        Block("stage1", ("stages.0",)),
        Block("late", ("stages.2",)),
        Block("stage2", ("stages.1",)),
    ]
    freezer = Freezer(model, lr=0.1)
    freezer.apply(Phase("top", 0, frozenset({"stage2", HEAD})), 0)
    with pytest.raises(RuntimeError, match="block map must list blocks and members in the order"):
        model(_batch())
    assert torch.is_grad_enabled()
