"""Block maps of vision backbones: ``stem, stage1 … stageN``, from input to output.

Three ways, most specific first:

* **timm**: the model's own ``group_matcher(coarse=True)`` (stem, then stages or transformer
  blocks); a trailing group that the matcher does not name (a final norm) joins the last stage.
* **torchvision**: the known structure of each family — ResNet (``conv1, bn1`` / ``layer1-4``),
  RegNet, DenseNet, ViT (``encoder.layers``), and every model whose ``features`` is a
  ``Sequential`` (EfficientNet, MobileNet, ConvNeXt, Swin, VGG …): ``features[0]`` is the stem and
  the rest is cut into stages where the spatial resolution changes.
* **fallback**: the top-level children that own parameters, in order.

What is left of the original classifier after its last ``Linear`` was removed (ConvNeXt's
``LayerNorm2d``, MobileNetV3's pre-logits layer) joins the last stage. Members are module paths
(parameter paths only where a module's parameters are split between blocks), listed in the order
they run, so the engine can run a frozen prefix under ``no_grad``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, cast

import torch
from torch import nn

from headstart import Block

# --- members from a parameter -> block assignment -----------------------------------------------


def members_from_assignment(model: nn.Module, owner: Callable[[str], str], order: Sequence[str]) -> list[Block]:
    """Blocks named ``order`` whose members are the largest modules whose parameters all belong to
    one block (``owner(param_name)``); parameters of a split module become members themselves."""
    members: dict[str, list[str]] = {name: [] for name in order}

    def visit(module: nn.Module, prefix: str) -> None:
        for pname, _ in module.named_parameters(recurse=False):
            full = prefix + pname
            members[owner(full)].append(full)
        for cname, child in module.named_children():
            path = prefix + cname
            owners = {owner(f"{path}.{n}") for n, _ in child.named_parameters()}
            if len(owners) == 1:
                members[owners.pop()].append(path)
            elif owners:
                visit(child, path + ".")

    visit(model, "")
    return [Block(name, tuple(m)) for name, m in members.items() if m]


def _stage_names(n: int) -> list[str]:
    return ["stem", *(f"stage{i}" for i in range(1, n))]


# --- timm ---------------------------------------------------------------------------------------


def _matched(name: str, matcher: dict[str, Any]) -> bool:
    for spec in matcher.values():
        if spec is None:
            continue
        patterns = [s[0] for s in spec] if isinstance(spec, list | tuple) else [spec]
        if any(re.match(p, name) for p in patterns):
            return True
    return False


def timm_blocks(model: nn.Module) -> list[Block]:
    """Blocks from timm's ``group_matcher(coarse=True)``; the fallback when a model has none."""
    matcher_fn = getattr(model, "group_matcher", None)
    if matcher_fn is None:
        return generic_blocks(model)
    from timm.models import group_parameters

    try:
        matcher = matcher_fn(coarse=True)
        groups = [list(v) for _, v in sorted(group_parameters(model, matcher).items())]
    except Exception:  # a model whose matcher does not fit its own parameters
        return generic_blocks(model)
    if isinstance(matcher, dict) and len(groups) > 2 and not any(_matched(n, matcher) for n in groups[-1]):
        groups[-2].extend(groups.pop())  # an unnamed final norm joins the last stage
    if len(groups) < 2:
        return generic_blocks(model)
    names = _stage_names(len(groups))
    where = {p: names[i] for i, g in enumerate(groups) for p in g}
    return members_from_assignment(model, where.__getitem__, names)


# --- torchvision --------------------------------------------------------------------------------


def _has(model: nn.Module, *paths: str) -> bool:
    modules = dict(model.named_modules())
    return all(p in modules for p in paths)


def _spatial(shape: torch.Size) -> tuple[int, ...]:
    """Spatial size of an NCHW or NHWC activation (the probe input is square)."""
    if len(shape) != 4:
        return tuple(shape[1:])
    if shape[2] == shape[3]:
        return (shape[2],)
    if shape[1] == shape[2]:
        return (shape[1],)
    return tuple(shape[1:])


