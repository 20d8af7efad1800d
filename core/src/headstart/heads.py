"""Heads shared by every domain: pooling, linear and MLP classifiers, per-position classifiers.

A head takes the source's :class:`~headstart.Features` and returns logits. Tasks build them from
the source's :class:`~headstart.FeatureSpec` so one task works on every source of its domain.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from .interfaces import Features, FeatureSpec

Pooling = Literal["mean", "cls", "max"]


def pool(features: Features, mode: Pooling = "mean") -> torch.Tensor:
    """``[batch, dim]`` from vector features (unchanged) or sequence features (pooled over the mask)."""
    x = features.values
    if x.ndim == 2:
        return x
    if mode == "cls":
        return x[:, 0]
    mask = features.mask if features.mask is not None else torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
    m = mask.to(x.dtype).unsqueeze(-1)
    if mode == "mean":
        return (x * m).sum(1) / m.sum(1).clamp(min=1.0)
    if mode == "max":
        return x.masked_fill(~mask.bool().unsqueeze(-1), torch.finfo(x.dtype).min).amax(1)
    raise ValueError(f"unknown pooling {mode!r}; valid: mean, cls, max")


def _mlp(dim: int, out: int, hidden: int | None, dropout: float) -> nn.Module:
    if hidden is None:
        return nn.Sequential(nn.Dropout(dropout), nn.Linear(dim, out))
    return nn.Sequential(
        nn.Dropout(dropout), nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, out)
    )


class ClassificationHead(nn.Module):
    """Pool (for sequences), then a linear layer or an MLP with one hidden layer.

    ``outputs=1`` makes it a regression head.
    """

    def __init__(
        self,
        spec: FeatureSpec,
        outputs: int,
        *,
        hidden: int | None = None,
        dropout: float = 0.0,
        pooling: Pooling = "mean",
    ) -> None:
        super().__init__()
        if outputs < 1:
            raise ValueError(f"a head needs at least one output, got {outputs}")
        self.pooling: Pooling = pooling
        self.net = _mlp(spec.dim, outputs, hidden, dropout)

    def forward(self, features: Features) -> torch.Tensor:
        return self.net(pool(features, self.pooling))  # type: ignore[no-any-return]


class SequenceHead(nn.Module):
    """One prediction per position (token tags, CTC characters): ``[batch, length, outputs]``."""

    def __init__(self, spec: FeatureSpec, outputs: int, *, hidden: int | None = None, dropout: float = 0.0) -> None:
        super().__init__()
        if spec.kind != "sequence":
            raise ValueError(f"a per-position head needs sequence features, the source gives {spec.kind!r}")
        self.net = _mlp(spec.dim, outputs, hidden, dropout)

    def forward(self, features: Features) -> torch.Tensor:
        return self.net(features.values)  # type: ignore[no-any-return]
