"""Block maps: torchvision families, timm group matchers, and the generic fallback."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from headstart import get_registry, resolve_blocks
from headstart_vision.blocks import generic_blocks, timm_blocks


@pytest.mark.parametrize(
    ("name", "blocks"),
    [
        ("mobilenet_v3_small", ["stem", "stage1", "stage2", "stage3", "stage4"]),
        ("squeezenet1_1", ["stem", "stage1", "stage2", "stage3"]),
        ("regnet_x_400mf", ["stem", "stage1", "stage2", "stage3", "stage4"]),
        ("shufflenet_v2_x0_5", ["conv1", "stage2", "stage3", "stage4", "conv5"]),  # generic fallback
    ],
)
def test_torchvision_families(name: str, blocks: list[str]) -> None:
    src = get_registry().source(f"torchvision:{name}", pretrained=False)
    info = resolve_blocks(src.backbone, src.blocks)  # every parameter in exactly one block
    assert [b.name for b in info] == blocks
    assert all(b.numel > 0 for b in info)
    src.backbone.eval()
    with torch.no_grad():
        out = src.forward(torch.zeros(1, 3, 64, 64)).values
    assert out.shape == (1, src.output_spec.dim)


def test_mobilenet_v3_keeps_its_pre_logits_layer_in_the_last_stage() -> None:
    src = get_registry().source("torchvision:mobilenet_v3_small", pretrained=False)
    assert src.output_spec.dim == 1024
    assert src.blocks[-1].members[-1] == "classifier"
    assert isinstance(src.backbone.classifier[3], nn.Identity)  # type: ignore[index]


def test_timm_final_norm_joins_the_last_stage() -> None:
    src = get_registry().source("timm:test_convnext", pretrained=False)
    assert [b.name for b in src.blocks] == ["stem", "stage1", "stage2", "stage3", "stage4"]
    assert src.blocks[-1].members == ("stages.3", "head")  # head.norm, all that is left of the head


class Odd(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(1))
        self.encoder = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.mixer = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mixer(self.pool(self.encoder(x * self.scale)).flatten(1))


def test_generic_fallback_uses_top_level_children_in_order() -> None:
    model = Odd()
    blocks = generic_blocks(model)
    assert [(b.name, b.members) for b in blocks] == [("encoder", ("scale", "encoder")), ("mixer", ("mixer",))]
    resolve_blocks(model, blocks)
    assert [b.name for b in timm_blocks(model)] == ["encoder", "mixer"]  # no group_matcher: fallback
