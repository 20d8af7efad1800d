"""``toy:mlp``: an MLP with BatchNorm whose stem and stages form the block map."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file
from torch import nn

from headstart import Block, Features, FeatureSpec, check_options, reset_parameters


class ToyMLP(nn.Module):
    def __init__(self, in_features: int, width: int, depth: int, dropout: float) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Linear(in_features, width), nn.BatchNorm1d(width), nn.ReLU())
        self.stages = nn.ModuleList(
            nn.Sequential(nn.Linear(width, width), nn.BatchNorm1d(width), nn.ReLU(), nn.Dropout(dropout))
            for _ in range(depth)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
        return x


class ToySource:
    """A :class:`headstart.SourceModel` around :class:`ToyMLP`."""

    def __init__(
        self, in_features: int = 8, width: int = 32, depth: int = 3, dropout: float = 0.0, weights: str | None = None
    ) -> None:
        self.name = "toy:mlp"
        self.options = {
            "in_features": in_features,
            "width": width,
            "depth": depth,
            "dropout": dropout,
            "weights": weights,
        }
        self.backbone = ToyMLP(in_features, width, depth, dropout)
        self.blocks = [Block("stem", ("stem",))] + [Block(f"stage{i + 1}", (f"stages.{i}",)) for i in range(depth)]
        self.output_spec = FeatureSpec("vector", width)
        self.preprocessor = None
        if weights:
            path = Path(weights)
            state = load_file(str(path)) if path.suffix == ".safetensors" else torch.load(path, weights_only=True)
            self.backbone.load_state_dict(state)

    def forward(self, inputs: Any) -> Features:
        return Features(self.backbone(inputs["x"]))

    def reinitialize(self, seed: int) -> None:
        reset_parameters(self.backbone, seed)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, **self.options}


class ToyProvider:
    scheme = "toy"

    def resolve(self, name: str, **options: Any) -> ToySource:
        if name != "mlp":
            raise LookupError(f"the toy plugin has no source {name!r}")
        return ToySource(**check_options(ToySource, options, "source"))

    def available(self) -> list[str]:
        return ["mlp"]
