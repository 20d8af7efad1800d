"""Which parameters and normalisation layers belong to which block.

A parameter (or module) belongs to the block whose member is the longest dotted prefix of its
name. This is the only place that interprets a block map; everything else asks it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from torch import nn

from ..interfaces import Block

_NORM_TYPES: tuple[type[nn.Module], ...] = (
    nn.modules.batchnorm._BatchNorm,
    nn.modules.instancenorm._InstanceNorm,
    nn.LayerNorm,
    nn.GroupNorm,
    nn.LocalResponseNorm,
    nn.RMSNorm,
)


class BlockMapError(ValueError):
    """A block map that does not cover the model's parameters exactly once."""


def is_norm(module: nn.Module) -> bool:
    """True for normalisation layers (torch's, and custom ones whose class name ends in Norm)."""
    if isinstance(module, _NORM_TYPES):
        return True
    cls = type(module).__name__
    return cls.endswith(("Norm", "Norm1d", "Norm2d", "Norm3d", "NormAct2d")) and any(
        True for _ in module.parameters(recurse=False)
    )


@dataclass(frozen=True)
class BlockInfo:
    """A block resolved against a model: its parameters (by name) and normalisation layers."""

    name: str
    members: tuple[str, ...]
    params: tuple[str, ...]
    numel: int
    norm_modules: tuple[str, ...]
    norm_params: tuple[str, ...]
    modules: tuple[str, ...] = ()
    sizes: tuple[int, ...] = ()  #: numel of each of ``params``, in the same order


def _owner(name: str, member_to_block: dict[str, str]) -> tuple[str, str] | None:
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        prefix = ".".join(parts[:i])
        if prefix in member_to_block:
            return member_to_block[prefix], prefix
    return None


def resolve_blocks(model: nn.Module, blocks: Sequence[Block]) -> list[BlockInfo]:
    """Resolve ``blocks`` (members relative to ``model``) into :class:`BlockInfo`.

    Raises :class:`BlockMapError` naming the offending block, member or parameter when a member
    does not exist, two blocks claim the same member, or a parameter belongs to no block.
    """
    member_to_block: dict[str, str] = {}
    names = [b.name for b in blocks]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise BlockMapError(f"block names must be unique; repeated: {', '.join(dupes)}")
    modules = dict(model.named_modules())
    params = dict(model.named_parameters())
    for block in blocks:
        for member in block.members:
            if member in member_to_block:
                raise BlockMapError(
                    f"member {member!r} is listed in block {member_to_block[member]!r} "
                    f"and in block {block.name!r}; each member belongs to one block"
                )
            if member not in modules and member not in params:
                close = [m for m in modules if m and m.split(".")[-1] == member.split(".")[-1]][:3]
                hint = f" (modules with that name: {', '.join(close)})" if close else ""
                raise BlockMapError(
                    f"block {block.name!r}: {member!r} is neither a module nor a parameter of "
                    f"{type(model).__name__}{hint}"
                )
            member_to_block[member] = block.name

    by_block: dict[str, list[str]] = {b.name: [] for b in blocks}
    numel: dict[str, int] = {b.name: 0 for b in blocks}
    orphans: list[str] = []
    for pname, p in params.items():
        owner = _owner(pname, member_to_block)
        if owner is None:
            orphans.append(pname)
            continue
        by_block[owner[0]].append(pname)
        numel[owner[0]] += p.numel()
    if orphans:
        shown = ", ".join(orphans[:5]) + (f" and {len(orphans) - 5} more" if len(orphans) > 5 else "")
        raise BlockMapError(
            f"{len(orphans)} parameter(s) of {type(model).__name__} belong to no block: {shown}. "
            f"Every parameter must be covered by exactly one block (blocks: {', '.join(names)})"
        )

    norms: dict[str, list[str]] = {b.name: [] for b in blocks}
    norm_params: dict[str, list[str]] = {b.name: [] for b in blocks}
    owned: dict[str, list[str]] = {b.name: [] for b in blocks}
    for mname, module in modules.items():
        owner = _owner(mname, member_to_block) if mname else None
        if owner is None:
            continue
        owned[owner[0]].append(mname)
        if not is_norm(module):
            continue
        norms[owner[0]].append(mname)
        norm_params[owner[0]].extend(f"{mname}.{n}" for n, _ in module.named_parameters(recurse=False))

    return [
        BlockInfo(
            name=b.name,
            members=b.members,
            params=tuple(by_block[b.name]),
            numel=numel[b.name],
            norm_modules=tuple(norms[b.name]),
            norm_params=tuple(n for n in norm_params[b.name] if n in params),
            modules=tuple(owned[b.name]),
            sizes=tuple(params[p].numel() for p in by_block[b.name]),
        )
        for b in blocks
    ]


def member_modules(model: nn.Module, info: BlockInfo) -> Iterator[nn.Module]:
    """The block's members that are modules, in the order listed."""
    modules = dict(model.named_modules())
    for member in info.members:
        if member in modules:
            yield modules[member]
