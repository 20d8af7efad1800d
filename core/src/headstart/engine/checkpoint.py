"""Atomic checkpoints: weights as safetensors, everything else as a ``weights_only`` state file.

Layout under ``<run>/checkpoints/``::

    epoch-0003/model.safetensors   weights (and BatchNorm buffers) of backbone + head — or, for a
                                   run that leaves most of the source frozen, only what trains
                                   (a *delta*, see :mod:`headstart.engine.delta`)
    epoch-0003/state.pt            optimizer, step, epoch, freeze state, RNG states, counters
    last -> epoch-0003             symlinks, replaced atomically
    best -> epoch-0002

A checkpoint directory is written under a temporary name and renamed into place; only then is the
``last`` / ``best`` link switched (``os.replace``). A crash at any point leaves the previous links
pointing at complete checkpoints. Loading never unpickles code: the state file is read with
``torch.load(weights_only=True)`` and both files must carry Headstart's format marker.
"""

from __future__ import annotations

import os
import pickle
import random
import shutil
from collections import OrderedDict
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_model, save_file, save_model
from torch import nn

from ..rundir import RunDir
from . import delta
from .atomic import fsync_dir, fsync_file

FORMAT = "headstart-checkpoint"
VERSION = 1
WEIGHTS = "model.safetensors"
STATE = "state.pt"


class CheckpointError(ValueError):
    """A checkpoint that is missing, incomplete, or not written by Headstart."""


def rng_state() -> dict[str, Any]:
    """RNG states of torch, CUDA, numpy and ``random`` in weights_only-loadable types."""
    np_state: tuple[Any, ...] = tuple(np.random.get_state(legacy=True))
    py_state = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]],
        "python": [py_state[0], list(py_state[1]), py_state[2]],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    kind, keys, *rest = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), *rest))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))


def save_checkpoint(
    ckpt_dir: Path,
    name: str,
    model: nn.Module | Mapping[str, torch.Tensor],
    state: dict[str, Any],
    links: tuple[str, ...] = ("last",),
    *,
    keys: Collection[str] | None = None,
    metadata: Mapping[str, str] | None = None,
) -> Path:
    """Write ``ckpt_dir/name`` atomically, then point each of ``links`` at it. With ``keys``, the
    weights file holds only those state-dict entries (a delta; ``metadata`` from
    :func:`headstart.engine.delta.reference` says what the rest must be), read from ``model`` or
    given as a mapping of them (a copy held since an earlier epoch).

    If writing fails (disk full, read-only directory), the temporary directory is removed and the
    links still point at the previous complete checkpoint.
    """
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    final = ckpt_dir / name
    tmp = ckpt_dir / f".tmp-{name}-{os.getpid()}"
    try:
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
        marker = {"format": FORMAT, "version": str(VERSION)}
        if keys is None:
            assert isinstance(model, nn.Module), "a full checkpoint is read from the model"
            save_model(model, str(tmp / WEIGHTS), metadata=marker, force_contiguous=True)
        else:
            held = isinstance(model, Mapping)
            found = model if isinstance(model, Mapping) else delta.entries(model, keys)
            entries = {k: (v if held else v.clone()).contiguous() for k, v in found.items()}
            save_file(entries, str(tmp / WEIGHTS), metadata={**marker, **(metadata or {})})
        torch.save({"format": FORMAT, "version": VERSION, **state}, tmp / STATE)
        for f in (WEIGHTS, STATE):
            fsync_file(tmp / f)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError) and not exc.filename:  # name what could not be written
            raise OSError(exc.errno, exc.strerror or str(exc), str(final)) from exc
        raise
    if final.exists():  # the same epoch written again after a resume: keep the old one until replaced
        old = ckpt_dir / f".old-{name}-{os.getpid()}"
        final.rename(old)
        tmp.rename(final)
        shutil.rmtree(old)
    else:
        tmp.rename(final)
    fsync_dir(ckpt_dir)
    for link in links:
        tmp_link = ckpt_dir / f".{link}-{os.getpid()}"
        if tmp_link.is_symlink() or tmp_link.exists():
            tmp_link.unlink()
        tmp_link.symlink_to(name)
        os.replace(tmp_link, ckpt_dir / link)
    fsync_dir(ckpt_dir)
    _prune(ckpt_dir)
    return final


def _prune(ckpt_dir: Path) -> None:
    """Remove checkpoint directories no link points at (and leftovers of crashed writes)."""
    keep = {os.readlink(p) for p in ckpt_dir.iterdir() if p.is_symlink() and not p.name.startswith(".")}
    for p in ckpt_dir.iterdir():
        if p.is_dir() and not p.is_symlink() and p.name not in keep:
            shutil.rmtree(p, ignore_errors=True)


def clean_leftovers(ckpt_dir: Path) -> list[str]:
    """Remove what killed writers left in ``ckpt_dir`` (temporary directories and links, and
    checkpoints no link points at); returns their names. Call it only while holding the run lock."""
    if not ckpt_dir.is_dir():
        return []
    leftovers = [p.name for p in ckpt_dir.iterdir() if p.name.startswith(".")]
    for p in ckpt_dir.iterdir():
        if p.name.startswith(".") and p.is_symlink():
            p.unlink()
    _prune(ckpt_dir)
    return leftovers