def _resolution_stages(model: nn.Module, seq: nn.Sequential, stem: int, probe: torch.Tensor) -> list[list[int]]:
    """Indices of ``seq``'s children after ``stem`` that own parameters, cut into stages where the
    output resolution changes (measured with one probe forward)."""
    sizes: dict[int, tuple[int, ...]] = {}
    handles = [
        child.register_forward_hook(lambda m, a, out, i=i: sizes.__setitem__(i, _spatial(out.shape)))
        for i, child in enumerate(seq)
    ]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(probe)
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    stages: list[list[int]] = []
    last = sizes.get(stem)
    for i, child in enumerate(seq):
        if i <= stem or not any(True for _ in child.parameters()):
            continue
        size = sizes.get(i, last)
        if not stages or size != last:
            stages.append([])
        last = size
        stages[-1].append(i)
    return stages


def torchvision_blocks(model: nn.Module, extra_last: Sequence[str], probe_size: int = 64) -> list[Block]:
    """The block map of a torchvision classification model (classifier already removed).

    ``extra_last`` are the kept parts of the original classifier; they join the last stage.
    """
    stages: list[list[str]]
    if _has(model, "conv1", "layer1", "layer4"):  # ResNet, ResNeXt, Wide ResNet
        stages = [["conv1", "bn1"], *[[f"layer{i}"] for i in range(1, 5)]]
    elif _has(model, "stem", "trunk_output"):  # RegNet
        trunk = model.get_submodule("trunk_output")
        stages = [["stem"], *[[f"trunk_output.{n}"] for n, _ in trunk.named_children()]]
    elif _has(model, "conv_proj", "encoder.layers"):  # ViT
        layers = model.get_submodule("encoder.layers")
        stages = [
            ["conv_proj", "class_token", "encoder.pos_embedding"],
            *[[f"encoder.layers.{n}"] for n, _ in layers.named_children()],
        ]
        stages[-1].append("encoder.ln")
    elif _has(model, "features.conv0", "features.denseblock1"):  # DenseNet
        feats = dict(model.get_submodule("features").named_children())
        blocks_n = sum(1 for n in feats if n.startswith("denseblock"))
        stages = [["features.conv0", "features.norm0"]]
        for i in range(1, blocks_n + 1):
            stages.append([f"features.{n}" for n in (f"denseblock{i}", f"transition{i}") if n in feats])
        stages[-1].append("features.norm5")
    elif _has(model, "stem", "blocks") and isinstance(model.get_submodule("blocks"), nn.ModuleList):  # MaxViT
        stages = [["stem"], *[[f"blocks.{i}"] for i in range(len(cast(nn.ModuleList, model.get_submodule("blocks"))))]]
    elif seq_name := next(
        (n for n in ("features", "layers") if isinstance(getattr(model, n, None), nn.Sequential)), None
    ):  # EfficientNet, MobileNet, MNASNet, ConvNeXt, Swin, VGG, AlexNet
        seq = model.get_submodule(seq_name)
        assert isinstance(seq, nn.Sequential)
        first = next(i for i, c in enumerate(seq) if any(True for _ in c.parameters()))
        probe = torch.zeros(1, 3, probe_size, probe_size)
        rest = _resolution_stages(model, seq, first, probe)
        stages = [[f"{seq_name}.{first}"], *[[f"{seq_name}.{i}" for i in s] for s in rest]]
        for name in ("norm",):  # Swin's final norm
            if _has(model, name) and any(True for _ in model.get_submodule(name).parameters()):
                stages[-1].append(name)
    else:
        return generic_blocks(model, extra_last)
    stages[-1].extend(extra_last)
    return [Block(name, tuple(m)) for name, m in zip(_stage_names(len(stages)), stages)]


# --- fallback -----------------------------------------------------------------------------------


def generic_blocks(model: nn.Module, extra_last: Iterable[str] = ()) -> list[Block]:
    """Top-level children that own parameters, each a block named after it; parameters held by
    the model itself join the first block."""
    extra = set(extra_last)
    own = [n for n, _ in model.named_parameters(recurse=False)]
    blocks: list[list[str]] = []
    names: list[str] = []
    for name, child in model.named_children():
        if name in extra or not any(True for _ in child.parameters()):
            continue
        blocks.append([name])
        names.append(name if name != "head" else "head_pre")
    if not blocks:
        return [Block("body", tuple(own or [n for n, _ in model.named_children()]))]
    blocks[0] = own + blocks[0]
    blocks[-1].extend(e for e in extra_last if e not in blocks[-1])
    return [Block(n, tuple(m)) for n, m in zip(names, blocks)]
