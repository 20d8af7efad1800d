"""The ``lora`` policy: low-rank adapters beside the frozen source weights (Hu et al., 2022),
injected with the ``peft`` library (``LoraConfig`` + ``inject_adapter_in_model``), on any source.

Which layers get adapters: the ``targets`` option (``fnmatch`` patterns over module names inside
the backbone), else the source's ``adapter_targets`` (its domain plugin's choice: attention
projections for BERT and wav2vec 2.0), else every ``Linear`` / ``Conv1d`` / ``Conv2d`` with
``groups=1`` (a CNN's convolutions and an MLP's layers). Only layers of the chosen source blocks
(``blocks``, or the ``top`` ones, or all but the source's ``default_keep_frozen``) are adapted.
The adapters are the policy's *added* parameters; a phase trains them with ``"added"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any, ClassVar

from torch import nn

from ...interfaces import HEAD, Phase
from ..base import Policy, backbone_blocks, check_option, parameter_efficient_lr

if TYPE_CHECKING:
    from ...model import TransferModel

#: Layer types peft's LoRA can adapt and this policy targets by default.
ADAPTABLE: tuple[type[nn.Module], ...] = (nn.Linear, nn.Conv1d, nn.Conv2d)
PREFIX = "backbone."


@dataclass(frozen=True)
class Lora(Policy):
    """LoRA: low-rank adapters (peft) beside the frozen source layers train, with the new head.

    ``rank`` and ``alpha`` set the update ``(alpha / rank) · B A``; ``dropout`` applies to the
    adapter's input; ``targets`` overrides which layers (patterns over module names in the
    backbone, e.g. ``["*.query", "*.value"]``); ``blocks`` names the source blocks that get
    adapters, or ``top`` takes the last ``top`` of them (default: every block the source does not
    keep frozen); ``bias`` also trains every bias of the source (PEFT's ``bias="all"``);
    ``head_epochs`` > 0 trains the head alone first (a linear probe, then LoRA, as in LP-FT);
    ``lr_scale`` multiplies the adapters' learning rate. Without a ``trainer.lr`` the adapters and
    the head train at 10× the source's fine-tuning rate (at most 1e-2), as LoRA is usually run.
    """

    rank: int = 8
    alpha: int = 16
    dropout: float = 0.0
    targets: Sequence[str] | None = None
    blocks: Sequence[str] | None = None
    top: int | None = None
    bias: bool = False
    head_epochs: int = 0
    lr_scale: float = 1.0
    name: ClassVar[str] = "lora"

    def __post_init__(self) -> None:
        check_option(self.rank >= 1, "rank", ">= 1", self.rank)
        check_option(self.alpha > 0, "alpha", "> 0", self.alpha)
        check_option(0.0 <= self.dropout < 1.0, "dropout", "in [0, 1)", self.dropout)
        if self.blocks is not None and self.top is not None:
            raise ValueError("give blocks or top, not both")
        check_option(self.lr_scale > 0, "lr_scale", "> 0", self.lr_scale)
        check_option(self.head_epochs >= 0, "head_epochs", ">= 0", self.head_epochs)
        check_option(self.top is None or self.top >= 1, "top", ">= 1", self.top)
        for option in ("targets", "blocks"):
            value = getattr(self, option)
            if isinstance(value, str):
                raise ValueError(f"{option} must be a list of names, got the string {value!r}")
            if value is not None:
                if not value:
                    raise ValueError(f"{option} must not be empty (leave it out for the default)")
                object.__setattr__(self, option, tuple(value))

    def default_lr(self, source_lr: float) -> tuple[float, float]:
        """Adapters (and the head) at 10× the source's rate, at most 1e-2 (:func:`~..base.parameter_efficient_lr`)."""
        return parameter_efficient_lr(source_lr)

    def adapted_blocks(self, backbone: Sequence[str], keep_frozen: Sequence[str] = ()) -> list[str]:
        """The source blocks that get adapters, in order."""
        if self.blocks is not None:
            unknown = sorted(set(self.blocks) - set(backbone))
            if unknown:
                raise ValueError(f"blocks: unknown block(s) {', '.join(unknown)}; blocks are {', '.join(backbone)}")
            return [b for b in backbone if b in self.blocks]
        if self.top is not None:
            if self.top > len(backbone):
                raise ValueError(f"top={self.top} but the source has only {len(backbone)} blocks")
            return list(backbone[len(backbone) - self.top :])
        return [b for b in backbone if b not in keep_frozen]

    def phases(self, blocks: Sequence[str], epochs: int) -> list[Phase]:
        backbone = backbone_blocks(blocks)
        adapted = self.adapted_blocks(backbone)
        params = {b: ("added", "bias") if self.bias else ("added",) for b in adapted}
        if self.bias:
            params.update({b: ("bias",) for b in backbone if b not in adapted})
        trainable = frozenset([*(backbone if self.bias else adapted), HEAD])
        scale = {b: self.lr_scale for b in trainable if b != HEAD}
        if not self.head_epochs:
            return [Phase("lora", 0, trainable, scale, params=params)]
        if self.head_epochs >= epochs:
            raise ValueError(f"head_epochs={self.head_epochs} leaves no epoch for the adapters in a {epochs}-epoch run")
        return [Phase("head", 0, frozenset({HEAD})), Phase("lora", self.head_epochs, trainable, scale, params=params)]

    def target_modules(self, model: TransferModel) -> list[str]:
        """Names (inside the backbone) of the layers that get adapters."""
        from ...freeze.blockmap import resolve_blocks

        infos = [b for b in resolve_blocks(model, model.blocks) if b.name != HEAD]
        keep = tuple(getattr(model.source, "default_keep_frozen", ()))
        chosen = set(self.adapted_blocks([b.name for b in infos], keep))
        patterns = self.targets or tuple(getattr(model.source, "adapter_targets", ()) or ())
        modules = dict(model.named_modules())
        names: list[str] = []
        for info in infos:
            if info.name not in chosen:
                continue
            for full in info.modules:
                module, inner = modules[full], full.removeprefix(PREFIX)
                if not isinstance(module, ADAPTABLE) or getattr(module, "groups", 1) != 1:
                    continue
                if patterns and not any(fnmatchcase(inner, p) for p in patterns):
                    continue
                names.append(inner)
        if not names:
            where = f"targets {list(patterns)}" if patterns else "any Linear / Conv1d / Conv2d layer"
            raise ValueError(
                f"lora: no layer of blocks {', '.join(sorted(chosen))} matches {where}; "
                "give targets as patterns over the backbone's module names (e.g. ['*.query', '*.value'])"
            )
        return names

    def prepare(self, model: TransferModel, seed: int) -> None:
        from peft import LoraConfig, inject_adapter_in_model

        config = LoraConfig(
            r=self.rank,
            lora_alpha=self.alpha,
            lora_dropout=self.dropout,
            target_modules=self.target_modules(model),
            bias="none",
        )
        inject_adapter_in_model(config, model.backbone)

    @staticmethod
    def contract_example(tmp_path: Any) -> dict[str, Any]:
        """Options the contract kit checks the policy with."""
        return {"rank": 4, "alpha": 8}
