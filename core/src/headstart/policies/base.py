"""What every transfer policy is made of, and the one step that runs before the freezer.

A policy is a small class — usually a frozen dataclass whose fields are its options — that
subclasses :class:`Policy` and overrides what it needs:

* ``phases(blocks, epochs)`` (required): which blocks train when, at what learning rate, and —
  through :attr:`~headstart.Phase.params` — which parameters inside each block;
* ``prepare(model, seed)``: change the model before the freeze engine fixes its group layout —
  add adapter modules (``lora``), re-initialise the source (``scratch``). Parameters that
  ``prepare`` adds are the model's *added* parameters: ordinary parameters of the block they sit
  in, selected in a phase with ``"added"``;
* ``regularizer(model)``: a penalty added to every training loss (``None``: none).

The engine calls :func:`prepare_model`, never ``prepare`` directly, so it knows what was added.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

import torch

from ..interfaces import HEAD, Phase, TransferPolicy

if TYPE_CHECKING:
    from ..model import TransferModel


class Policy:
    """Base class of transfer policies: set ``name``, write ``phases``; override ``prepare`` and
    ``regularizer`` when the method needs them. Works as a base of ``@dataclass(frozen=True)``."""

    name: ClassVar[str] = ""

    def phases(self, blocks: Sequence[str], epochs: int) -> list[Phase]:
        raise NotImplementedError(f"{type(self).__name__}.phases(blocks, epochs) is not written")

    def prepare(self, model: TransferModel, seed: int) -> None:
        """Change ``model`` before training (add modules, re-initialise weights); default: nothing."""

    def regularizer(self, model: TransferModel) -> torch.Tensor | None:
        """A penalty added to every training loss; default: none."""
        return None

    def default_lr(self, source_lr: float) -> tuple[float, float]:
        """``(trainer.lr, head_lr_scale)`` when the experiment sets neither, given the source
        family's fine-tuning rate for this run's length (``experiment/lr.py``): by default the
        source's rate, and a new head 10× faster (fastai's ``lr_mult``, ULMFiT's discriminative rates)."""
        return source_lr, 10.0


#: Parameter-efficient policies train their few parameters at this multiple of the source's
#: fine-tuning rate when the experiment sets no ``trainer.lr``: LoRA (Hu et al., 2022: 4e-4 – 5e-4
#: on RoBERTa, fully fine-tuned at 1e-5 – 3e-5) and BitFit (Ben Zaken et al., 2022: 1e-4 – 1e-3,
#: against 2e-5) are run at 10–40× the rate of full fine-tuning.
PEFT_LR_SCALE = 10.0
#: ... and at most this rate (the step boost of a short run and the 10× would otherwise compound:
#: ``examples/peft.yaml`` trained LoRA and BitFit at 1e-2 on its CNN and wav2vec 2.0 without trouble).
PEFT_MAX_LR = 1e-2


def parameter_efficient_lr(source_lr: float) -> tuple[float, float]:
    """The default ``(trainer.lr, head_lr_scale)`` of a parameter-efficient policy (``lora``,
    ``bitfit``, ``norm-tune``): :data:`PEFT_LR_SCALE` × the source's rate, at most
    :data:`PEFT_MAX_LR`, for what trains in the source and the new head alike (the head's rate
    under full fine-tuning is the same 10×). The policy's ``lr_scale`` multiplies it for the
    source's parameters."""
    return min(source_lr * PEFT_LR_SCALE, PEFT_MAX_LR), 1.0


def prepare_model(policy: TransferPolicy, model: TransferModel, seed: int) -> frozenset[str]:
    """Run ``policy.prepare`` and return the names of the parameters it added.

    Parameters are told apart by identity, not name: an adapter library that wraps a layer
    (``query`` becomes ``query.base_layer`` + ``query.lora_A…``) renames the wrapped weights but
    keeps them, and they are not "added".
    """
    before = {id(p) for p in model.parameters()}
    policy.prepare(model, seed)
    return frozenset(n for n, p in model.named_parameters() if id(p) not in before)


def check_option(ok: bool, option: str, rule: str, value: object) -> None:
    """How a policy rejects an option's value: ``ValueError: OPTION must be RULE, got VALUE``
    unless ``ok`` (``check_option(self.k >= 0, "k", ">= 0", self.k)``)."""
    if not ok:
        raise ValueError(f"{option} must be {rule}, got {value!r}")


def backbone_blocks(blocks: Sequence[str]) -> list[str]:
    """The source blocks of ``blocks`` (everything but the head, which must come last)."""
    if not blocks or blocks[-1] != HEAD:
        raise ValueError(f"the last block must be {HEAD!r}, got {list(blocks)}")
    return list(blocks[:-1])
