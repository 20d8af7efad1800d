"""``torchaudio:<bundle>``: torchaudio's wav2vec 2.0 / HuBERT / WavLM pipeline bundles.

The architecture comes from the bundle (``WAV2VEC2_BASE``, ``HUBERT_BASE``, ``WAVLM_BASE`` …,
optionally changed with ``architecture``); the weights from ``checkpoint`` (a local state-dict
file in torchaudio's format, the file the bundle downloads) or, without it, from the bundle's own
download, which torch.hub serves from its cache (``<torch hub dir>/checkpoints/``) when offline.
ASR bundles give their backbone (the ``aux`` output layer is dropped).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

from headstart import check_options

from .audio import AudioPreprocessor
from .blocks import receptive_field, spec_augment, wav2vec2_blocks
from .sources import SpeechSource, spec_augment_options


def torchaudio_options(
    pretrained: bool = True,
    checkpoint: str | None = None,
    architecture: dict[str, Any] | None = None,
    mask_time_prob: float = 0.05,
    mask_time_length: int = 10,
    mask_feature_prob: float = 0.0,
    mask_feature_length: int = 10,
    layerdrop: float = 0.0,
) -> dict[str, Any]:
    """Source options of ``torchaudio:`` bundles.

    * ``pretrained``: load weights (``false``: random initialisation, nothing is read).
    * ``checkpoint``: a local state-dict file for the architecture (offline use).
    * ``architecture``: overrides of the bundle's ``wav2vec2_model`` / ``wavlm_model`` arguments
      (``encoder_num_layers``, ``encoder_embed_dim`` …) — for reduced models.
    * ``mask_*``: SpecAugment during training (masked frames become zeros: torchaudio models keep
      no mask embedding); ``layerdrop``: probability of skipping a trainable layer in a step.
    """
    return dict(locals())


def _bundles() -> dict[str, Any]:
    import torchaudio.pipelines as pipelines
    from torchaudio.pipelines import Wav2Vec2Bundle

    return {n: getattr(pipelines, n) for n in dir(pipelines) if isinstance(getattr(pipelines, n), Wav2Vec2Bundle)}


def _hub_file(bundle: Any) -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(str(bundle._path)).name


class TorchaudioSource(SpeechSource):
    """A torchaudio wav2vec 2.0-family model; its forward runs the parts in block order."""

    def __init__(self, bundle_name: str, bundle: Any, options: dict[str, Any]) -> None:
        from torchaudio.models import wav2vec2_model, wavlm_model

        params = dict(bundle._params)
        unknown = sorted(set(options["architecture"] or {}) - set(params))
        if unknown:
            raise ValueError(f"architecture: unknown key(s) {', '.join(unknown)}; valid: {', '.join(sorted(params))}")
        params.update(options["architecture"] or {})
        params["aux_num_out"] = None
        params["encoder_layer_drop"] = 0.0  # LayerDrop is applied by the plugin (see blocks.LayerDrop)
        factory = wavlm_model if bundle._model_type == "WavLM" else wav2vec2_model
        model = factory(**params)
        weights = self._load_weights(bundle_name, bundle, model, options)
        model.train()
        self.model = model
        self.mask = spec_augment_options(**{k: options[k] for k in _MASK_KEYS})
        # the transformer's own flag (wav2vec2_model inverts ``encoder_layer_norm_first`` for it)
        self.norm_first = bool(model.encoder.transformer.layer_norm_first)
        convs = [(k, s) for _, k, s in params["extractor_conv_layer_config"]]
        blocks = wav2vec2_blocks(
            model,
            feature_encoder="feature_extractor",
            projection=("encoder.feature_projection", "encoder.transformer.pos_conv_embed"),
            layers="encoder.transformer.layers",
            norm="encoder.transformer.layer_norm",
            norm_first=self.norm_first,
        )
        sample_rate = int(bundle.sample_rate)
        super().__init__(
            name=f"torchaudio:{bundle_name}",
            backbone=model,
            blocks=blocks,
            hidden=int(params["encoder_embed_dim"]),
            preprocessor=AudioPreprocessor(
                sample_rate,
                normalize=bool(bundle._normalize_waveform),
                attention_mask=True,
                min_samples=receptive_field(convs),
                eps=1e-5,
            ),
            frame_rate=sample_rate / math.prod(s for _, s in convs),
            layers=list(model.encoder.transformer.layers),
            layerdrop=options["layerdrop"],
            info={
                "bundle": bundle_name,
                "weights": weights,
                "architecture": options["architecture"] or {},
                "spec_augment": self.mask,
            },
        )

    def save_for_inference(self, directory: Path) -> dict[str, Any]:
        """The bundle's architecture is code: rebuilt with random weights the checkpoint replaces."""
        section: dict[str, Any] = {"name": self.name, "pretrained": False}
        if self.info["architecture"]:
            section["architecture"] = dict(self.info["architecture"])
        return section

    @staticmethod
    def _load_weights(bundle_name: str, bundle: Any, model: torch.nn.Module, options: dict[str, Any]) -> str:
        if options["checkpoint"]:
            path = Path(options["checkpoint"]).expanduser()
            if not path.is_file():
                raise ValueError(f"checkpoint: {path} is not a file")
            try:
                state = torch.load(path, map_location="cpu", weights_only=True)
            except Exception as exc:
                raise ValueError(f"checkpoint: {path} is not a torch state-dict file ({exc})") from None
            if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
                state = state["state_dict"]
            origin = str(path)
        elif options["pretrained"]:
            if options["architecture"]:
                raise ValueError(
                    "architecture changes the bundle's model, so its pretrained weights don't fit; "
                    "give checkpoint: <file> saved for that architecture, or pretrained: false"
                )
            try:
                state = bundle._get_state_dict(None)
            except Exception as exc:
                raise ValueError(
                    f"could not get the weights of torchaudio bundle {bundle_name} ({exc}). Offline, put the "
                    f"bundle's file at {_hub_file(bundle)} or give checkpoint: <path to it>"
                ) from None
            origin = f"torchaudio bundle {bundle_name}"
        else:
            return "random (pretrained: false)"
        state = {k: v for k, v in state.items() if not k.startswith("aux.")}
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:
            raise ValueError(
                f"{origin}: the weights don't fit {bundle_name}'s architecture"
                f"{' with ' + str(options['architecture']) if options['architecture'] else ''} "
                f"({str(exc).splitlines()[1].strip() if len(str(exc).splitlines()) > 1 else exc}); "
                "set architecture to the one the checkpoint was saved for"
            ) from None
        return f"pretrained ({origin})"

    def _encode(self, inputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        m = self.model
        x, lengths = m.feature_extractor(inputs["input_values"], inputs["lengths"])
        assert lengths is not None
        t = m.encoder.transformer
        x = m.encoder.feature_projection(x)
        pad = ~(torch.arange(x.shape[1], device=x.device)[None, :] < lengths[:, None])
        if m.training and self.mask:
            x = spec_augment(
                x,
                lengths,
                time_prob=float(self.mask.get("mask_time_prob", 0.0)),
                time_length=int(self.mask.get("mask_time_length", 10)),
                channel_prob=float(self.mask.get("mask_feature_prob", 0.0)),
                channel_length=int(self.mask.get("mask_feature_length", 10)),
            )
        x = x.masked_fill(pad.unsqueeze(-1), 0.0)
        attn = (-10000.0 * pad[:, None, None, :].to(x.dtype)).expand(x.shape[0], 1, x.shape[1], x.shape[1])
        x = x + t.pos_conv_embed(x)
        if t.layer_norm_first:
            x = t.layer_norm(x)
        x = t.dropout(x)
        position_bias = None
        for layer in t.layers:
            x, position_bias = layer(x, attn, position_bias=position_bias)
        if not t.layer_norm_first:
            x = t.layer_norm(x)
        return x, lengths


_MASK_KEYS = ("mask_time_prob", "mask_time_length", "mask_feature_prob", "mask_feature_length")


class TorchaudioProvider:
    """Serves ``torchaudio:<bundle>`` for torchaudio's wav2vec 2.0 / HuBERT / WavLM bundles."""

    scheme = "torchaudio"

    def resolve(self, name: str, **options: Any) -> SpeechSource:
        bundles = _bundles()
        if name not in bundles:
            raise LookupError(f"torchaudio has no wav2vec 2.0-family bundle {name!r}")
        checked = check_options(torchaudio_options, options, "source")
        return TorchaudioSource(name, bundles[name], torchaudio_options(**checked))

    def available(self) -> list[str]:
        return sorted(_bundles())

    def contract_example(self, tmp_path: Path) -> list[dict[str, Any]]:
        """Tiny offline sources for Headstart's contract kit: a reduced WAV2VEC2_BASE (a state-dict file)."""
        from .contract import torchaudio_examples

        return torchaudio_examples(tmp_path)
