"""Experiment files: every bad key or value is named with what would be valid."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from headstart import ConfigError, NormMode, load_config, parse_config
from headstart.experiment import apply_overrides, build

from ..conftest import toy_config


def _error(config: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as info:
        build(parse_config(config))
    return str(info.value)


def test_a_valid_file_loads_with_defaults(write_config: Callable[..., Path]) -> None:
    config = load_config(write_config())
    assert config.trainer.epochs == 3 and config.trainer.optimizer == "adamw"
    assert config.to_dict()["trainer"]["schedule"] == "cosine"


def test_misspelled_trainer_key_suggests_the_right_one() -> None:
    message = _error(toy_config(trainer={"epocs": 3}))
    assert message.startswith("trainer.epocs: unknown key (did you mean 'epochs'?). Valid keys: epochs, batch_size")


def test_bad_trainer_value_names_key_value_and_choices() -> None:
    assert _error(toy_config(trainer={"optimizer": "adam"})) == (
        "trainer.optimizer = 'adam' is not valid; valid choices: 'adamw' | 'sgd' (did you mean 'adamw'?)"
    )
    assert _error(toy_config(trainer={"epochs": "three"})) == "trainer.epochs = 'three': expected an integer"
    assert _error(toy_config(trainer={"epochs": 0})) == "trainer: epochs must be >= 1, got 0"


def test_unknown_top_level_key() -> None:
    assert "polcy: unknown top-level key (did you mean 'policy'?)" in _error({**toy_config(), "polcy": {}})


def test_missing_section() -> None:
    config = toy_config()
    del config["task"]
    assert _error(config).startswith("task: missing")


def test_unknown_policy_name_lists_valid_policies() -> None:
    message = _error(toy_config(policy={"name": "linear_probe"}))
    assert message.startswith("policy.name: unknown policy 'linear_probe' (did you mean 'linear-probe'?)")
    assert "gradual-unfreeze" in message


def test_policy_option_errors() -> None:
    assert (
        _error(toy_config(policy={"name": "top-k", "kk": 2}))
        == "policy.kk: unknown key (did you mean 'k'?). Valid keys: k"
    )
    assert _error(toy_config(policy={"name": "top-k", "k": 1.5})) == "policy.k = 1.5: expected an integer"
    assert "policy: k=9 but the source has only 4 blocks (stem, stage1, stage2, stage3)" in _error(
        toy_config(policy={"name": "top-k", "k": 9})
    )
    assert _error(toy_config(policy={"name": "full", "norm_mode": "freeze"})).startswith(
        "policy.norm_mode = 'freeze' is not valid: expected 'train' | 'frozen' | 'frozen-stats'"
    )
    assert "keep_frozen names unknown block(s) encoder" in _error(
        toy_config(policy={"name": "full", "keep_frozen": ["encoder"]})
    )


def test_task_and_source_option_errors() -> None:
    task = {"name": "vector-classification", "synthetic": {"classes": 2}, "label_col": "y"}
    assert _error(toy_config(task=task)).startswith("task.label_col: unknown key (did you mean 'label_column'?)")
    source = {"name": "toy:mlp", "widht": 4}
    assert _error(toy_config(source=source)).startswith("source.widht: unknown key (did you mean 'width'?)")
    assert "unknown source 'toy:mpl' (did you mean 'toy:mlp'?)" in _error(toy_config(source={"name": "toy:mpl"}))


def test_overrides_set_nested_values_parsed_as_yaml() -> None:
    data = apply_overrides(
        toy_config(),
        ["trainer.epochs=5", "policy.name=top-k", "policy.k=2", "trainer.lr=1e-3", "policy.keep_frozen=[stem]"],
    )
    config = parse_config(data)
    assert config.trainer.epochs == 5 and config.trainer.lr == 1e-3
    assert config.policy == {"name": "top-k", "k": 2, "keep_frozen": ("stem",)}


def test_override_without_equals_is_explained() -> None:
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        apply_overrides({}, ["trainer.epochs"])


def test_yaml_syntax_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("source: toy:mlp\ntask: [unclosed\n")
    with pytest.raises(ConfigError, match=r"bad.yaml:\d+: not valid YAML"):
        load_config(path)


def test_norm_mode_is_parsed() -> None:
    config = parse_config(toy_config(policy={"name": "full", "norm_mode": "frozen-stats"}))
    assert config.policy["norm_mode"] is NormMode.FROZEN_STATS
    assert config.to_dict()["policy"]["norm_mode"] == "frozen-stats"


def test_yaml_off_is_read_as_the_choice_off() -> None:
    config = parse_config(toy_config(trainer={"feature_cache": False}))  # `feature_cache: off` in YAML
    assert config.trainer.feature_cache == "off"


def test_head_lr_scale_is_a_common_policy_option() -> None:
    built = build(parse_config(toy_config(policy={"name": "full", "head_lr_scale": 10})))
    assert built.plans()[0].row("head").lr == pytest.approx(10 * built.plans()[0].row("stem").lr)
    assert _error(toy_config(policy={"name": "full", "head_lr_scale": 0})) == "policy.head_lr_scale = 0.0: must be > 0"


def test_set_policy_name_starts_the_new_policy_from_its_defaults(tmp_path: Path) -> None:
    from headstart.experiment.config import apply_overrides

    base = {"policy": {"name": "gradual-unfreeze", "every": 1, "keep_frozen": ["stem"], "head_lr_scale": 2.0}}
    out = apply_overrides(base, ["policy.name=top-k", "policy.k=2"])
    assert out["policy"] == {"name": "top-k", "k": 2, "keep_frozen": ["stem"], "head_lr_scale": 2.0}
    same = apply_overrides(base, ["policy.name=gradual-unfreeze"])  # the same name keeps its options
    assert same["policy"]["every"] == 1
    assert apply_overrides({"policy": "full"}, ["policy.name=lp-ft"])["policy"] == {"name": "lp-ft"}
