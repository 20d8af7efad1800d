"""Contract checks for a policy on a real model: what it selects exists, what it adds survives a
checkpoint, and the plan counts what actually trains.

The model is :func:`tiny_model` — a few blocks with the layer kinds the domains have (``Linear``,
``LayerNorm``, ``Conv1d`` + ``BatchNorm1d``, biases) — unless the caller gives its own factory.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..engine.checkpoint import load_weights, save_checkpoint
from ..engine.delta import delta_keys, reference
from ..freeze.apply import Freezer
from ..freeze.plan import PolicyError, validate_phases
from ..interfaces import Block, Features, FeatureSpec, TransferPolicy
from ..model import TransferModel
from ..policies.base import prepare_model
from .errors import ContractError


class _TinyBackbone(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Sequential(nn.Linear(6, 8), nn.LayerNorm(8))
        self.conv = nn.Sequential(nn.Conv1d(8, 8, 3, padding=1), nn.BatchNorm1d(8), nn.ReLU())
        self.mlp = nn.Sequential(nn.Linear(8, 8), nn.GELU(), nn.Linear(8, 8))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: [batch, length, 6]
        h = self.embed(x).transpose(1, 2)
        h = self.conv(h).transpose(1, 2)
        return self.mlp(h).mean(dim=1)  # type: ignore[no-any-return]


class TinySource:
    """A three-block source (``embed``, ``conv``, ``mlp``) for policy checks; input ``{"x": [B, L, 6]}``."""

    name = "contract:tiny"

    def __init__(self) -> None:
        self.backbone = _TinyBackbone()
        self.blocks = [Block("embed", ("embed",)), Block("conv", ("conv",)), Block("mlp", ("mlp",))]
        self.output_spec = FeatureSpec("vector", 8)
        self.preprocessor = None

    def forward(self, inputs: Any) -> Features:
        return Features(self.backbone(inputs["x"]))

    def reinitialize(self, seed: int) -> None:
        torch.manual_seed(seed)
        for m in self.backbone.modules():
            reset = getattr(m, "reset_parameters", None)
            if callable(reset):
                reset()

    def describe(self) -> dict[str, Any]:
        return {"name": self.name}


class _Head(nn.Module):
    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, features: Features) -> torch.Tensor:
        return self.inner(features.values)  # type: ignore[no-any-return]


def tiny_model(seed: int = 0) -> TransferModel:
    """A fresh :class:`TinySource` with a linear head (3 classes), seeded."""
    torch.manual_seed(seed)
    return TransferModel(TinySource(), _Head(nn.Linear(8, 3)))  # type: ignore[arg-type]


def check_policy_on_model(
    policy: TransferPolicy,
    tmp_path: Path,
    make_model: Callable[[], TransferModel] = tiny_model,
    inputs: Any = None,
    epochs: int = 3,
) -> None:
    """On a model from ``make_model`` (default: the tiny three-block model), check that:

    * ``prepare`` runs and everything it adds belongs to a block (the block map still covers it);
    * every phase's selection matches parameters that exist, and each phase trains something;
    * the plan's trainable count equals the parameters whose ``requires_grad`` the engine set, and
      one training step changes exactly those (with ``inputs``, a collated ``inputs`` value);
    * a checkpoint (a delta one when the policy leaves most of the model frozen) loads into a
      freshly built and prepared model and gives back every weight — adapters included.
    """
    name = policy.name
    model = make_model()
    try:
        added = prepare_model(policy, model, seed=0)
        freezer = Freezer(model, lr=0.1, added=added)
    except Exception as exc:
        raise ContractError(f"policy {name!r}: prepare() left a model the engine cannot use: {exc}") from exc
    phases = policy.phases(freezer.block_names, epochs)
    try:
        validate_phases(phases, freezer.block_names, epochs, name)
        plans = [freezer.compute(ph) for ph in phases]
    except PolicyError as exc:
        raise ContractError(f"{exc} (on the contract model, blocks {', '.join(freezer.block_names)})") from None
    optimizer = torch.optim.SGD(freezer.param_groups(), lr=0.0)
    x = inputs if inputs is not None else {"x": torch.randn(4, 5, 6)}
    for index, (phase, plan) in enumerate(zip(phases, plans, strict=True)):
        freezer.apply(phase, index, optimizer)
        flagged = {n: p for n, p in model.named_parameters() if p.requires_grad}
        if not flagged:
            raise ContractError(f"policy {name!r}, phase {phase.name!r}: trains no parameter of the contract model")
        numel = sum(p.numel() for p in flagged.values())
        if numel != plan.trainable_numel:
            raise ContractError(
                f"policy {name!r}, phase {phase.name!r}: the plan counts {plan.trainable_numel} trainable "
                f"parameters but {numel} have requires_grad"
            )
        for g in optimizer.param_groups:
            g["lr"] = g["base_lr"]
        before = {n: p.detach().clone() for n, p in model.named_parameters()}
        model.train()
        out = model(x)
        (out.float().pow(2).mean() + policy_penalty(policy, model)).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        moved = {n for n, p in model.named_parameters() if not torch.equal(before[n], p)}
        if not moved <= set(flagged):
            changed = ", ".join(sorted(moved - set(flagged))[:3])
            raise ContractError(f"policy {name!r}, phase {phase.name!r}: frozen parameter(s) changed: {changed}")
    trained = set().union(*(p.trainable_names for p in plans))
    keys = delta_keys(model, trained)
    meta = reference(model, keys, {"name": "contract"}) if keys is not None else None  # frozen: unchanged
    path = save_checkpoint(tmp_path / "checkpoints", "epoch-0000", model, {}, keys=keys, metadata=meta)
    fresh = make_model()
    prepare_model(policy, fresh, seed=0)
    try:
        load_weights(path, fresh)
    except Exception as exc:
        raise ContractError(f"policy {name!r}: a checkpoint does not load into a rebuilt model: {exc}") from exc
    saved, loaded = model.state_dict(), fresh.state_dict()
    differ = [k for k in saved if k not in loaded or not torch.equal(saved[k], loaded[k])]
    if differ:
        raise ContractError(f"policy {name!r}: weights differ after save -> rebuild -> load: {', '.join(differ[:3])}")


def policy_penalty(policy: TransferPolicy, model: TransferModel) -> torch.Tensor | float:
    penalty = policy.regularizer(model)
    return 0.0 if penalty is None else penalty
