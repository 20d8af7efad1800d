"""End to end on speech: CTC learns, every foundation policy runs, a finished run is a source."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from headstart import load, load_config, run_experiment
from headstart.experiment import build

from .conftest import ta_source


def _weights(run_dir: Path, kind: str) -> dict[str, torch.Tensor]:
    """Every weight of a run's ``best`` or ``last`` model, loaded as users load a run (a delta
    checkpoint — only what trained — comes back whole)."""
    return dict(load(run_dir, checkpoint=kind, device="cpu").model.state_dict())


TRAINER = {"batch_size": 8, "progress": False, "log_every": 1, "device": "cpu", "weight_decay": 0.0}


def _ctc_config(checkpoint: Path, corpus: Path, **trainer: Any) -> dict[str, Any]:
    return {
        "name": "ctc",
        "seed": 0,
        "source": ta_source(checkpoint, pretrained=True, mask_time_prob=0.0),
        "task": {"name": "speech-recognition", "format": "librispeech", "data": str(corpus)},
        "policy": {"name": "full", "keep_frozen": []},
        "trainer": {**TRAINER, **trainer},
    }


def _keyword_config(
    name: str, source: dict[str, Any], policy: str, keyword_folder: Path, **trainer: Any
) -> dict[str, Any]:
    """Keyword classification of ``keyword_folder`` from ``source`` under ``policy`` (lr 1e-2)."""
    return {
        "name": name,
        "seed": 0,
        "source": source,
        "task": {"name": "audio-classification", "data": str(keyword_folder)},
        "policy": {"name": policy},
        "trainer": {**TRAINER, "lr": 1e-2, **trainer},
    }


@pytest.mark.slow
def test_ctc_training_drives_cer_down(
    tmp_path: Path, write_config: Callable[..., Path], ta_checkpoint: Path, word_corpus: Path
) -> None:
    config = load_config(write_config(_ctc_config(ta_checkpoint, word_corpus, epochs=40, lr=5e-3, warmup_steps=10)))
    run_dir, summary = run_experiment(config, tmp_path / "ctc")
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    first, best = rows[0]["val_cer"], min(r["val_cer"] for r in rows)
    assert first > 0.7, first  # an untrained model spells nothing right
    assert best < 0.35, [round(r["val_cer"], 3) for r in rows][-12:]
    assert summary["test"]["cer"] < 0.5 and summary["monitor"] == "cer"
    assert summary["task"]["vocabulary"] == "denopsuwy"
    print(f"CTC val CER by epoch: {[round(r['val_cer'], 3) for r in rows]}; test CER {summary['test']['cer']:.3f}")


POLICIES = ["linear-probe", "full", "top-k", "discriminative", "gradual-unfreeze", "lp-ft", "scratch"]


@pytest.mark.slow
@pytest.mark.parametrize("policy", POLICIES)
def test_every_policy_on_a_speech_source(
    policy: str, tmp_path: Path, write_config: Callable[..., Path], hf_dir: Path, keyword_folder: Path
) -> None:
    source = {"name": f"hf:{hf_dir}", "mask_time_prob": 0.05, "mask_time_length": 2}
    path = write_config(
        _keyword_config(f"kws-{policy}", source, policy, keyword_folder, epochs=4, max_steps_per_epoch=2)
    )
    built = build(load_config(path))
    plans = built.plans()
    # the wav2vec 2.0 convention: the feature encoder stays frozen (unless it is re-initialised)
    assert all(p.row("feature_encoder").trainable == (policy == "scratch") for p in plans)
    before = {k: v.detach().clone() for k, v in built.model.backbone.named_parameters()}
    run_dir, summary = run_experiment(load_config(path), tmp_path / policy)
    assert 0.0 <= summary["test"]["accuracy"] <= 1.0
    last = _weights(run_dir, "last")
    changed = {k.removeprefix("backbone.") for k, v in last.items() if k.startswith("backbone.")
               and not torch.equal(v, before[k.removeprefix("backbone.")])}  # fmt: skip
    encoder = {k for k in before if k.startswith("feature_extractor.")}
    layer1 = {k for k in before if k.startswith("encoder.layers.1.")}
    if policy == "scratch":  # re-initialised, then trained: a random feature encoder must learn
        assert encoder & changed
    else:
        assert not encoder & changed, "the feature encoder must stay frozen unless asked"
    if policy == "linear-probe":
        assert not changed
    else:
        assert layer1 & changed, f"{policy} should train the top layer"


@pytest.mark.slow
def test_a_finished_speech_run_is_a_source(
    tmp_path: Path, write_config: Callable[..., Path], ta_checkpoint: Path, word_corpus: Path, keyword_folder: Path
) -> None:
    source_dir = tmp_path / "source-run"
    run_experiment(
        load_config(write_config(_ctc_config(ta_checkpoint, word_corpus, epochs=2, lr=5e-3), "source.yaml")), source_dir
    )
    target = _keyword_config("target", {"name": f"run:{source_dir}"}, "linear-probe", keyword_folder, epochs=2)
    built = build(load_config(write_config(target, "target.yaml")))
    assert built.source.name == f"run:{source_dir}"
    assert [b.name for b in built.source.blocks][:2] == ["feature_encoder", "feature_projection"]
    saved = _weights(source_dir, "best")
    mine = built.source.backbone.state_dict()
    fine_tuned = {k.removeprefix("backbone."): v for k, v in saved.items() if k.startswith("backbone.")}
    assert fine_tuned and all(torch.equal(mine[k], v) for k, v in fine_tuned.items())
    original = torch.load(ta_checkpoint, weights_only=True)
    assert any(not torch.equal(original[k], mine[k]) for k in original)  # the run's weights, not the checkpoint's
    _, summary = run_experiment(load_config(write_config(target, "target.yaml")), tmp_path / "target-run")
    assert summary["task"]["labels"] == ["down", "no", "up", "yes"] and summary["test"] is not None


#: parameter-efficient policies -> which backbone parameters may change (by name)
PEFT: dict[str, Callable[[str], bool]] = {
    "lora": lambda n: ".lora_" in n,
    "bitfit": lambda n: n.endswith(".bias"),
    "norm-tune": lambda n: "norm" in n.lower(),
}


@pytest.mark.slow
@pytest.mark.parametrize("policy", sorted(PEFT))
def test_parameter_efficient_policy_on_a_speech_source(
    policy: str, tmp_path: Path, write_config: Callable[..., Path], hf_dir: Path, keyword_folder: Path
) -> None:
    config = _keyword_config(
        f"kws-{policy}", {"name": f"hf:{hf_dir}"}, policy, keyword_folder, epochs=2, max_steps_per_epoch=2
    )
    path = write_config(config)
    built = build(load_config(path))
    before = {k.replace(".base_layer.", "."): v.detach().clone() for k, v in built.model.backbone.state_dict().items()}
    run_dir, summary = run_experiment(load_config(path), tmp_path / policy)
    assert 0.0 <= summary["test"]["accuracy"] <= 1.0
    after = {k.removeprefix("backbone.").replace(".base_layer.", "."): v for k, v in _weights(run_dir, "last").items()}
    source = {k: v for k, v in after.items() if k in before and not k.startswith("head.")}
    changed = {k for k, v in source.items() if not torch.equal(v, before[k]) and "running_" not in k}
    assert changed and all(PEFT[policy](k) for k in changed), sorted(changed)[:5]
    assert not any(k.startswith("feature_extractor.") for k in changed)  # kept frozen by convention
    if policy == "lora":  # the speech plugin's targets: each layer's attention q_proj and v_proj
        assert {k.split(".lora_")[0].rsplit(".", 1)[-1] for k in after if ".lora_" in k} == {"q_proj", "v_proj"}
    stored = load_file(str((run_dir / "checkpoints" / "last").resolve() / "model.safetensors"))
    assert len(stored) < len(after) / 2  # a delta checkpoint: only what trained, and buffers
