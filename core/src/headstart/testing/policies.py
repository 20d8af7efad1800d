"""Contract checks for transfer policies: valid phases on any block map and run length."""

from __future__ import annotations

import pickle
from collections.abc import Sequence

from ..freeze.plan import PolicyError, validate_phases
from ..interfaces import HEAD, NormMode, Phase, TransferPolicy
from .errors import ContractError

#: Block maps of the shapes the domains produce (a tiny MLP, a CNN, BERT, wav2vec 2.0).
BLOCK_MAPS: tuple[tuple[str, ...], ...] = (
    ("stem", HEAD),
    ("stem", "stage1", "stage2", "stage3", "stage4", HEAD),
    ("embeddings", *(f"layer{i}" for i in range(12)), HEAD),
    ("feature_encoder", "feature_projection", *(f"layer{i}" for i in range(12)), HEAD),
)
#: Run lengths tried with every block map.
EPOCHS: tuple[int, ...] = (1, 2, 3, 5, 20)


def _check_phase(policy: str, phase: object, where: str) -> None:
    if not isinstance(phase, Phase):
        raise ContractError(f"policy {policy!r} {where}: phases() must return headstart.Phase objects, got {phase!r}")
    if not isinstance(phase.trainable, frozenset) or not all(isinstance(b, str) for b in phase.trainable):
        raise ContractError(f"policy {policy!r} {where}: Phase.trainable must be a frozenset of block names")
    if not phase.trainable:
        raise ContractError(f"policy {policy!r} {where}: phase {phase.name!r} trains no block")
    if not isinstance(phase.norm_mode, NormMode):
        raise ContractError(f"policy {policy!r} {where}: Phase.norm_mode must be a headstart.NormMode")
    bad = {b: s for b, s in phase.lr_scale.items() if not isinstance(s, int | float)}
    if bad:
        raise ContractError(f"policy {policy!r} {where}: lr_scale values must be numbers, got {bad}")


def check_policy(
    policy: object,
    block_maps: Sequence[Sequence[str]] = BLOCK_MAPS,
    epochs: Sequence[int] = EPOCHS,
) -> int:
    """``policy.phases(blocks, epochs)`` on every block map and run length either refuses with a
    ``ValueError`` that says why, or returns valid phases: first at epoch 0, strictly increasing
    start epochs within the run, known block names, non-negative learning-rate scales, at least
    one trainable block each. Phases are pure (same answer twice, inputs untouched) and survive
    pickling the policy. Returns how many combinations were accepted (at least one must be)."""
    if not isinstance(policy, TransferPolicy):
        raise ContractError(
            f"{type(policy).__name__} is not a TransferPolicy: it needs name, phases(blocks, epochs), "
            "prepare(model, seed) and regularizer(model); subclass headstart.Policy for the defaults"
        )
    name = policy.name
    if not isinstance(name, str) or not name:
        raise ContractError(f"{type(policy).__name__}.name must be a non-empty string, got {name!r}")
    try:
        clone = pickle.loads(pickle.dumps(policy))
    except Exception as exc:
        raise ContractError(f"policy {name!r} does not pickle ({exc})") from exc
    accepted = 0
    for blocks in block_maps:
        for n in epochs:
            where = f"on {len(blocks) - 1} block(s) + head, {n} epoch(s)"
            given = list(blocks)
            try:
                phases = policy.phases(given, n)
            except ValueError as exc:
                if not str(exc):
                    raise ContractError(f"policy {name!r} {where}: refused with an empty ValueError") from None
                continue
            except Exception as exc:
                raise ContractError(
                    f"policy {name!r} {where}: raised {type(exc).__name__}: {exc}; refuse with ValueError instead"
                ) from exc
            if given != list(blocks):
                raise ContractError(f"policy {name!r} {where}: phases() changed the block list it was given")
            if not isinstance(phases, list):
                raise ContractError(
                    f"policy {name!r} {where}: phases() must return a list, got {type(phases).__name__}"
                )
            for ph in phases:
                _check_phase(name, ph, where)
            try:
                validate_phases(phases, list(blocks), n, name)
            except PolicyError as exc:
                raise ContractError(f"{exc} ({where})") from None
            if policy.phases(list(blocks), n) != phases:
                raise ContractError(f"policy {name!r} {where}: phases() gave a different answer the second time")
            if clone.phases(list(blocks), n) != phases:
                raise ContractError(f"policy {name!r} {where}: a pickled copy gives different phases")
            accepted += 1
    if not accepted:
        raise ContractError(f"policy {name!r} refused every block map and run length it was tried on")
    return accepted