def resolve(path: Path) -> Path:
    """A checkpoint directory from a run directory, a ``checkpoints/<link>`` or a directory."""
    path = Path(path)
    if RunDir(path).last.exists():
        path = RunDir(path).last
    if not (path / WEIGHTS).is_file() or not (path / STATE).is_file():
        raise CheckpointError(
            f"{path}: not a Headstart checkpoint directory (expected {WEIGHTS} and {STATE}; "
            "a run directory with checkpoints/last also works)"
        )
    return path.resolve()


def load_state(ckpt: Path) -> dict[str, Any]:
    """Read ``state.pt`` with ``weights_only=True``; refuse anything that is not ours."""
    file = ckpt / STATE
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(
            f"{file}: refused — it is not a Headstart state file and holds objects that safe "
            f"loading (weights_only=True) does not allow ({first}). Nothing from it was executed."
        ) from None
    except Exception as exc:  # truncated, not a zip/pickle at all
        raise CheckpointError(
            f"{file}: cannot be read as a Headstart state file ({type(exc).__name__}: {exc})"
        ) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{file}: not a Headstart checkpoint (no {FORMAT!r} format marker)")
    if state.get("version") != VERSION:
        raise CheckpointError(
            f"{file}: checkpoint version {state.get('version')} is not supported (expected {VERSION})"
        )
    return state


def weights_metadata(ckpt: Path) -> dict[str, str]:
    """The metadata of ``ckpt``'s weights file, after checking it is Headstart's."""
    file = ckpt / WEIGHTS
    try:
        with safe_open(str(file), framework="pt") as f:
            meta = f.metadata() or {}
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"{file}: not a readable safetensors file ({exc})") from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{file}: not a Headstart checkpoint (no {FORMAT!r} format marker)")
    return dict(meta)


def is_delta(ckpt: Path) -> bool:
    """Whether ``ckpt`` stores only what trained (its model must be rebuilt from the source)."""
    return weights_metadata(ckpt).get("delta") == "1"


def load_weights(ckpt: Path, model: nn.Module, *, skip: tuple[str, ...] = ()) -> None:
    """Load ``model.safetensors`` into ``model`` strictly; errors name the file and keys.

    A delta checkpoint loads into a model rebuilt as the run built it (source + the policy's
    ``prepare``): every stored entry must exist, and everything not stored must hash to what the
    run started from. ``skip`` leaves out stored entries under those prefixes (a head). An entry
    that already holds the stored value is not written again."""
    file = ckpt / WEIGHTS
    meta = weights_metadata(ckpt)
    if meta.get("delta") != "1":
        missing, unexpected = load_model(model, str(file), strict=False)
        if missing or unexpected:
            raise CheckpointError(
                f"{file}: does not fit the model: missing {sorted(missing)[:5]}, unexpected {sorted(unexpected)[:5]}"
            )
        return
    with safe_open(str(file), framework="pt") as f:
        stored = list(f.keys())
        entries = {k: f.get_tensor(k) for k in stored if not (skip and k.startswith(skip))}
    own = model.state_dict(keep_vars=True)
    unexpected = sorted(k for k in entries if k not in own)
    if unexpected:
        raise CheckpointError(
            f"{file}: stores {unexpected[:5]} which the model does not have; it was written for a model "
            "with other adapters or layers (was the run's policy prepared before loading?)"
        )
    found = delta.frozen_hash(model, set(stored), own)
    if found != meta.get("frozen_sha256"):
        raise CheckpointError(
            f"{file}: stores only what trained, over the frozen weights of source {meta.get('source')}; "
            f"this model's frozen weights differ (sha256 {found[:12]}…, expected {str(meta.get('frozen_sha256'))[:12]}…). "
            "Rebuild the run's source with the same name, options and weights"
        )
    # entries that already hold the stored values are left alone, and the modules' state-dict
    # versions go along (without them BatchNorm writes its own step counter back into itself):
    # version counters of what is not written stay, so digests of the weights stay valid
    changed: OrderedDict[str, torch.Tensor] = OrderedDict(
        (k, v)
        for k, v in entries.items()
        if not (own[k].shape == v.shape and own[k].dtype == v.dtype and torch.equal(own[k], v))
    )
    changed._metadata = getattr(own, "_metadata", OrderedDict())  # type: ignore[attr-defined]
    model.load_state_dict(changed, strict=False)


def load_backbone_weights(ckpt: Path, backbone: nn.Module, prefix: str = "backbone.") -> None:
    """Load only the backbone part of a run's ``model.safetensors`` (the head is left out)."""
    file = ckpt / WEIGHTS
    try:
        with safe_open(str(file), framework="pt") as f:
            meta = f.metadata() or {}
            state = {k[len(prefix) :]: f.get_tensor(k) for k in f.keys() if k.startswith(prefix)}
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"{file}: not a readable safetensors file ({exc})") from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{file}: not a Headstart checkpoint (no {FORMAT!r} format marker)")
    for removed, kept in meta.items():  # names safetensors dropped because they shared storage
        if removed.startswith(prefix) and kept.startswith(prefix):
            state[removed[len(prefix) :]] = state[kept[len(prefix) :]]
    missing, unexpected = backbone.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise CheckpointError(
            f"{file}: the backbone saved there does not fit this source: missing {sorted(missing)[:5]}, "
            f"unexpected {sorted(unexpected)[:5]}"
        )
