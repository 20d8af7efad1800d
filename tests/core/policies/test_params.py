"""bitfit, norm-tune and filtered: what their phases select, on the toy model through build()."""

from __future__ import annotations

from typing import Any

import pytest

from headstart import HEAD, ConfigError, build, parse_config
from headstart.policies import BitFit, Filtered, NormTune

from ..conftest import toy_config

BLOCKS = ["stem", "stage1", "stage2", HEAD]


def test_bitfit_and_norm_tune_select_inside_every_source_block() -> None:
    (bitfit,) = BitFit().phases(BLOCKS, 3)
    (norm,) = NormTune().phases(BLOCKS, 3)
    assert bitfit.trainable == norm.trainable == frozenset(BLOCKS)
    assert dict(bitfit.params) == dict.fromkeys(BLOCKS[:-1], ("bias",))
    assert dict(norm.params) == dict.fromkeys(BLOCKS[:-1], ("norm",))


def test_one_selection_policies_name_their_phase_scale_the_source_and_refuse_a_bad_scale() -> None:
    (bitfit,) = BitFit().phases(BLOCKS, 3)
    (norm,) = NormTune(lr_scale=3.0).phases(BLOCKS, 3)
    assert (bitfit.name, norm.name) == ("bitfit", "norm-tune")
    assert dict(bitfit.lr_scale) == dict.fromkeys(BLOCKS[:-1], 1.0)
    assert dict(norm.lr_scale) == dict.fromkeys(BLOCKS[:-1], 3.0)  # the head keeps its own rate
    for policy in (BitFit, NormTune):
        with pytest.raises(ValueError, match=r"^lr_scale must be > 0, got 0$"):
            policy(lr_scale=0)


def test_filtered_restricts_a_schedule_to_a_selection() -> None:
    phases = Filtered("gradual-unfreeze", ["bias"], {"every": 1}).phases(BLOCKS, 3)
    assert [sorted(p.trainable) for p in phases] == [[HEAD], ["head", "stage2"], ["head", "stage1", "stage2"]]
    assert [dict(p.params) for p in phases] == [{}, {"stage2": ("bias",)}, {"stage1": ("bias",), "stage2": ("bias",)}]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"schedule": "no-such"}, "schedule: unknown policy 'no-such'"),
        ({"params": ["biass"]}, "unknown selector 'biass'"),
        ({"params": []}, "at least one selector"),
        ({"options": {"every": 0}}, "every must be >= 1"),
        ({"options": {"evry": 1}}, "evry"),
    ],
)
def test_filtered_refuses_bad_options_naming_them(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build(parse_config(toy_config(policy={"name": "filtered", **options})))


@pytest.mark.parametrize(
    ("policy", "selected"),
    [
        ({"name": "bitfit"}, lambda n: n.endswith(".bias")),
        ({"name": "norm-tune"}, lambda n: n.split(".")[-2] == "1"),  # the BatchNorm1d of each Sequential
    ],
)
def test_built_plans_train_exactly_the_selection(policy: dict[str, Any], selected: Any) -> None:
    built = build(parse_config(toy_config(policy=policy)))
    (plan,) = built.plans()
    source = {n for n in plan.trainable_names if n.startswith("backbone.")}
    expected = {n for n, _ in built.model.named_parameters() if n.startswith("backbone.") and selected(n)}
    assert source == expected and expected
    params = dict(built.model.named_parameters())
    assert plan.trainable_numel == sum(params[n].numel() for n in plan.trainable_names)
    assert plan.frozen_prefix == 0  # the first block trains its biases: nothing runs under no_grad


def test_plan_shows_per_block_what_trains_and_counts(write_config: Any, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from headstart.cli import main

    path = write_config(toy_config(policy={"name": "bitfit", "lr_scale": 5}))
    assert main(["plan", str(path), "--json"]) == 0
    (phase,) = json.loads(capsys.readouterr().out)
    rows = {r["block"]: r for r in phase["blocks"]}
    assert rows["stem"]["trains"] == "bias" and rows["stem"]["trainable_params"] == 16 + 16  # Linear + BatchNorm
    assert rows["head"]["trains"] == "all" and rows["stem"]["lr"] == pytest.approx(5 * rows["head"]["lr"])
    assert phase["trainable_params"] == sum(r["trainable_params"] for r in rows.values())
    assert main(["plan", str(path)]) == 0
    assert "bias" in capsys.readouterr().out
