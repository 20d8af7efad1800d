"""What every speech source shares: the SourceModel surface around a wav2vec 2.0-style backbone.

The two implementations (:mod:`.hf_source` for transformers, :mod:`.torchaudio_source` for
torchaudio) only differ in how they build the backbone and run it (``_encode``); block map,
output spec, frame mask, LayerDrop, re-initialisation and ``describe`` live here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from headstart import Block, Features, FeatureSpec

from .audio import AudioPreprocessor
from .blocks import LayerDrop, frame_mask, reinitialize


def spec_augment_options(
    mask_time_prob: float | None = None,
    mask_time_length: int | None = None,
    mask_feature_prob: float | None = None,
    mask_feature_length: int | None = None,
) -> dict[str, float | int]:
    """Check SpecAugment options (``None``: the source's default) and return the ones given."""
    given = {
        "mask_time_prob": mask_time_prob,
        "mask_time_length": mask_time_length,
        "mask_feature_prob": mask_feature_prob,
        "mask_feature_length": mask_feature_length,
    }
    for key, value in given.items():
        if value is None:
            continue
        if key.endswith("prob") and not 0.0 <= float(value) < 1.0:
            raise ValueError(f"{key} = {value}: expected a probability in [0, 1)")
        if key.endswith("length") and int(value) < 1:
            raise ValueError(f"{key} = {value}: expected a positive number of frames (or channels)")
    return {k: v for k, v in given.items() if v is not None}


class SpeechSource:
    """A :class:`headstart.SourceModel` over a wav2vec 2.0-family backbone.

    ``forward`` takes the batch built by :meth:`AudioPreprocessor.collate` (``input_values``,
    ``attention_mask``, ``lengths``) and returns ``Features([B, frames, hidden], mask)``.

    By the wav2vec 2.0 fine-tuning convention the convolutional feature encoder stays frozen
    unless the experiment sets ``policy.keep_frozen`` itself (``keep_frozen: []`` trains it).
    """

    default_keep_frozen: tuple[str, ...] = ("feature_encoder",)
    #: Where the ``lora`` policy puts adapters by default: each transformer layer's attention
    #: query and value projections (the same names in transformers and torchaudio).
    adapter_targets: tuple[str, ...] = ("*.attention.q_proj", "*.attention.v_proj")
    #: AdamW rate for fine-tuning wav2vec 2.0 BASE (the transformers recipes use 3e-5 … 1e-4), at its width
    recipe_lr: float = 5e-5
    recipe_width: int = 768

    @property
    def default_lr(self) -> float:
        """The family's fine-tuning rate for this encoder's width: ``recipe_lr`` × 768 / hidden size
        (Adam's rate scales as 1 / width: a narrow wav2vec 2.0, such as a source trained by a small
        ``run:``, fine-tunes at a larger rate than BASE)."""
        return self.recipe_lr * self.recipe_width / self.output_spec.dim

    def __init__(
        self,
        name: str,
        backbone: nn.Module,
        blocks: Sequence[Block],
        hidden: int,
        preprocessor: AudioPreprocessor,
        frame_rate: float,
        layers: Sequence[nn.Module],
        layerdrop: float,
        info: dict[str, Any],
    ) -> None:
        self.name = name
        self.backbone = backbone
        self.blocks: list[Block] = list(blocks)
        self.preprocessor = preprocessor
        self.sample_rate = preprocessor.sample_rate
        self.output_spec = FeatureSpec(
            "sequence", hidden, extras={"frame_rate": frame_rate, "sample_rate": preprocessor.sample_rate}
        )
        self.layerdrop = LayerDrop(layers, layerdrop)
        self.info = {**info, "layerdrop": layerdrop, "preprocessor": preprocessor.describe()}

    def _encode(self, inputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """``(hidden states [B, T, H], frame lengths [B])``; implemented by each backend."""
        raise NotImplementedError

    def forward(self, inputs: dict[str, torch.Tensor]) -> Features:
        values, lengths = self._encode(inputs)
        lengths = lengths.to(values.device).clamp(max=values.shape[1])
        return Features(values, frame_mask(lengths, values.shape[1]))

    def reinitialize(self, seed: int) -> None:
        """Every weight freshly initialised (the ``scratch`` baseline). A random feature encoder has
        nothing to keep, so it no longer stays frozen by default."""
        reinitialize(self.backbone, seed)
        self.default_keep_frozen = ()
        self.info["weights"] = f"random (seed {seed})"

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, **self.info}
