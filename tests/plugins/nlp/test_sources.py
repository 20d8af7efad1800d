"""``hf:`` text encoders: loading a hub-format directory, local stand-ins for hub ids, the
options, and passing non-text models on to the next ``hf`` provider."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from headstart import ConfigError, LocalModel, UnknownNameError, get_registry, hookimpl
from headstart.plugins import get_plugin_system
from headstart.registry import reset_registry
from headstart_nlp.local import PACKAGED_MODELS, PackagedModel, local_models
from headstart_nlp.sources import HFTextProvider, sentence_transformers_pooling
from headstart_nlp.tiny import save_tiny_encoder


def test_a_directory_loads_through_automodel_with_its_saved_weights_and_tokenizer(tiny_bert: Path) -> None:
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {p.name for p in tiny_bert.iterdir()}
    source = get_registry().source(f"hf:{tiny_bert}")
    saved = load_file(str(tiny_bert / "model.safetensors"))
    state = source.backbone.state_dict()
    assert saved and all(torch.equal(state[k], v) for k, v in saved.items())
    assert type(source.backbone).__name__ == "BertModel"
    assert source.preprocessor("good movie")["input_ids"][0] == source.preprocessor.cls_token_id
    info = source.describe()
    assert info["origin"] == "directory" and info["weights"] == "pretrained" and info["model_type"] == "bert"
    assert source.output_spec.kind == "sequence" and source.output_spec.dim == 16
    assert source.output_spec.extras["pooling"] == "cls"  # not a sentence-transformers model
    assert source.max_length == 64  # the tokenizer's model_max_length and the model's positions
    assert source.default_lr == pytest.approx(3e-5 * 768 / 16)  # BERT-base's rate, scaled to width 16


def test_forward_returns_last_hidden_states_and_the_attention_mask(tiny_bert: Path) -> None:
    source = get_registry().source(f"hf:{tiny_bert}")
    source.backbone.eval()
    enc = dict(source.preprocessor(["good", "a very good film"], padding=True, return_tensors="pt"))
    out = source.forward(enc)
    assert out.values.shape == (2, enc["input_ids"].shape[1], 16)
    assert out.mask is not None and out.mask.dtype == torch.bool and out.mask.sum(1).tolist() == [3, 6]
    expected = source.backbone(**enc).last_hidden_state
    assert torch.allclose(out.values, expected)


def test_pretrained_false_gives_the_same_architecture_with_other_weights(tiny_bert: Path) -> None:
    pre = get_registry().source(f"hf:{tiny_bert}")
    rnd = get_registry().source(f"hf:{tiny_bert}", pretrained=False)
    assert rnd.describe()["weights"].startswith("random")
    a, b = pre.backbone.state_dict(), rnd.backbone.state_dict()
    assert a.keys() == b.keys() and not torch.equal(
        a["encoder.layer.0.attention.self.query.weight"], b["encoder.layer.0.attention.self.query.weight"]
    )


def test_reinitialize_uses_transformers_init_deterministically(tiny_bert: Path) -> None:
    source = get_registry().source(f"hf:{tiny_bert}")
    before = {k: v.clone() for k, v in source.backbone.state_dict().items()}
    source.reinitialize(3)
    first = {k: v.clone() for k, v in source.backbone.state_dict().items()}
    source.reinitialize(3)
    again = source.backbone.state_dict()
    weights = [k for k in before if k.endswith("weight") and "LayerNorm" not in k]
    assert all(not torch.equal(before[k], first[k]) for k in weights), "every weight matrix is drawn afresh"
    assert all(torch.equal(first[k], again[k]) for k in first)
    # BERT's own scheme: normal(0, initializer_range) weights, unit LayerNorm, zero biases
    std = first["encoder.layer.0.intermediate.dense.weight"].std().item()
    assert abs(std - 0.02) < 0.006
    assert torch.equal(first["embeddings.LayerNorm.weight"], torch.ones(16))


def test_config_overrides_and_unknown_options_name_the_key(tiny_bert: Path) -> None:
    source = get_registry().source(f"hf:{tiny_bert}", config={"hidden_dropout_prob": 0.3})
    assert source.backbone.config.hidden_dropout_prob == 0.3
    with pytest.raises(ValueError, match="no_such_key"):
        get_registry().source(f"hf:{tiny_bert}", config={"no_such_key": 1})
    with pytest.raises(ConfigError, match=r"source\.polling.*did you mean 'pooling'"):
        get_registry().source(f"hf:{tiny_bert}", polling="mean")
    with pytest.raises(ConfigError, match=r"source\.pooling"):
        get_registry().source(f"hf:{tiny_bert}", pooling="max")


def test_sentence_transformers_directories_pool_by_mean(tiny_bert: Path, tmp_path: Path) -> None:
    st = save_tiny_encoder(tmp_path / "st", "bert")
    (st / "1_Pooling").mkdir()
    (st / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_mean_tokens": True}))
    assert sentence_transformers_pooling(str(st)) == "mean"
    assert sentence_transformers_pooling(str(tiny_bert)) is None
    source = get_registry().source(f"hf:{st}")
    assert source.output_spec.extras["pooling"] == "mean"
    assert get_registry().source(f"hf:{st}", pooling="cls").output_spec.extras["pooling"] == "cls"


def test_trust_remote_code_stays_off_unless_asked(tmp_path: Path) -> None:
    remote = tmp_path / "remote"
    remote.mkdir()
    (remote / "config.json").write_text(
        json.dumps({"model_type": "my-own-bert", "auto_map": {"AutoConfig": "configuration_mine.MyConfig"}})
    )
    with pytest.raises(ValueError, match=r"needs code from its repository; set source\.trust_remote_code: true"):
        HFTextProvider().resolve(str(remote))
    with pytest.raises(LookupError, match=r"configuration_mine\.py"):  # asked: transformers looks for the code
        HFTextProvider().resolve(str(remote), trust_remote_code=True)


def test_speech_and_other_models_are_passed_on_with_lookup_error(tmp_path: Path) -> None:
    from transformers import Wav2Vec2Config

    Wav2Vec2Config(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=16).save_pretrained(
        tmp_path / "w2v"
    )
    with pytest.raises(LookupError, match="'wav2vec2' model, not a text encoder"):
        HFTextProvider().resolve(str(tmp_path / "w2v"))
    with pytest.raises(LookupError, match="could not load a Hugging Face config"):
        HFTextProvider().resolve("no-such-org/no-such-model-zzz")
    with pytest.raises(UnknownNameError, match="no-such-model-zzz"):
        get_registry().source("hf:no-such-org/no-such-model-zzz")


def test_packaged_models_are_declared_only_when_their_package_is_installed() -> None:
    fake = PackagedModel("someone/absent-model", "no_such_package_zzz", "model")
    assert local_models((fake,)) == []
    declared = {m.id: m for m in local_models()}
    minilm = declared["sentence-transformers/all-MiniLM-L6-v2"]
    assert minilm.scheme == "hf" and Path(minilm.path, "config.json").is_file()
    assert get_registry().local_model("hf", minilm.id) == minilm
    assert next(m.id for m in PACKAGED_MODELS) in HFTextProvider().available()


class _LocalPlugin:
    """A third-party plugin that declares a local directory for a made-up hub id."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @hookimpl
    def headstart_local_models(self) -> list[LocalModel]:
        return [LocalModel("acme/tiny-bert", str(self.path), "hf", "test stand-in")]


def test_any_plugin_can_map_a_hub_id_to_a_local_directory(tiny_bert: Path) -> None:
    system = get_plugin_system()
    plugin = _LocalPlugin(tiny_bert)
    system.pm.register(plugin, name="acme-local-models")
    reset_registry()
    try:
        source = get_registry().source("hf:acme/tiny-bert")
        assert source.name == "hf:acme/tiny-bert"
        assert source.describe()["location"] == str(tiny_bert)
        assert source.describe()["origin"].startswith("local stand-in")
    finally:
        system.pm.unregister(plugin)
        reset_registry()
    with pytest.raises(UnknownNameError):
        get_registry().source("hf:acme/tiny-bert")
