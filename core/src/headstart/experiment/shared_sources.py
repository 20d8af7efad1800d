"""Sources lent from cell to cell of a matrix: build a source once, check it comes back unchanged.

The cells of a ``compare`` matrix that differ only in learning rate, policy settings or trainer
settings build the very same source: EfficientNet-Lite0 costs about 0.1 s to build and load on a
CPU, as much as ten cached epochs of its linear probe. Within :func:`sharing` (``run_matrix``
uses it), :func:`~headstart.experiment.build.build` asks :func:`lend` for its source:

- the first cell with a given key — the source section, the task section and the seed, so
  nothing a build or a task's ``prepare`` could read differs — builds the source as a run on its
  own does, and the random state right after that build is recorded;
- a later cell with the same key gets the same object, and the random state is set to the one
  recorded: what is built next (the head's initial weights, a policy's additions) is what a run
  on its own gets, bit for bit;
- when the cell ends, :func:`give_back` puts back what the freeze engine sets in every run
  (training mode, ``requires_grad``, stray gradients) and compares the source with what it lent:
  every module (identity, type, plain attributes, hooks), every parameter and buffer (identity,
  storage, shape, dtype, device, and its bytes against a copy made at the build), and the
  source's own attributes. Anything that differs — trained or loaded weights, a policy's
  adapters, moved batch-norm statistics — and the source is dropped: the next cell builds its own.

A source lent out is not lent again until it is given back (a run inside a run, such as the trial
runs of ``trainer.lr: auto``, builds its own). Nothing is lent under several processes,
``trainer.compile``, or to a run on another device than the CPU (moving the model there replaces
its storages, so it would never come back unchanged). At most :data:`MAX_BYTES` of weights (twice: the source and its copy) are
kept, the least recently lent dropped first; everything is dropped when ``sharing`` ends.
"""

from __future__ import annotations

import json
import random
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ..engine import fingerprint
from ..interfaces import SourceModel
from .config import ExperimentConfig

#: The most bytes of source weights kept between cells (each is kept twice: the source and the
#: copy it is compared with).
MAX_BYTES = 1 << 30

_PLAIN = frozenset({int, float, str, bytes, bool, type(None)})
_DICTS = frozenset({dict, OrderedDict})
_SIZED = frozenset({list, set, tuple})


@dataclass
class _Lent:
    source: SourceModel
    rng: tuple[Any, ...]  # the random state right after the build
    pristine: list[torch.Tensor]  # a copy of every parameter and buffer (as _walk lists them), made at the build
    shape: Any  # what _snapshot() saw when the source was built
    flags: dict[str, tuple[bool, ...]]  # training modes and requires_grad, to put back
    nbytes: int
    versions: list[tuple[torch.Tensor, int]]  # each tensor's version counter when it was lent
    out: bool = False  # lent to a cell now


_shelf: OrderedDict[str, _Lent] | None = None  # None: not within sharing()


@contextmanager
def sharing() -> Iterator[None]:
    """Within this block, runs of the same source, task and seed share one built source."""
    global _shelf
    outer = _shelf
    _shelf = OrderedDict() if outer is None else outer
    try:
        yield
    finally:
        if outer is None:
            _shelf = None


def key_of(config: ExperimentConfig) -> str | None:
    """What decides that two runs build the same source (None: this run builds its own)."""
    trainer = config.trainer
    if _shelf is None or trainer.compile or _distributed() or not _on_cpu(trainer.device):
        return None
    return json.dumps({"source": config.source, "task": config.task, "seed": config.seed}, sort_keys=True, default=str)


def lend(config: ExperimentConfig, build: Callable[[], SourceModel]) -> SourceModel:
    """The source of ``config``: the one on the shelf when there is one and it is free, else
    ``build()`` (called after the run's seeding, as a run on its own calls it)."""
    key = key_of(config)
    if key is None or _shelf is None:
        return build()
    held = _shelf.get(key)
    if held is not None and not held.out:
        _set_rng(held.rng)
        held.versions = _versions(_walk(held.source.backbone)[1])
        held.out = True
        _shelf.move_to_end(key)
        return held.source
    source = build()
    if held is None and isinstance(getattr(source, "backbone", None), nn.Module):
        _shelve(key, source)
    return source


def give_back(source: SourceModel) -> None:
    """The cell that was lent ``source`` is done with it: keep it for the next cell if it is as it
    was lent, else drop it. A source not from the shelf is left alone."""
    if _shelf is None:
        return
    for key, held in list(_shelf.items()):
        if held.source is source:
            held.out = False
            try:
                kept = _restore_and_compare(held)
            except Exception:  # whatever the cell left behind, the next cell builds its own
                kept = False
            if not kept:
                del _shelf[key]
                return
            # the same bytes as when lent (a load of ``best`` may have written them again): digests
            # of the weights (feature-cache keys, delta references) stay valid for the next cell
            fingerprint.unchanged_since(held.versions)
            return


