"""Policies that select parameters inside blocks: ``bitfit``, ``norm-tune``, and ``filtered`` (any
block schedule whose source blocks train only a selection of their parameters).

Selections are :attr:`headstart.Phase.params` — ``"bias"``, ``"norm"``, ``"added"``, ``"all"`` or
name patterns — and the freeze engine applies them like any other plan: ``requires_grad``, the
fixed optimizer groups, the frozen prefix (which ends at the first block where anything trains).
The new head always trains all of its parameters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar

import torch

from ..freeze.select import selector_error
from ..interfaces import HEAD, Phase
from .base import Policy, backbone_blocks, check_option, parameter_efficient_lr

if TYPE_CHECKING:
    from ..model import TransferModel


#: Selections small enough to train at a parameter-efficient policy's rate (``filtered``'s default).
PARAMETER_EFFICIENT = ("bias", "norm", "added")


def with_params(phases: Sequence[Phase], selectors: tuple[str, ...]) -> list[Phase]:
    """``phases`` with every trainable source block restricted to ``selectors`` (a block that
    already has a selection keeps it); the head keeps all its parameters."""
    return [
        replace(
            ph,
            params={**{b: selectors for b in ph.trainable if b != HEAD}, **ph.params},
        )
        for ph in phases
    ]


def _selectors(value: Sequence[str] | str, option: str) -> tuple[str, ...]:
    selectors = (value,) if isinstance(value, str) else tuple(value)
    if not selectors:
        raise ValueError(f"{option} must name at least one selector (bias, norm, added, all, or a pattern)")
    for sel in selectors:
        if (why := selector_error(sel)) is not None:
            raise ValueError(f"{option}: {why}")
    return selectors


@dataclass(frozen=True)
class OneSelection(Policy):
    """Base of the policies that train one selection (``selector``) in every source block, and
    the whole new head, in one phase named after the policy; ``lr_scale`` multiplies the source's
    learning rate; without a ``trainer.lr`` that rate is :func:`~.base.parameter_efficient_lr`'s."""

    lr_scale: float = 1.0
    selector: ClassVar[str] = ""

    def __post_init__(self) -> None:
        check_option(self.lr_scale > 0, "lr_scale", "> 0", self.lr_scale)

    def default_lr(self, source_lr: float) -> tuple[float, float]:
        """A selection this small trains at 10× the source's rate (at most 1e-2), the head too."""
        return parameter_efficient_lr(source_lr)

    def phases(self, blocks: Sequence[str], epochs: int) -> list[Phase]:
        backbone = backbone_blocks(blocks)
        scale = dict.fromkeys(backbone, self.lr_scale)
        return [Phase(self.name, 0, frozenset(blocks), scale, params=dict.fromkeys(backbone, (self.selector,)))]


@dataclass(frozen=True)
class BitFit(OneSelection):
    """BitFit: only the biases of the source train (and the new head) — Ben Zaken et al., 2022.

    ``lr_scale`` multiplies the source's learning rate (biases alone usually want a larger one)."""

    name: ClassVar[str] = "bitfit"
    selector: ClassVar[str] = "bias"


@dataclass(frozen=True)
class NormTune(OneSelection):
    """Only the normalisation layers' affine parameters of the source train (and the new head).

    ``lr_scale`` multiplies the source's learning rate."""

    name: ClassVar[str] = "norm-tune"
    selector: ClassVar[str] = "norm"


@dataclass(frozen=True)
class Filtered(Policy):
    """A block schedule whose source blocks train only the selected parameters (e.g. gradual unfreezing of biases).

    ``schedule`` is any registered policy (with ``options``); ``params`` the selectors that
    every source block it trains is restricted to: ``bias``, ``norm``, ``added``, name patterns.
    """

    schedule: str = "gradual-unfreeze"
    params: Sequence[str] | str = ("bias",)
    options: Mapping[str, Any] = field(default_factory=dict)
    name: ClassVar[str] = "filtered"
    inner: Policy = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        from ..options import call_with_options
        from ..registry import UnknownNameError, get_registry

        object.__setattr__(self, "params", _selectors(self.params, "params"))
        object.__setattr__(self, "options", dict(self.options))
        if self.schedule == self.name:
            raise ValueError("schedule cannot be 'filtered' itself")
        try:
            ptype = get_registry().policy_type(self.schedule)
        except UnknownNameError as exc:
            raise ValueError(f"schedule: {exc}") from None
        # built once: prepare() and regularizer() must reach the same (possibly stateful) policy
        object.__setattr__(self, "inner", call_with_options(ptype.factory, self.options, "policy.options"))

    def phases(self, blocks: Sequence[str], epochs: int) -> list[Phase]:
        return with_params(self.inner.phases(blocks, epochs), tuple(self.params))

    def prepare(self, model: TransferModel, seed: int) -> None:
        self.inner.prepare(model, seed)

    def regularizer(self, model: TransferModel) -> torch.Tensor | None:
        return self.inner.regularizer(model)

    def default_lr(self, source_lr: float) -> tuple[float, float]:
        """The schedule's own default; a schedule with the generic one (the source's rate) whose
        blocks train only biases, norms or added parameters trains like ``bitfit`` and
        ``norm-tune`` instead: at :func:`~.base.parameter_efficient_lr`."""
        own = getattr(self.inner, "default_lr", None)
        generic = own is None or getattr(type(self.inner), "default_lr", None) is Policy.default_lr
        if generic and set(self.params) <= set(PARAMETER_EFFICIENT):
            return parameter_efficient_lr(source_lr)
        return own(source_lr) if callable(own) else Policy.default_lr(self, source_lr)

    @staticmethod
    def contract_example(tmp_path: Any) -> dict[str, Any]:
        """Options the contract kit checks the policy with."""
        return {"schedule": "gradual-unfreeze", "params": ["bias"], "options": {"every": 1}}
