"""``hf:<hub id or directory>``: wav2vec 2.0, HuBERT, WavLM … through transformers.

The model is loaded with ``AutoConfig`` / ``AutoModel.from_pretrained`` (its base model: a
``Wav2Vec2ForCTC`` checkpoint gives its ``Wav2Vec2Model``), the audio settings with
``AutoFeatureExtractor``. Hub ids honour the local Hugging Face cache and ``HF_HUB_OFFLINE``; a
local stand-in registered through ``headstart_local_models`` is used first. Model types that are
not speech encoders raise ``LookupError`` so another ``hf`` provider (the NLP plugin) can serve them.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

from headstart import check_options, get_registry

from .audio import AudioPreprocessor
from .blocks import receptive_field, wav2vec2_blocks
from .sources import SpeechSource, spec_augment_options

#: ``config.model_type`` values this provider serves (wav2vec 2.0 and its relatives).
SPEECH_MODEL_TYPES = ("wav2vec2", "hubert", "wavlm", "data2vec-audio", "unispeech", "unispeech-sat")

#: A few well-known ids, for suggestions (any id or directory of these model types works).
KNOWN_IDS = (
    "facebook/wav2vec2-base",
    "facebook/wav2vec2-large-lv60",
    "facebook/wav2vec2-base-960h",
    "facebook/hubert-base-ls960",
    "microsoft/wavlm-base",
    "microsoft/wavlm-base-plus",
)


def hf_options(
    pretrained: bool = True,
    revision: str | None = None,
    config: dict[str, Any] | None = None,
    mask_time_prob: float | None = None,
    mask_time_length: int | None = None,
    mask_feature_prob: float | None = None,
    mask_feature_length: int | None = None,
    layerdrop: float = 0.0,
) -> dict[str, Any]:
    """Source options of ``hf:`` speech models.

    * ``pretrained``: load the weights (``false``: the architecture with a random initialisation).
    * ``revision``: hub revision; ``config``: overrides of config attributes (``hidden_dropout`` …).
    * ``mask_time_prob`` / ``mask_time_length`` / ``mask_feature_prob`` / ``mask_feature_length``:
      SpecAugment during training (default: the model config's values).
    * ``layerdrop``: probability of skipping a trainable transformer layer in a training step.
    """
    return dict(locals())


class HFSpeechSource(SpeechSource):
    """A transformers speech encoder as a Headstart source."""

    def __init__(self, name: str, location: str, options: dict[str, Any]) -> None:
        from transformers import AutoConfig, AutoModel

        revision = options["revision"]
        cfg = AutoConfig.from_pretrained(location, revision=revision)
        for key, value in (options["config"] or {}).items():
            if not hasattr(cfg, key):
                raise ValueError(f"config.{key}: {type(cfg).__name__} has no attribute {key!r}")
            setattr(cfg, key, value)
        for key, value in spec_augment_options(**{k: options[k] for k in _MASK_KEYS}).items():
            setattr(cfg, key, value)
        cfg.layerdrop = 0.0  # LayerDrop is applied by the plugin (see blocks.LayerDrop)
        if options["pretrained"]:
            model = AutoModel.from_pretrained(location, config=cfg, revision=revision)
            weights = f"pretrained ({location})"
        else:
            model = AutoModel.from_config(cfg)
            weights = "random (pretrained: false)"
        model.train()
        self.model = model
        convs = list(zip(cfg.conv_kernel, cfg.conv_stride, strict=True))
        stable = bool(getattr(cfg, "do_stable_layer_norm", False))
        blocks = wav2vec2_blocks(
            model,
            feature_encoder="feature_extractor",
            projection=("feature_projection", "encoder.pos_conv_embed"),
            layers="encoder.layers",
            norm="encoder.layer_norm" if _has(model, "encoder.layer_norm") else None,
            norm_first=not stable,
            extra_before=("masked_spec_embed",),
            extra_after=("adapter",),
        )
        preprocessor = _preprocessor(location, cfg, revision, receptive_field(convs))
        super().__init__(
            name=f"hf:{name}",
            backbone=model,
            blocks=blocks,
            hidden=int(cfg.hidden_size),
            preprocessor=preprocessor,
            frame_rate=preprocessor.sample_rate / math.prod(s for _, s in convs),
            layers=list(model.encoder.layers),
            layerdrop=options["layerdrop"],
            info={
                "location": location,
                "model_type": cfg.model_type,
                "weights": weights,
                "options": {k: v for k, v in options.items() if v is not None},
                "spec_augment": {k: getattr(cfg, k, None) for k in _MASK_KEYS},
            },
        )

    def export_formats(self) -> dict[str, Any]:
        """``hf``: a transformers model directory (see :mod:`headstart_speech.export`)."""
        from .export import export_hf

        return {"hf": export_hf}

    def save_for_inference(self, directory: Path) -> dict[str, Any]:
        """The config and a feature extractor with this source's audio settings, in the hub's
        format; rebuilt from there with random weights that the run's checkpoint replaces."""
        from transformers import Wav2Vec2FeatureExtractor

        self.model.config.save_pretrained(directory)
        pre = self.preprocessor
        Wav2Vec2FeatureExtractor(
            feature_size=1,
            sampling_rate=pre.sample_rate,
            padding_value=pre.padding_value,
            do_normalize=pre.normalize,
            return_attention_mask=pre.attention_mask,
        ).save_pretrained(directory)
        return {"name": "hf:{files}", "pretrained": False}

    def _encode(self, inputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        mask = inputs.get("attention_mask") if self.preprocessor.attention_mask else None
        out = self.model(inputs["input_values"], attention_mask=mask)
        lengths = self.model._get_feat_extract_output_lengths(inputs["lengths"])
        return out.last_hidden_state, lengths


_MASK_KEYS = ("mask_time_prob", "mask_time_length", "mask_feature_prob", "mask_feature_length")


def _has(model: Any, path: str) -> bool:
    try:
        model.get_submodule(path)
    except AttributeError:
        return False
    return True


def _preprocessor(location: str, cfg: Any, revision: str | None, min_samples: int) -> AudioPreprocessor:
    """Audio settings from the model's feature extractor (``preprocessor_config.json``); without
    one, the wav2vec 2.0 defaults for its kind of feature encoder."""
    from transformers import AutoFeatureExtractor

    try:
        fe = AutoFeatureExtractor.from_pretrained(location, revision=revision)
    except (OSError, ValueError):
        layer_norm = getattr(cfg, "feat_extract_norm", "group") == "layer"
        return AudioPreprocessor(16_000, normalize=True, attention_mask=layer_norm, min_samples=min_samples)
    return AudioPreprocessor(
        sample_rate=int(getattr(fe, "sampling_rate", 16_000)),
        normalize=bool(getattr(fe, "do_normalize", True)),
        attention_mask=bool(getattr(fe, "return_attention_mask", False)),
        padding_value=float(getattr(fe, "padding_value", 0.0)),
        min_samples=min_samples,
    )


class HFSpeechProvider:
    """Serves ``hf:`` names whose config is a speech encoder; passes every other name on."""

    scheme = "hf"

    def resolve(self, name: str, **options: Any) -> SpeechSource:
        from transformers import AutoConfig

        local = get_registry().local_model("hf", name)
        location = local.path if local is not None else name
        if not Path(location).is_dir() and Path(location).expanduser().is_dir():
            location = str(Path(location).expanduser())
        try:
            cfg = AutoConfig.from_pretrained(location, revision=options.get("revision"))
        except (OSError, ValueError) as exc:
            raise LookupError(
                f"the speech plugin could not load a Hugging Face config for {name!r} ({_first_line(exc)}); "
                "give a local directory with config.json, or a hub id that is in the local cache when offline"
            ) from None
        if cfg.model_type not in SPEECH_MODEL_TYPES:
            raise LookupError(
                f"{name!r} is a {cfg.model_type!r} model, not a speech encoder "
                f"(the speech plugin serves model types {', '.join(SPEECH_MODEL_TYPES)})"
            )
        checked = check_options(hf_options, options, "source")
        return HFSpeechSource(name, location, hf_options(**checked))

    def available(self) -> list[str]:
        return list(KNOWN_IDS)

    def contract_example(self, tmp_path: Path) -> list[dict[str, Any]]:
        """Tiny offline sources for Headstart's contract kit: directories written by ``save_pretrained``."""
        from .contract import hf_examples

        return hf_examples(tmp_path)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