def _shelve(key: str, source: SourceModel) -> None:
    assert _shelf is not None
    modules, tensors = _walk(source.backbone)
    nbytes = sum(t.numel() * t.element_size() for t in {id(t): t for _, t, _ in tensors}.values())
    if 2 * nbytes > MAX_BYTES:
        return
    while _shelf and 2 * (nbytes + sum(h.nbytes for h in _shelf.values())) > MAX_BYTES:
        oldest = next((k for k, h in _shelf.items() if not h.out), None)
        if oldest is None:
            return
        del _shelf[oldest]
    pristine = [t.detach().clone() for _, t, _ in tensors]
    flags = {
        "modes": tuple(m.training for _, m in modules),
        "requires_grad": tuple(t.requires_grad for _, t, param in tensors if param),
    }
    shape = _snapshot(source, modules, tensors)
    _shelf[key] = _Lent(source, _get_rng(), pristine, shape, flags, nbytes, _versions(tensors), out=True)


def _restore_and_compare(held: _Lent) -> bool:
    modules, tensors = _walk(held.source.backbone)
    modes, grads = held.flags["modes"], held.flags["requires_grad"]
    params = [t for _, t, param in tensors if param]
    if len(modules) != len(modes) or len(params) != len(grads) or len(tensors) != len(held.pristine):
        return False
    for (_, m), mode in zip(modules, modes, strict=True):
        if m.training is not mode:  # set only what differs: Module.__setattr__ is slow
            m.training = mode
    for p, wanted in zip(params, grads, strict=True):
        if p.requires_grad is not wanted:
            p.requires_grad_(wanted)
        if p.grad is not None:
            p.grad = None
    if _snapshot(held.source, modules, tensors) != held.shape:
        return False
    return all(torch.equal(t, copy) for (_, t, _), copy in zip(tensors, held.pristine, strict=True))


_Tensors = list[tuple[str, torch.Tensor, bool]]


def _walk(module: nn.Module) -> tuple[list[tuple[str, nn.Module]], _Tensors]:
    """Every module (repeats included) and every parameter and buffer under its qualified name,
    with whether it is a parameter: one walk over the tree."""
    modules = list(module.named_modules(remove_duplicate=False))
    tensors: _Tensors = []
    for prefix, m in modules:
        dot = f"{prefix}." if prefix else ""
        tensors.extend((dot + name, p, True) for name, p in m._parameters.items() if p is not None)
        tensors.extend((dot + name, b, False) for name, b in m._buffers.items() if b is not None)
    return modules, tensors


def _versions(tensors: _Tensors) -> list[tuple[torch.Tensor, int]]:
    return [(t, t._version) for _, t, _ in tensors]


def _snapshot(source: SourceModel, modules: list[tuple[str, nn.Module]], tensors: _Tensors) -> Any:
    """Everything about ``source`` but its training flags and its tensors' bytes, comparable with ``==``."""
    return (
        tuple((name, id(m), type(m), _attributes(m)) for name, m in modules),
        tuple((name, id(t), t.data_ptr(), t.shape, t.dtype, t.device) for name, t, _ in tensors),
        _attributes(source),
    )


def _attributes(obj: Any) -> tuple[Any, ...]:
    """``obj``'s attributes but ``training``: plain values as they are, dicts by identity and keys
    (hooks, parameters, sub-modules), other containers by identity and length, anything else by
    identity."""
    return tuple(
        [
            (name, value if type(value) in _PLAIN else _seen(value))
            for name, value in vars(obj).items()
            if name != "training"
        ]
    )


def _seen(value: Any) -> Any:
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind in _DICTS:
        return id(value), tuple(value)
    return id(value), len(value) if kind in _SIZED else -1


def _get_rng() -> tuple[Any, ...]:
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None  # type: ignore[no-untyped-call]
    return torch.get_rng_state(), np.random.get_state(), random.getstate(), cuda


def _set_rng(state: tuple[Any, ...]) -> None:
    cpu, numpy_state, python_state, cuda = state
    torch.set_rng_state(cpu)
    np.random.set_state(numpy_state)
    random.setstate(python_state)
    if cuda is not None:
        torch.cuda.set_rng_state_all(cuda)


def _on_cpu(device: str) -> bool:
    """Whether the run trains on the CPU: a model moved to another device comes back with other
    storages, so lending it would only cost the copy it is compared with."""
    return device == "cpu" or (device == "auto" and not torch.cuda.is_available())


def _distributed() -> bool:
    from ..engine import distributed as ddp

    return ddp.from_env().enabled
