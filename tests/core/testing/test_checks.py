"""The contract kit's checks pass on good components and fail, saying why, on broken ones."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest
import torch
from torch import nn

from headstart import HEAD, Block, Features, FeatureSpec, Metric, Phase, Policy, get_registry
from headstart.testing import (
    ContractError,
    check_forward,
    check_metric,
    check_policy,
    check_policy_on_model,
    check_provider,
    check_source,
    check_task,
    check_unknown_option,
)


def toy(**options: Any) -> Any:
    defaults = {"in_features": 4, "width": 8, "depth": 2}
    return get_registry().source("toy:mlp", **{**defaults, **options})


def toy_task() -> Any:
    factory = get_registry().task_type("vector-classification").factory
    return factory(synthetic={"classes": 3, "per_class": 4, "in_features": 4})


# --- sources --------------------------------------------------------------------------------------


def test_good_source_passes_and_keeps_its_weights(tmp_path: Path) -> None:
    source = toy()
    before = {k: v.clone() for k, v in source.backbone.state_dict().items()}
    check_source(source, tmp_path)
    after = source.backbone.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_block_map_missing_a_parameter_fails() -> None:
    source = toy()
    source.blocks = source.blocks[:-1]  # the last stage belongs to no block
    with pytest.raises(ContractError, match=r"belong to no block.*stages\.1"):
        check_source(source)


def test_block_claiming_a_member_twice_fails() -> None:
    source = toy()
    source.blocks = [*source.blocks, Block("again", ("stem",))]
    with pytest.raises(ContractError, match="'stem' is listed in block 'stem' and in block 'again'"):
        check_source(source)


def test_block_named_head_fails() -> None:
    source = toy()
    source.blocks = [Block("stem", ("stem",)), Block(HEAD, ("stages",))]
    with pytest.raises(ContractError, match="no block may be named 'head'"):
        check_source(source)


def test_describe_must_be_json() -> None:
    source = toy()
    source.describe = lambda: {"name": source.name, "tensor": torch.zeros(1)}
    with pytest.raises(ContractError, match="not JSON-serialisable"):
        check_source(source)


def test_unseeded_reinitialize_fails() -> None:
    source = toy()
    source.reinitialize = lambda seed: [nn.init.normal_(p) for p in source.backbone.parameters()]
    with pytest.raises(ContractError, match="twice gave different weights"):
        check_source(source)


def test_blocks_listed_out_of_order_fail_the_forward_check() -> None:
    source = toy()
    source.blocks = list(reversed(source.blocks))
    with pytest.raises(ContractError, match="blocks ran in the order stem, stage1, stage2"):
        check_forward(source, {"x": torch.randn(3, 4)})


def test_forward_not_matching_output_spec_fails() -> None:
    source = toy()
    source.output_spec = FeatureSpec("vector", 99)
    with pytest.raises(ContractError, match="dim 99"):
        check_forward(source, {"x": torch.randn(3, 4)})


class _SilentProvider:
    scheme = "silent"

    def resolve(self, name: str, **options: Any) -> Any:
        if name != "ok":
            raise KeyError(name)  # KeyError is a LookupError: allowed
        return toy()

    def available(self) -> list[str]:
        return ["ok"]


def test_provider_must_raise_lookup_error_for_unknown_names() -> None:
    class Bad(_SilentProvider):
        def resolve(self, name: str, **options: Any) -> Any:
            raise RuntimeError("boom")

    with pytest.raises(ContractError, match="must raise LookupError"):
        check_provider(Bad())
    check_provider(_SilentProvider())  # KeyError is a LookupError


def test_provider_that_ignores_unknown_options_fails() -> None:
    class Lax(_SilentProvider):
        def resolve(self, name: str, **options: Any) -> Any:
            if name != "ok":
                raise LookupError(name)
            return toy()

    with pytest.raises(ContractError, match="accepted silently"):
        check_unknown_option(Lax(), "silent:ok", {})
    provider = get_registry().providers_for("toy")[0]
    check_unknown_option(provider, "toy:mlp", {})


# --- tasks ----------------------------------------------------------------------------------------


def test_good_task_passes(tmp_path: Path) -> None:
    check_task(toy_task(), toy(), tmp_path)


def test_task_with_a_non_scalar_loss_fails() -> None:
    task = toy_task()
    task.loss = lambda outputs, batch: nn.functional.cross_entropy(outputs, batch["targets"], reduction="none")
    with pytest.raises(ContractError, match="finite scalar"):
        check_task(task, toy())


def test_head_not_built_from_the_spec_fails() -> None:
    task = toy_task()

    class Fixed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(8, 3)  # hard-coded width

        def forward(self, f: Features) -> torch.Tensor:
            return self.fc(f.values)  # type: ignore[no-any-return]

    task.build_head = lambda spec: Fixed()
    with pytest.raises(ContractError, match="build the head from the spec"):
        check_task(task, toy())


def test_unpicklable_collate_fails() -> None:
    task = toy_task()
    inner = task.collate
    task.collate = lambda examples: inner(examples)  # a lambda does not pickle
    with pytest.raises(ContractError, match="collate does not pickle"):
        check_task(task, toy())


def test_block_unused_by_forward_fails() -> None:
    source = toy()
    source.backbone.extra = nn.Linear(2, 2)  # covered by a block, never run
    source.blocks = [*source.blocks, Block("extra", ("extra",))]
    task = toy_task()
    with pytest.raises(ContractError, match="block\\(s\\) extra ran"):
        check_task(task, source)


# --- policies -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LateStart(Policy):
    name: ClassVar[str] = "late-start"

    def phases(self, blocks: Sequence[str], epochs: int) -> list[Phase]:
        return [Phase("late", 1, frozenset(blocks))]


@dataclass(frozen=True)
class UnknownBlock(Policy):
    name: ClassVar[str] = "unknown-block"

    def phases(self, blocks: Sequence[str], epochs: int) -> list[Phase]:
        return [Phase("p", 0, frozenset({"layer99", HEAD}))]


@dataclass(frozen=True)
class Crashes(Policy):
    name: ClassVar[str] = "crashes"

    def phases(self, blocks: Sequence[str], epochs: int) -> list[Phase]:
        return [Phase("p", 0, frozenset({blocks[5], HEAD}))]  # IndexError on short block maps


@dataclass(frozen=True)
class NoBase:
    """Old-style: phases only, no prepare/regularizer."""

    name: ClassVar[str] = "no-base"

    def phases(self, blocks: Sequence[str], epochs: int) -> list[Phase]:
        return [Phase("p", 0, frozenset(blocks))]


def test_policy_without_prepare_and_regularizer_fails() -> None:
    with pytest.raises(ContractError, match=r"subclass headstart\.Policy"):
        check_policy(NoBase())


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        (LateStart(), "first phase must start at epoch 0"),
        (UnknownBlock(), "unknown block\\(s\\) layer99"),
        (Crashes(), "raised IndexError"),
    ],
)
def test_broken_policies_fail(policy: Any, message: str) -> None:
    with pytest.raises(ContractError, match=message):
        check_policy(policy)


def test_builtin_policy_passes() -> None:
    full = get_registry().policy_type("full").factory()
    assert check_policy(full) == 20  # 4 block maps x 5 run lengths, all accepted


# --- metrics --------------------------------------------------------------------------------------


def test_metric_with_wrong_orientation_fails() -> None:
    accuracy = get_registry().metric("accuracy")
    check_metric(accuracy)
    flipped = Metric("flipped", accuracy.fn, higher_is_better=False)
    with pytest.raises(ContractError, match="higher_is_better=False"):
        check_metric(flipped)


# --- policies on a model --------------------------------------------------------------------------


@dataclass(frozen=True)
class SelectsNothing(Policy):
    name: ClassVar[str] = "selects-nothing"

    def phases(self, blocks: Sequence[str], epochs: int) -> list[Phase]:
        return [Phase("p", 0, frozenset(blocks), params={blocks[0]: ("*.no_such_weight",)})]


_COUNTER = [0]


@dataclass(frozen=True)
class FreshNamesEachTime(Policy):
    """Adds an adapter whose name changes every time prepare runs: a checkpoint cannot be reloaded."""

    name: ClassVar[str] = "fresh-names"

    def phases(self, blocks: Sequence[str], epochs: int) -> list[Phase]:
        return [Phase("p", 0, frozenset(blocks), params={b: ("added",) for b in blocks[:-1]})]

    def prepare(self, model: Any, seed: int) -> None:
        _COUNTER[0] += 1
        model.backbone.mlp.register_parameter(f"extra{_COUNTER[0]}", nn.Parameter(torch.zeros(2)))


@dataclass(frozen=True)
class AddsOutsideTheBlocks(Policy):
    name: ClassVar[str] = "adds-outside"

    def phases(self, blocks: Sequence[str], epochs: int) -> list[Phase]:
        return [Phase("p", 0, frozenset(blocks))]

    def prepare(self, model: Any, seed: int) -> None:
        model.backbone.stray = nn.Linear(2, 2)


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        (SelectsNothing(), r"selector\(s\) '\*\.no_such_weight' match no parameter"),
        (FreshNamesEachTime(), "does not load into a rebuilt model"),
        (AddsOutsideTheBlocks(), "prepare\\(\\) left a model the engine cannot use.*belong to no block"),
    ],
)
def test_policy_on_a_model_fails_saying_why(policy: Any, message: str, tmp_path: Path) -> None:
    with pytest.raises(ContractError, match=message):
        check_policy_on_model(policy, tmp_path)


@pytest.mark.parametrize("name", ["lora", "bitfit", "norm-tune", "filtered", "full"])
def test_builtin_policies_pass_on_a_model(name: str, tmp_path: Path) -> None:
    check_policy_on_model(get_registry().policy_type(name).factory(), tmp_path)
