"""The block map of a BERT-family encoder: ``embeddings``, then ``layer0 … layerN-1``.

The map is found from the model's structure, the same way for every family:

1. the **embeddings** module is the model's ``embeddings`` attribute;
2. the **layers** are the outermost ``nn.ModuleList`` whose name ends in ``layer``, ``layers`` or
   ``layer_groups`` (``encoder.layer`` in BERT / RoBERTa / ELECTRA / DeBERTa,
   ``transformer.layer`` in DistilBERT, ``encoder.albert_layer_groups`` in ALBERT, whose layers
   share weights, so its blocks are its layer groups);
3. every other parameter is placed by **when it runs**, found by tracing one forward pass on a
   few dummy tokens: modules that run before the first layer join ``embeddings`` (ELECTRA's
   ``embeddings_project``, ALBERT's ``embedding_hidden_mapping_in``, DeBERTa-v2's relative
   position ``LayerNorm``), modules that run after layer *i* join ``layer<i>`` (DeBERTa-v2's
   ``conv`` after layer 0), and those after the last layer — the pooler, a final norm — join the
   last block. Parameters read directly rather than through a module call (DeBERTa's
   ``rel_embeddings``) are position tables and join ``embeddings``.

Members of each block are listed in the order they run, so the engine's no-grad hooks on the
first and last member of a frozen prefix fire where they should.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from headstart import Block, BlockMapError

#: Endings of the name of the layer list.
LAYER_LIST_NAMES = ("layer", "layers", "layer_groups")


def find_embeddings(model: nn.Module) -> str:
    """Path of the embeddings module (``"embeddings"``), or BlockMapError naming the class."""
    if isinstance(getattr(model, "embeddings", None), nn.Module):
        return "embeddings"
    children = ", ".join(n for n, _ in model.named_children()) or "(none)"
    raise BlockMapError(
        f"cannot find the embeddings of {type(model).__name__}: it has no 'embeddings' sub-module "
        f"(its children: {children}). The hf: source of the NLP plugin serves BERT-family encoders "
        "(BERT, RoBERTa, DistilBERT, ALBERT, ELECTRA, DeBERTa, MiniLM …)"
    )


def find_layers(model: nn.Module) -> str:
    """Path of the outermost ModuleList of transformer layers, or BlockMapError naming the class."""
    candidates = [
        name
        for name, module in model.named_modules()
        if isinstance(module, nn.ModuleList) and len(module) > 0 and name.split(".")[-1].endswith(LAYER_LIST_NAMES)
    ]
    if not candidates:
        raise BlockMapError(
            f"cannot find the transformer layers of {type(model).__name__}: no nn.ModuleList named "
            f"{' / '.join(repr(n) for n in LAYER_LIST_NAMES)} (e.g. 'encoder.layer'). The hf: source of the "
            "NLP plugin serves BERT-family encoders (BERT, RoBERTa, DistilBERT, ALBERT, ELECTRA, DeBERTa, MiniLM …)"
        )
    return str(min(candidates, key=lambda n: (n.count("."), n)))


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _leftover_members(model: nn.Module, owned: list[str]) -> list[str]:
    """The outermost modules (or single parameters) holding only parameters outside ``owned``."""
    params = [n for n, _ in model.named_parameters()]
    left = [n for n in params if not any(_under(n, o) for o in owned)]
    left_set = set(left)
    modules = dict(model.named_modules())
    members: list[str] = []
    for pname in left:
        if any(_under(pname, m) for m in members):
            continue
        parts = pname.split(".")
        best = pname  # a parameter of the root module stays a parameter member
        for i in range(len(parts) - 1, 0, -1):  # from the parameter's owner upwards
            path = ".".join(parts[:i])
            inside = [f"{path}.{n}" for n, _ in modules[path].named_parameters()]
            if not all(p in left_set for p in inside):
                break
            best = path
        members.append(best)
    return members


def _trace(model: nn.Module, paths: list[str], vocab_size: int) -> dict[str, int]:
    """Index of the first call of each module in ``paths`` during a forward pass on dummy tokens."""
    modules = dict(model.named_modules())
    order: dict[str, int] = {}
    counter = [0]

    def hook(path: str) -> Any:
        def record(*_: Any) -> None:
            counter[0] += 1
            order.setdefault(path, counter[0])

        return record

    handles = [modules[p].register_forward_pre_hook(hook(p)) for p in paths if p in modules]
    was_training = model.training
    model.eval()
    try:
        ids = torch.arange(1, 6).clamp(max=max(1, vocab_size - 1)).unsqueeze(0)
        device = next(model.parameters()).device
        with torch.no_grad():
            model(input_ids=ids.to(device), attention_mask=torch.ones_like(ids).to(device))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return order


def text_blocks(model: nn.Module, vocab_size: int | None = None) -> list[Block]:
    """The block map of a transformers text encoder (see the module docstring)."""
    embeddings = find_embeddings(model)
    layers_path = find_layers(model)
    layer_list = model.get_submodule(layers_path)
    layers = [f"{layers_path}.{i}" for i in range(len(layer_list))]  # type: ignore[arg-type]
    if _under(embeddings, layers_path) or _under(layers_path, embeddings):
        raise BlockMapError(f"{type(model).__name__}: embeddings {embeddings!r} and layers {layers_path!r} overlap")
    extra = _leftover_members(model, [embeddings, layers_path])
    config: Any = getattr(model, "config", None)
    vocab = vocab_size or int(getattr(config, "vocab_size", 8) or 8)
    order = _trace(model, [embeddings, *layers, *extra], vocab)
    missing = [p for p in [embeddings, *layers] if p not in order]
    if missing:
        raise BlockMapError(
            f"{type(model).__name__}: {', '.join(missing)} did not run in a forward pass on dummy tokens; "
            "cannot order its blocks"
        )
    starts = [order[p] for p in layers]
    groups: dict[int, list[str]] = {-1: [embeddings]} | {i: [p] for i, p in enumerate(layers)}
    uncalled: list[str] = []
    for member in sorted(extra, key=lambda m: order.get(m, 0)):
        if member not in order:
            uncalled.append(member)
            continue
        after = [i for i, s in enumerate(starts) if s < order[member]]
        groups[after[-1] if after else -1].append(member)
    # read directly (never called): position tables, owned by embeddings as parameter members
    modules = dict(model.named_modules())
    for member in uncalled:
        if member in modules:
            groups[-1].extend(f"{member}.{n}" for n, _ in modules[member].named_parameters())
        else:
            groups[-1].append(member)
    return [Block("embeddings", _ordered(groups[-1], order))] + [
        Block(f"layer{i}", _ordered(groups[i], order)) for i in range(len(layers))
    ]


def _ordered(members: list[str], order: Mapping[str, int]) -> tuple[str, ...]:
    """Called members by first call, then parameter members (which the no-grad hooks ignore)."""
    called = sorted((m for m in members if m in order), key=order.__getitem__)
    return (*called, *(m for m in members if m not in order))
