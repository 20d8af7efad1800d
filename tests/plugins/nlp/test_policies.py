"""Every policy of the foundation on an NLP source: which blocks' weights move, and the plan."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from headstart import build, format_plan, get_registry, load, parse_config

from .conftest import sentiment_files

Runner = Callable[..., tuple[Path, dict[str, Any]]]


def run_weights(run_dir: Path) -> dict[str, torch.Tensor]:
    """Every weight of the run's last model, loaded as users load a run (a delta checkpoint too)."""
    return dict(load(run_dir, checkpoint="last", device="cpu").model.state_dict())


#: One weight per block of the tiny BERT, to see which blocks trained.
PROBES = {
    "embeddings": "embeddings.word_embeddings.weight",
    "layer0": "encoder.layer.0.output.dense.weight",
    "layer1": "encoder.layer.1.output.dense.weight",
}
#: policy -> (options, blocks whose weights must change in a 2-epoch run; the others must not)
EXPECTED: dict[str, tuple[dict[str, Any], set[str]]] = {
    "linear-probe": ({}, set()),
    "full": ({}, {"embeddings", "layer0", "layer1"}),
    "top-k": ({"k": 1}, {"layer1"}),
    "discriminative": ({"decay": 0.5}, {"embeddings", "layer0", "layer1"}),
    "gradual-unfreeze": ({"every": 1}, {"layer1"}),  # epoch 1: the head, epoch 2: + layer1
    "lp-ft": ({"lp_epochs": 1}, {"embeddings", "layer0", "layer1"}),
    "scratch": ({}, {"embeddings", "layer0", "layer1"}),
}


@pytest.fixture
def sentiment_data(tmp_path: Path) -> dict[str, str]:
    return sentiment_files(tmp_path, {"train": 16, "val": 8, "test": 8})


def _train(
    run_nlp: Runner, tiny_bert: Path, data: dict[str, str], policy: dict[str, Any]
) -> tuple[Path, dict[str, Any]]:
    """``(run_dir, summary)`` of 2 short epochs of sentiment classification on the tiny BERT under ``policy``."""
    return run_nlp(
        {"name": f"hf:{tiny_bert}"},
        {"name": "text-classification", "data": data},
        policy,
        epochs=2,
        batch_size=4,
        max_steps_per_epoch=2,
    )


def test_every_foundation_policy_is_covered() -> None:
    assert set(EXPECTED) <= set(get_registry().policies)


@pytest.mark.parametrize("policy", sorted(EXPECTED))
def test_policy_on_an_nlp_source(policy: str, tiny_bert: Path, sentiment_data: dict[str, str], run_nlp: Runner) -> None:
    options, moved = EXPECTED[policy]
    run_dir, summary = _train(run_nlp, tiny_bert, sentiment_data, {"name": policy, **options})
    assert summary["epochs_run"] == 2 and summary["test"] is not None
    before = load_file(str(tiny_bert / "model.safetensors"))
    after = run_weights(run_dir)  # the whole model, also from a delta checkpoint (only what trained)
    changed = {b for b, name in PROBES.items() if not torch.equal(before[name], after[f"backbone.{name}"])}
    assert changed == moved, f"{policy}: blocks whose weights changed: {sorted(changed)}, expected {sorted(moved)}"
    head = sum(v.numel() for k, v in after.items() if k.startswith("head."))
    assert (summary["trainable_params_max"] == head) == (policy == "linear-probe")
    if policy == "scratch":
        assert summary["source"]["weights"].startswith("random (reinitialised")


#: parameter-efficient policies -> which source parameters may change (by name)
PEFT: dict[str, tuple[dict[str, Any], Callable[[str], bool]]] = {
    "lora": ({"rank": 4}, lambda n: ".lora_" in n),
    "bitfit": ({}, lambda n: n.endswith(".bias")),
    "norm-tune": ({}, lambda n: "LayerNorm" in n),
}


@pytest.mark.parametrize("policy", sorted(PEFT))
def test_parameter_efficient_policy_on_an_nlp_source(
    policy: str, tiny_bert: Path, sentiment_data: dict[str, str], run_nlp: Runner
) -> None:
    options, may_change = PEFT[policy]
    run_dir, summary = _train(run_nlp, tiny_bert, sentiment_data, {"name": policy, **options})
    fresh = {f"backbone.{k}": v for k, v in get_registry().source(f"hf:{tiny_bert}").backbone.state_dict().items()}
    after = run_weights(run_dir)
    source = {k.replace(".base_layer.", "."): v for k, v in after.items() if k.startswith("backbone.")}
    changed = {k for k, v in source.items() if k not in fresh or not torch.equal(fresh[k], v)}
    assert changed and all(may_change(k) for k in changed), sorted(changed)[:5]
    if policy == "lora":  # adapters on the attention's query and value (the NLP plugin's targets)
        assert {k.split(".lora_")[0].rsplit(".", 1)[-1] for k in source if ".lora_" in k} == {"query", "value"}
    stored = load_file(str(run_dir / "checkpoints" / "last" / "model.safetensors"))
    assert len(stored) < len(after) / 2  # a delta: what trained, plus buffers
    assert summary["trainable_params_max"] < 0.2 * summary["total_params"]


def test_keep_frozen_and_frozen_norms_on_an_nlp_source(
    tiny_bert: Path, sentiment_data: dict[str, str], run_nlp: Runner
) -> None:
    run_dir, _ = run_nlp(
        {"name": f"hf:{tiny_bert}"},
        {"name": "text-classification", "data": sentiment_data},
        {"name": "full", "keep_frozen": ["embeddings"], "norm_mode": "frozen"},
        epochs=1,
        batch_size=4,
        max_steps_per_epoch=2,
    )
    before = load_file(str(tiny_bert / "model.safetensors"))
    after = load_file(str(run_dir / "checkpoints" / "last" / "model.safetensors"))
    assert torch.equal(before[PROBES["embeddings"]], after[f"backbone.{PROBES['embeddings']}"])
    assert not torch.equal(before[PROBES["layer1"]], after[f"backbone.{PROBES['layer1']}"])
    norm = "encoder.layer.1.output.LayerNorm.weight"
    assert torch.equal(before[norm], after[f"backbone.{norm}"])


def test_plan_lists_the_text_blocks(tiny_bert: Path, sentiment_data: dict[str, str], tmp_path: Path) -> None:
    config = parse_config(
        {
            "output_dir": str(tmp_path / "runs"),
            "source": {"name": f"hf:{tiny_bert}"},
            "task": {"name": "text-classification", "data": sentiment_data},
            "policy": {"name": "gradual-unfreeze", "every": 1},
            "trainer": {"epochs": 4, "device": "cpu"},
        }
    )
    plan = format_plan(build(config))
    assert plan.count("phase ") == 4 and "unfreeze-3" in plan
    for block in ("embeddings", "layer0", "layer1", "head"):
        assert f"\n  {block} " in plan
