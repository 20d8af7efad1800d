"""Phases that select parameters inside blocks: plans, requires_grad, the no-grad prefix, errors."""

from __future__ import annotations

import pytest
import torch

from headstart import HEAD, NormMode, Phase, TransferModel
from headstart.freeze import Freezer, PolicyError, validate_phases

from .conftest import make_model


def _phase(params: dict[str, tuple[str, ...]], trainable: set[str] | None = None) -> Phase:
    blocks = trainable or {"stem", "stage1", "stage2", "stage3", HEAD}
    return Phase("p", 0, frozenset(blocks), params=params)


def test_bias_selection_trains_only_biases_and_counts_them(model: TransferModel) -> None:
    freezer = Freezer(model, lr=0.1)
    plan = freezer.apply(_phase({b: ("bias",) for b in ("stem", "stage1", "stage2", "stage3")}), 0)
    for name, p in model.named_parameters():
        assert p.requires_grad == (name.endswith(".bias") or name.startswith("head.")), name
    expected = sum(p.numel() for n, p in model.named_parameters() if p.requires_grad)
    assert plan.trainable_numel == expected
    stem = plan.row("stem")
    assert stem.trainable and stem.selects == "bias" and stem.trainable_params == 8 + 8  # Linear + BatchNorm


def test_norm_and_pattern_selectors(model: TransferModel) -> None:
    freezer = Freezer(model, lr=0.1)
    freezer.apply(_phase({"stem": ("norm",), "stage1": ("*.stages.0.0.weight",)}, {"stem", "stage1", HEAD}), 0)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad and not n.startswith("head.")}
    assert trainable == {"backbone.stem.1.weight", "backbone.stem.1.bias", "backbone.stages.0.0.weight"}


def test_frozen_norm_mode_removes_norm_parameters_from_a_selection(model: TransferModel) -> None:
    freezer = Freezer(model, lr=0.1, norm_mode=NormMode.FROZEN)
    plan = freezer.apply(_phase({"stem": ("bias",)}, {"stem", HEAD}), 0)
    assert plan.row("stem").trainable_params == 8  # the Linear's bias; BatchNorm's stays frozen
    assert not model.backbone.stem[0].weight.requires_grad and model.backbone.stem[0].bias.requires_grad


def test_the_no_grad_prefix_ends_at_the_first_block_with_anything_trainable(model: TransferModel) -> None:
    freezer = Freezer(model, lr=0.1)
    plan = freezer.apply(_phase({"stage2": ("bias",)}, {"stage2", HEAD}), 0)
    assert plan.frozen_prefix == 2  # stem, stage1
    out = model({"x": torch.randn(4, 4)})
    out.sum().backward()
    assert model.backbone.stages[1][0].bias.grad is not None  # stage2's bias got its gradient
    assert model.backbone.stages[1][0].weight.grad is None


def test_a_block_where_nothing_is_selected_is_frozen_and_in_eval(model: TransferModel) -> None:
    freezer = Freezer(model, lr=0.1, norm_mode=NormMode.FROZEN)  # frozen norms leave "norm" nothing to train
    plan = freezer.apply(_phase({"stem": ("norm",), "stage1": ("bias",)}, {"stem", "stage1", HEAD}), 0)
    stem = plan.row("stem")
    assert not stem.trainable and stem.trainable_params == 0 and stem.norm_mode is NormMode.FROZEN
    assert plan.frozen_prefix == 1
    model.train()
    assert not model.backbone.stem[0].training and model.backbone.stages[0][0].training


def test_group_layout_does_not_depend_on_the_selection(model: TransferModel) -> None:
    a = Freezer(model, lr=0.1)
    layout = [(g["name"], len(g["params"])) for g in a.param_groups()]
    a.apply(_phase({"stem": ("bias",)}), 0)
    assert [(g["name"], len(g["params"])) for g in Freezer(model, lr=0.1).param_groups()] == layout


def test_a_selector_that_matches_nothing_anywhere_is_an_error(model: TransferModel) -> None:
    freezer = Freezer(model, lr=0.1)
    with pytest.raises(PolicyError, match=r"selector\(s\) '\*\.lora_\*' match no parameter"):
        freezer.compute(_phase({"stem": ("*.lora_*",)}, {"stem", HEAD}))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"stage9": ("bias",)}, "unknown block"),
        ({"stage1": ("bias",)}, "does not train in this phase"),
        ({"stem": ("biases",)}, "unknown selector 'biases'"),
        ({"stem": ()}, "non-empty tuple"),
        ({"stem": "bias"}, "non-empty tuple"),
    ],
)
def test_bad_selections_are_refused_naming_what_is_wrong(params: dict[str, object], message: str) -> None:
    phase = Phase("p", 0, frozenset({"stem", HEAD}), params=params)  # type: ignore[arg-type]
    with pytest.raises(PolicyError, match=message):
        validate_phases([phase], ["stem", "stage1", HEAD], 2, "mine")


def test_added_parameters_are_selected_with_added() -> None:
    model = make_model()
    model.backbone.stem.append(torch.nn.Linear(8, 8))  # stands in for an adapter a policy added
    freezer = Freezer(model, lr=0.1, added=frozenset({"backbone.stem.3.weight", "backbone.stem.3.bias"}))
    plan = freezer.apply(_phase({"stem": ("added",)}, {"stem", HEAD}), 0)
    assert plan.row("stem").added == 72 and plan.row("stem").trainable_params == 72
    assert {n for n, p in model.backbone.named_parameters() if p.requires_grad} == {"stem.3.weight", "stem.3.bias"}
