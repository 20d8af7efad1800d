"""hf: and torchaudio: speech sources on tiny models saved in the real formats."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from headstart import TransferModel, UnknownNameError, get_registry, resolve_blocks
from headstart_speech.blocks import spec_augment
from headstart_speech.sources import SpeechSource

from .conftest import TINY_ARCH, ta_source

BLOCKS = ["feature_encoder", "feature_projection", "layer0", "layer1"]


def _source(name: str, **options: object) -> SpeechSource:
    source = get_registry().source(name, **options)
    assert isinstance(source, SpeechSource)
    return source


def _batch(source: SpeechSource) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return source.preprocessor.collate([torch.randn(16_000) * 0.1, torch.randn(9_000) * 0.1])


@pytest.mark.parametrize("kind", ["wav2vec2", "hubert", "wavlm"])
def test_hf_directory_loads_with_block_map_covering_every_parameter(hf_dirs: dict[str, Path], kind: str) -> None:
    source = _source(f"hf:{hf_dirs[kind]}")
    assert [b.name for b in source.blocks] == BLOCKS
    model = TransferModel(source, torch.nn.Identity())
    infos = resolve_blocks(model, model.blocks)  # raises if a parameter has no block
    assert sum(i.numel for i in infos) == sum(p.numel() for p in source.backbone.parameters())
    assert source.output_spec.kind == "sequence" and source.output_spec.dim == 32
    assert source.output_spec.extras["frame_rate"] == 50.0
    assert source.default_keep_frozen == ("feature_encoder",)
    assert source.default_lr == pytest.approx(5e-5 * 768 / 32)  # wav2vec 2.0 BASE's rate at width 32


def test_hf_forward_matches_transformers_and_masks_padding(hf_dir: Path) -> None:
    from transformers import AutoModel

    source = _source(f"hf:{hf_dir}")
    source.backbone.eval()
    batch = _batch(source)
    features = source.forward(batch)
    reference = AutoModel.from_pretrained(hf_dir).eval()(batch["input_values"]).last_hidden_state
    torch.testing.assert_close(features.values, reference)
    assert features.mask is not None
    assert features.mask.sum(1).tolist() == [49, 27]  # 1 s and 0.56 s at 50 frames per second
    assert source.preprocessor.normalize and not source.preprocessor.attention_mask  # from preprocessor_config.json


def test_forward_calls_block_members_in_block_order(hf_dir: Path, ta_checkpoint: Path) -> None:
    for source in (_source(f"hf:{hf_dir}"), _source(**ta_source(ta_checkpoint))):
        modules = dict(source.backbone.named_modules())
        calls: list[str] = []
        handles = [
            modules[m].register_forward_pre_hook(lambda mod, args, m=m, calls=calls: calls.append(m))
            for b in source.blocks
            for m in b.members
            if m in modules
        ]
        source.forward(_batch(source))
        for h in handles:
            h.remove()
        expected = [m for b in source.blocks for m in b.members if m in modules]
        assert calls == expected, source.name


def test_torchaudio_checkpoint_loads_and_matches_torchaudio(ta_checkpoint: Path) -> None:
    source = _source(**ta_source(ta_checkpoint))
    saved = torch.load(ta_checkpoint, weights_only=True)
    assert all(torch.equal(saved[k], v) for k, v in source.backbone.state_dict().items())
    assert [b.name for b in source.blocks] == BLOCKS
    source.backbone.eval()
    batch = _batch(source)
    features = source.forward(batch)
    reference, lengths = source.backbone(batch["input_values"], batch["lengths"])
    assert lengths is not None
    for i, n in enumerate(lengths.tolist()):  # padded frames may differ; real frames must not
        torch.testing.assert_close(features.values[i, :n], reference[i, :n], atol=1e-4, rtol=1e-4)
    assert features.mask is not None and features.mask.sum(1).tolist() == lengths.tolist()


def test_torchaudio_offline_without_checkpoint_names_the_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from torchaudio.pipelines import Wav2Vec2Bundle

    def offline(self: object, dl_kwargs: object) -> None:
        raise OSError("network is unreachable")

    monkeypatch.setattr(Wav2Vec2Bundle, "_get_state_dict", offline)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(ValueError, match=r"checkpoints/hubert_fairseq_base_ls960\.pth|checkpoint:"):
        _source("torchaudio:HUBERT_BASE", architecture=None)


def test_torchaudio_errors_name_what_is_wrong(ta_checkpoint: Path) -> None:
    with pytest.raises(UnknownNameError, match="WAV2VEC2_BASE"):
        _source("torchaudio:WAV2VEC2_BAS")
    with pytest.raises(ValueError, match="don't fit"):
        _source("torchaudio:WAV2VEC2_BASE", checkpoint=str(ta_checkpoint))  # full-size architecture
    with pytest.raises(ValueError, match=r"unknown key.*encoder_layers"):
        _source("torchaudio:WAV2VEC2_BASE", pretrained=False, architecture={**TINY_ARCH, "encoder_layers": 2})


def test_hf_passes_non_speech_models_on_with_lookup_error(tmp_path: Path) -> None:
    from transformers import BertConfig, BertModel

    from headstart_speech.hf_source import HFSpeechProvider

    BertModel(
        BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64)
    ).save_pretrained(tmp_path / "bert")
    with pytest.raises(LookupError, match="'bert' model, not a speech encoder"):
        HFSpeechProvider().resolve(str(tmp_path / "bert"))
    with pytest.raises(LookupError, match="could not load a Hugging Face config"):
        HFSpeechProvider().resolve("no-such-org/no-such-model")


def test_spec_augment_and_layerdrop_act_only_in_training(hf_dir: Path, ta_checkpoint: Path) -> None:
    x = torch.ones(2, 40, 32)
    masked = spec_augment(x, torch.tensor([40, 20]), time_prob=0.5, time_length=4, channel_prob=0.0, channel_length=4)
    assert (masked[0] == 0).all(-1).any() and (masked[1, 20:] == 1).all()  # whole frames; padding never masked
    masked = spec_augment(x, torch.tensor([40, 20]), time_prob=0.0, time_length=4, channel_prob=0.5, channel_length=4)
    assert (masked[0] == 0).all(0).any() and not (masked[0] == 0).all(-1).any()  # whole channels
    for source in (
        _source(f"hf:{hf_dir}", mask_time_prob=0.5, mask_time_length=2, layerdrop=0.5),
        _source(**ta_source(ta_checkpoint, mask_time_prob=0.5, mask_time_length=2, layerdrop=0.5)),
    ):
        batch = _batch(source)
        source.backbone.eval()
        a, b = source.forward(batch).values, source.forward(batch).values
        torch.testing.assert_close(a, b)  # eval: deterministic, no masking, no layer drop
        source.backbone.train()
        for m in source.backbone.modules():  # dropout off, so only masking / layer drop differ
            if isinstance(m, torch.nn.Dropout):
                m.p = 0.0
        torch.manual_seed(0)
        assert not torch.allclose(source.forward(batch).values, a), source.name


def test_reinitialize_replaces_every_weight(ta_checkpoint: Path, hf_dir: Path) -> None:
    for source in (_source(**ta_source(ta_checkpoint)), _source(f"hf:{hf_dir}", mask_time_prob=0.05)):
        before = {k: v.clone() for k, v in source.backbone.named_parameters()}
        source.reinitialize(7)
        after = dict(source.backbone.named_parameters())
        unchanged = [k for k, v in before.items() if torch.equal(v, after[k]) and v.std() > 0]
        assert not unchanged, f"{source.name}: not re-initialised: {unchanged}"
        assert "random" in source.describe()["weights"]
