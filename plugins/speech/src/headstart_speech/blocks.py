"""The wav2vec 2.0 block map, and the fine-tuning conventions that act on blocks.

Every wav2vec 2.0-family model (wav2vec 2.0, HuBERT, WavLM, in their Hugging Face or torchaudio
implementation) has the same three parts, and the block map names them the same way:

* ``feature_encoder``: the convolutional stack over the raw waveform;
* ``feature_projection``: layer norm + linear projection to the transformer width, the learned
  mask embedding (SpecAugment), the convolutional positional embedding, and the encoder's layer
  norm when it runs before the layers;
* ``layer0`` … ``layerN-1``: one block per transformer layer; the encoder's final layer norm
  (and an adapter) belong to the last layer when they run after the layers.

LayerDrop is applied here as a forward hook that hands a layer's input through unchanged, so the
layer is still *called* (the engine's frozen-prefix hooks rely on it) and frozen layers, which the
engine keeps in eval mode, are never dropped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, cast

import torch
from torch import nn
from torch.nn.utils import parametrize

from headstart import Block, reset_parameters


def _params_of(module: nn.Module, name: str) -> bool:
    try:
        sub = module.get_submodule(name)
    except AttributeError:
        return False
    return any(True for _ in sub.parameters())


def wav2vec2_blocks(
    backbone: nn.Module,
    *,
    feature_encoder: str,
    projection: Sequence[str],
    layers: str,
    norm: str | None,
    norm_first: bool,
    extra_before: Sequence[str] = (),
    extra_after: Sequence[str] = (),
) -> list[Block]:
    """The block map of a wav2vec 2.0-style backbone, given where its parts live.

    ``norm`` is the encoder-level layer norm; ``norm_first`` says whether it runs before the
    transformer layers (post-norm wav2vec 2.0 base) or after them (pre-norm "stable" variants).
    ``extra_before`` (parameters such as the mask embedding) join ``feature_projection``;
    ``extra_after`` (an adapter) join the last layer.
    """
    layer_list = backbone.get_submodule(layers)
    n = len(layer_list)  # type: ignore[arg-type]
    if n == 0:
        raise ValueError(f"{type(backbone).__name__} has no transformer layers under {layers!r}")
    params = dict(backbone.named_parameters())
    proj = [m for m in projection if _params_of(backbone, m)]
    proj[1:1] = [p for p in extra_before if p in params]
    if norm is not None and norm_first:
        proj.append(norm)
    blocks = [Block("feature_encoder", (feature_encoder,)), Block("feature_projection", tuple(proj))]
    for i in range(n):
        members = [f"{layers}.{i}"]
        if i == n - 1:
            if norm is not None and not norm_first:
                members.append(norm)
            members.extend(m for m in extra_after if _params_of(backbone, m))
        blocks.append(Block(f"layer{i}", tuple(members)))
    return blocks


def conv_output_lengths(lengths: torch.Tensor, layers: Sequence[tuple[int, int]]) -> torch.Tensor:
    """Frames out of a stack of unpadded 1-D convolutions ``(kernel, stride)`` for sample counts."""
    out = lengths.clone()
    for kernel, stride in layers:
        out = torch.div(out - kernel, stride, rounding_mode="floor") + 1
    return out.clamp(min=0)


def receptive_field(layers: Sequence[tuple[int, int]]) -> int:
    """Samples needed for one output frame of the convolution stack."""
    field, jump = 1, 1
    for kernel, stride in layers:
        field += (kernel - 1) * jump
        jump *= stride
    return field


def frame_mask(lengths: torch.Tensor, frames: int) -> torch.Tensor:
    """``[B, frames]`` boolean mask, true where a frame is real."""
    return torch.arange(frames, device=lengths.device)[None, :] < lengths[:, None]


class LayerDrop:
    """Skips each *training* transformer layer with probability ``p`` (its input passes through)."""

    def __init__(self, layers: Sequence[nn.Module], p: float) -> None:
        if not 0.0 <= p < 1.0:
            raise ValueError(f"layerdrop = {p}: expected a probability in [0, 1)")
        self.p = p
        self.handles = [layer.register_forward_hook(self._hook) for layer in layers] if p > 0 else []

    def _hook(self, module: nn.Module, args: tuple[Any, ...], output: Any) -> Any:
        if not module.training or not args or torch.rand(()).item() >= self.p:
            return None
        x = args[0]
        if isinstance(output, torch.Tensor):
            return x
        if isinstance(output, tuple):
            return (x, *output[1:])
        return None


def spec_augment(
    x: torch.Tensor,
    lengths: torch.Tensor,
    *,
    time_prob: float,
    time_length: int,
    channel_prob: float,
    channel_length: int,
    mask_value: torch.Tensor | None = None,
) -> torch.Tensor:
    """SpecAugment-style masking of ``x`` (``[B, T, C]``) as wav2vec 2.0 fine-tuning does it.

    About ``time_prob * T / time_length`` spans of ``time_length`` frames per utterance are replaced
    by ``mask_value`` (zeros when none), and ``channel_prob * C / channel_length`` spans of channels
    are zeroed for the whole utterance. Returns a new tensor.
    """
    out = x.clone()
    batch, _, channels = x.shape
    for b in range(batch):
        real = int(lengths[b])
        if time_prob > 0 and real > time_length:
            spans = int(time_prob * real / time_length + torch.rand(()).item())
            for start in torch.randint(0, real - time_length + 1, (spans,)).tolist():
                out[b, start : start + time_length] = 0.0 if mask_value is None else mask_value.to(x.dtype)
        if channel_prob > 0 and channels > channel_length:
            spans = int(channel_prob * channels / channel_length + torch.rand(()).item())
            for start in torch.randint(0, channels - channel_length + 1, (spans,)).tolist():
                out[b, :, start : start + channel_length] = 0.0
    return out


def reinitialize(backbone: nn.Module, seed: int) -> None:
    """Fresh random weights for every parameter of ``backbone``, reproducibly from ``seed``.

    torch's ``reset_parameters`` on each module, plus the parts it misses: weight-normalised
    convolutions (the positional embedding; their parametrised originals are re-set through the
    parametrisation) and bare parameters such as the mask embedding.
    """
    reset_parameters(backbone, seed)
    with torch.random.fork_rng(), torch.no_grad():
        torch.manual_seed(seed + 1)
        for module in backbone.modules():
            if parametrize.is_parametrized(module):
                for pname in list(cast(nn.ModuleDict, module.parametrizations)):
                    fresh = torch.empty_like(getattr(module, pname))
                    nn.init.kaiming_uniform_(fresh, a=math.sqrt(5))
                    setattr(module, pname, fresh)
            if type(module).__module__.startswith("torch.nn") or hasattr(module, "reset_parameters"):
                continue
            for _, p in module.named_parameters(recurse=False):  # mask embedding, gate constants …
                p.uniform_()
