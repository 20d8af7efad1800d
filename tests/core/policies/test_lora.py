"""lora: adapters injected through peft on the toy MLP; targets, blocks, merging, plans."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from headstart import HEAD, ConfigError, build, parse_config
from headstart.policies import Lora, merge_adapters, prepare_model

from ..conftest import toy_config
from ..freeze.conftest import make_model


def test_prepare_adds_adapters_beside_the_default_targets() -> None:
    model = make_model(depth=2)
    added = prepare_model(Lora(rank=2), model, seed=0)
    # every Linear of the source (stem + two stages) gets A (2 x in) and B (out x 2); the head none
    assert {n.rsplit(".lora_", 1)[0] for n in added} == {
        "backbone.stem.0",
        "backbone.stages.0.0",
        "backbone.stages.1.0",
    }
    assert all(".lora_A." in n or ".lora_B." in n for n in added)
    assert not any(n.startswith("head.") for n in added)


def test_adapters_start_as_a_no_op_and_merge_back_to_the_source_layout() -> None:
    model, plain = make_model(depth=2), make_model(depth=2)
    x = {"x": torch.randn(5, 4)}
    model.eval(), plain.eval()
    prepare_model(Lora(rank=2), model, seed=0)
    assert torch.allclose(model(x), plain(x))  # B starts at zero
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_()
    changed = model(x)
    assert not torch.allclose(changed, plain(x))
    assert merge_adapters(model) == 3
    assert model.state_dict().keys() == plain.state_dict().keys()
    assert torch.allclose(model(x), changed, atol=1e-5)


def test_targets_and_top_choose_the_layers() -> None:
    model = make_model(depth=3)
    added = prepare_model(Lora(rank=2, targets=["stages.*"], top=2), model, seed=0)
    assert {n.split(".lora_")[0] for n in added} == {"backbone.stages.1.0", "backbone.stages.2.0"}


def test_phases_train_the_added_parameters_of_adapted_blocks_and_the_head() -> None:
    blocks = ["stem", "stage1", "stage2", HEAD]
    (phase,) = Lora(top=1).phases(blocks, 2)
    assert phase.trainable == frozenset({"stage2", HEAD}) and dict(phase.params) == {"stage2": ("added",)}
    head, lora = Lora(head_epochs=1, bias=True).phases(blocks, 3)
    assert head.trainable == frozenset({HEAD}) and lora.start_epoch == 1
    assert dict(lora.params) == dict.fromkeys(blocks[:-1], ("added", "bias"))
    with pytest.raises(ValueError, match="head_epochs=3 leaves no epoch"):
        Lora(head_epochs=3).phases(blocks, 3)


def test_built_plan_counts_adapters_and_trains_only_them() -> None:
    built = build(parse_config(toy_config(policy={"name": "lora", "rank": 2})))
    (plan,) = built.plans()
    params = dict(built.model.named_parameters())
    assert built.added and plan.trainable_names == built.added | {n for n in params if n.startswith("head.")}
    assert sum(r.added for r in plan.rows) == sum(params[n].numel() for n in built.added)
    assert all(r.selects == "added" for r in plan.rows if r.name != HEAD)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"rank": 0}, "rank must be >= 1"),
        ({"targets": ["*.attention.query"]}, r"no layer of blocks .* matches targets"),
        ({"blocks": ["stage9"]}, "unknown block"),
        ({"blocks": ["stem"], "top": 1}, "blocks or top, not both"),
        ({"targets": "*.query"}, "list of names"),
    ],
)
def test_bad_options_are_refused_naming_them(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build(parse_config(toy_config(policy={"name": "lora", **options})))


def test_grouped_convolutions_are_left_out_by_default() -> None:
    class Convs(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.pw = nn.Conv2d(4, 4, 1)
            self.dw = nn.Conv2d(4, 4, 3, groups=4)

    model = make_model(depth=1)
    model.backbone.stem.append(Convs())  # not called by forward; only the targeting is checked
    names = Lora().target_modules(model)
    assert "stem.3.pw" in names and "stem.3.dw" not in names
