"""Contract checks for source providers and source models.

Each ``check_*`` function raises :class:`~headstart.testing.ContractError` naming what is wrong
and what would be right, and returns nothing when the component honours the contract.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..engine.checkpoint import CheckpointError, load_weights, save_checkpoint
from ..freeze.blockmap import BlockMapError, resolve_blocks
from ..interfaces import HEAD, Block, Features, FeatureSpec, SourceModel, SourceProvider
from ..registry import Registry, UnknownNameError, get_registry
from ..rundir import RunDir
from .errors import ContractError

#: A name no provider serves, used to check "errors for bad names".
NONSENSE = "no-such-component-zzz"
#: An option no component takes, used to check that bad options are refused.
BAD_OPTION = "no_such_option_zzz"


def check_provider(provider: object) -> None:
    """A :class:`~headstart.SourceProvider`: a scheme, ``available()`` names, and a
    ``LookupError`` (saying what is valid) for a name it does not serve."""
    if not isinstance(provider, SourceProvider):
        raise ContractError(
            f"{type(provider).__name__} is not a SourceProvider: it needs `scheme`, `resolve(name, **options)` "
            "and `available()`"
        )
    scheme = provider.scheme
    if not isinstance(scheme, str) or not scheme or ":" in scheme:
        raise ContractError(f"{type(provider).__name__}.scheme must be a non-empty string without ':', got {scheme!r}")
    names = provider.available()
    if not isinstance(names, list | tuple) or not all(isinstance(n, str) for n in names):
        raise ContractError(f"provider {scheme!r}: available() must return a list of names (str), got {names!r}")
    try:
        provider.resolve(NONSENSE)
    except LookupError as exc:
        if not str(exc):
            raise ContractError(f"provider {scheme!r}: the LookupError for an unknown name has no message") from None
    except Exception as exc:
        raise ContractError(
            f"provider {scheme!r}: resolving the unknown name {NONSENSE!r} raised {type(exc).__name__}: {exc}; "
            "it must raise LookupError (so other providers of the scheme get their turn)"
        ) from exc
    else:
        raise ContractError(f"provider {scheme!r}: resolving the unknown name {NONSENSE!r} returned a source")


def check_unknown_source(scheme: str, registry: Registry | None = None) -> None:
    """``get_registry().source("<scheme>:<nonsense>")`` raises UnknownNameError listing valid names."""
    registry = registry or get_registry()
    name = f"{scheme}:{NONSENSE}"
    try:
        registry.source(name)
    except UnknownNameError as exc:
        expected = {f"{scheme}:{n}" for p in registry.providers_for(scheme) for n in p.available()}
        missing = sorted(expected - set(exc.choices))
        if missing:
            raise ContractError(f"the error for {name!r} does not list the valid name(s) {missing[:5]}") from None
        if NONSENSE not in str(exc):
            raise ContractError(f"the error for {name!r} does not name the bad name: {exc}") from None
    except Exception as exc:
        raise ContractError(
            f"resolving {name!r} raised {type(exc).__name__}: {exc}; expected UnknownNameError"
        ) from exc
    else:
        raise ContractError(f"resolving {name!r} returned a source instead of raising UnknownNameError")


def check_unknown_option(provider: SourceProvider, name: str, options: Mapping[str, Any]) -> None:
    """Resolving ``name`` with an extra option nobody takes raises ValueError/TypeError naming it."""
    try:
        provider.resolve(name.partition(":")[2] if ":" in name else name, **{**options, BAD_OPTION: 1})
    except (ValueError, TypeError) as exc:
        if BAD_OPTION not in str(exc):
            raise ContractError(
                f"source {name!r}: the error for option {BAD_OPTION!r} does not name it: {exc}"
            ) from None
    except Exception as exc:
        raise ContractError(
            f"source {name!r}: an unknown option raised {type(exc).__name__}: {exc}; expected ValueError naming it"
        ) from exc
    else:
        raise ContractError(f"source {name!r}: the unknown option {BAD_OPTION!r} was accepted silently")


def check_block_map(source: SourceModel) -> None:
    """Blocks are ordered, uniquely named, not ``head``, each with parameters, and together cover
    every parameter of ``backbone`` exactly once."""
    backbone = source.backbone
    if not isinstance(backbone, nn.Module):
        raise ContractError(f"source {source.name!r}: backbone must be an nn.Module, got {type(backbone).__name__}")
    if not any(True for _ in backbone.parameters()):
        raise ContractError(f"source {source.name!r}: backbone has no parameters")
    blocks = list(source.blocks)
    if not blocks or not all(isinstance(b, Block) for b in blocks):
        raise ContractError(f"source {source.name!r}: blocks must be a non-empty list of headstart.Block")
    if any(b.name == HEAD for b in blocks):
        raise ContractError(f"source {source.name!r}: no block may be named {HEAD!r}; the engine appends the head")
    try:
        infos = resolve_blocks(backbone, blocks)
    except BlockMapError as exc:
        raise ContractError(f"source {source.name!r}: {exc}") from None
    empty = [b.name for b in infos if not b.params]
    if empty:
        raise ContractError(f"source {source.name!r}: block(s) {', '.join(empty)} hold no parameters")
    keep = getattr(source, "default_keep_frozen", ())
    unknown = sorted(set(keep) - {b.name for b in blocks})
    if unknown:
        raise ContractError(f"source {source.name!r}: default_keep_frozen names unknown block(s) {unknown}")


def check_output_spec(source: SourceModel) -> None:
    if not isinstance(source.output_spec, FeatureSpec):
        raise ContractError(f"source {source.name!r}: output_spec must be a headstart.FeatureSpec")


def check_describe(source: SourceModel) -> None:
    """``describe()`` is a JSON-serialisable dict (it is saved with every run)."""
    info = source.describe()
    if not isinstance(info, dict):
        raise ContractError(f"source {source.name!r}: describe() must return a dict, got {type(info).__name__}")
    try:
        json.dumps(info)
    except (TypeError, ValueError) as exc:
        raise ContractError(f"source {source.name!r}: describe() is not JSON-serialisable ({exc})") from None


def _snapshot(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _differs(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> list[str]:
    return [k for k in a if a[k].shape != b[k].shape or not torch.equal(a[k], b[k])]


@contextmanager
def _tmpdir(path: Path | None) -> Iterator[Path]:
    if path is not None:
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="headstart-contract-") as d:
        yield Path(d)


def check_reinitialize_and_round_trip(source: SourceModel, tmp_path: Path | None = None) -> None:
    """``reinitialize(seed)`` changes the weights and is deterministic, and the weights survive
    Headstart's checkpoint format (save, reinitialise, load, compare). The source ends with its
    original weights."""
    original = _snapshot(source.backbone)
    with _tmpdir(tmp_path) as d:
        try:
            path = save_checkpoint(RunDir(d).checkpoints, "contract", source.backbone, {})
        except Exception as exc:
            raise ContractError(f"source {source.name!r}: its weights cannot be checkpointed ({exc})") from exc
        source.reinitialize(7)
        first = _snapshot(source.backbone)
        if not _differs(original, first):
            raise ContractError(f"source {source.name!r}: reinitialize(7) left every weight unchanged")
        source.reinitialize(7)
        again = _differs(first, _snapshot(source.backbone))
        if again:
            raise ContractError(
                f"source {source.name!r}: reinitialize(7) twice gave different weights ({', '.join(again[:3])}); "
                "it must seed its initialisation"
            )
        try:
            load_weights(path, source.backbone)
        except CheckpointError as exc:
            raise ContractError(f"source {source.name!r}: checkpoint round trip failed: {exc}") from None
    changed = _differs(original, _snapshot(source.backbone))
    if changed:
        raise ContractError(f"source {source.name!r}: weights differ after a checkpoint round trip: {changed[:5]}")


def check_source(source: object, tmp_path: Path | None = None) -> None:
    """Every static check of a :class:`~headstart.SourceModel` (no forward pass; see
    :func:`check_forward` for that)."""
    if not isinstance(source, SourceModel):
        raise ContractError(
            f"{type(source).__name__} is not a SourceModel: it needs name, backbone, blocks, output_spec, "
            "preprocessor, forward(), reinitialize() and describe()"
        )
    if not isinstance(source.name, str) or ":" not in source.name:
        raise ContractError(f"source name must be 'scheme:name', got {source.name!r}")
    check_block_map(source)
    check_output_spec(source)
    check_describe(source)
    check_reinitialize_and_round_trip(source, tmp_path)


def _member_modules(source: SourceModel) -> list[tuple[str, str, nn.Module]]:
    modules = dict(source.backbone.named_modules())
    return [(b.name, m, modules[m]) for b in source.blocks for m in b.members if m in modules]


def check_forward(source: SourceModel, inputs: Any) -> Features:
    """Run ``source.forward(inputs)``: it returns :class:`~headstart.Features` shaped as
    ``output_spec`` says, and calls block members in block order (input to output)."""
    calls: list[str] = []
    handles = []
    for block, member, module in _member_modules(source):
        handles.append(module.register_forward_pre_hook(lambda *_, b=block, m=member: calls.append(f"{b}\0{m}")))
    try:
        out = source.forward(inputs)
    finally:
        for h in handles:
            h.remove()
    if not isinstance(out, Features):
        raise ContractError(
            f"source {source.name!r}: forward() must return headstart.Features, got {type(out).__name__}"
        )
    spec, values = source.output_spec, out.values
    want = 2 if spec.kind == "vector" else 3
    if values.ndim != want or values.shape[-1] != spec.dim:
        raise ContractError(
            f"source {source.name!r}: output_spec says {spec.kind} features of dim {spec.dim} "
            f"({'[batch, dim]' if want == 2 else '[batch, length, dim]'}) but forward() returned {tuple(values.shape)}"
        )
    if spec.kind == "sequence" and (out.mask is None or tuple(out.mask.shape) != tuple(values.shape[:2])):
        got = None if out.mask is None else tuple(out.mask.shape)
        raise ContractError(
            f"source {source.name!r}: sequence features need a mask of shape {tuple(values.shape[:2])}, got {got}"
        )
    order = [b.name for b in source.blocks]
    first: dict[str, int] = {}
    for i, call in enumerate(calls):
        first.setdefault(call.split("\0")[0], i)
    never = [b for b in order if b not in first and any(bn == b for bn, _, _ in _member_modules(source))]
    if never:
        raise ContractError(f"source {source.name!r}: no member of block(s) {', '.join(never)} ran during forward()")
    ran = sorted(first, key=first.__getitem__)
    expected = [b for b in order if b in first]
    if ran != expected:
        raise ContractError(
            f"source {source.name!r}: blocks ran in the order {', '.join(ran)} but the block map lists "
            f"{', '.join(expected)}; list blocks from input to output and call their members through __call__"
        )
    return out
