"""The ``l2-sp`` policy: fine-tune every block, pulling source weights towards their pretrained
values (L2-SP, Li, Grandvalet & Davoine, 2018: "Explicit inductive bias for transfer learning").

L2-SP adds ``alpha/2 * ||w - w0||^2`` over the source weights ``w`` (``w0``: the pretrained
values) to the training loss. Both halves are methods of the policy, as Headstart's interface
has them:

* ``prepare(model, seed)`` runs once, when the model is built and before any training or any
  checkpoint is loaded: the source holds its pretrained weights then, also when a run resumes,
  so it remembers them as ``w0``;
* ``regularizer(model)`` returns the penalty; the engine adds it to every training loss.

Only source weights that train in the current phase are penalised; the new head has no
pretrained value and is not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch

from headstart import HEAD, Phase, Policy, TransferModel


@dataclass(frozen=True)
class L2SP(Policy):
    """Fine-tune everything, each source weight pulled towards its pretrained value:
    ``alpha/2 * ||w - w0||^2`` is added to the loss. ``alpha = 0`` is the ``full`` policy."""

    alpha: float = 0.1
    name: ClassVar[str] = "l2-sp"
    #: pretrained weights by parameter name (set by prepare; per device, made on first use)
    anchors: dict[str, torch.Tensor] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.alpha >= 0:
            raise ValueError(f"alpha must be >= 0, got {self.alpha}")

    def phases(self, blocks: Sequence[str], epochs: int) -> list[Phase]:
        if not blocks or blocks[-1] != HEAD:
            raise ValueError(f"the last block must be {HEAD!r}, got {list(blocks)}")
        return [Phase("l2-sp", 0, frozenset(blocks))]

    def prepare(self, model: TransferModel, seed: int) -> None:
        self.anchors.clear()
        self.anchors.update({n: p.detach().clone() for n, p in model.backbone.named_parameters()})

    def regularizer(self, model: TransferModel) -> torch.Tensor | None:
        if self.alpha == 0 or not self.anchors:
            return None
        terms = []
        for name, weight in model.backbone.named_parameters():
            if not weight.requires_grad:
                continue
            anchor = self.anchors[name]
            if anchor.device != weight.device:  # moved once, with the model
                anchor = self.anchors[name] = anchor.to(weight.device)
            terms.append((weight - anchor).pow(2).sum())
        return 0.5 * self.alpha * torch.stack(terms).sum() if terms else None

    @staticmethod
    def contract_example(tmp_path: Any) -> dict[str, Any]:
        """Options the contract kit checks the policy with."""
        return {"alpha": 0.5}
