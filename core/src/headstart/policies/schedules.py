"""The block schedules: core's built-in policies that say which whole blocks train when.

Each is a small frozen dataclass over :class:`~headstart.policies.Policy`; its fields are its options.

``blocks`` passed to ``phases`` are the block names from input to output with ``"head"`` last.
In the seeds' vocabulary, *transfer learning* is ``linear-probe``; *fine-tuning* is ``top-k``,
``full``, ``gradual-unfreeze``, ``discriminative`` and ``lp-ft``; ``scratch`` is the baseline
that shows what the pretrained weights were worth.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal

from ..interfaces import HEAD, Phase
from .base import Policy, check_option
from .base import backbone_blocks as _backbone

if TYPE_CHECKING:
    from ..model import TransferModel


def _decayed(blocks: Sequence[str], decay: float) -> dict[str, float]:
    """lr scale ``decay ** depth``, depth counted from the head (depth 0)."""
    return {b: decay ** (len(blocks) - 1 - i) for i, b in enumerate(blocks)}


def _check_decay(decay: float) -> None:
    check_option(0.0 < decay <= 1.0, "decay", "in (0, 1]", decay)


Solver = Literal["lbfgs", "sgd"]
#: The head's rate under ``linear-probe`` trained by epochs (AdamW on frozen features).
PROBE_LR = 5e-3
#: The most that ``scratch`` trains at by default (AdamW on random weights).
SCRATCH_MAX_LR = 3e-3


def _check_solver(solver: str) -> None:
    check_option(solver in ("lbfgs", "sgd"), "solver", "lbfgs or sgd", solver)


@dataclass(frozen=True)
class LinearProbe(Policy):
    """Transfer learning: every source block frozen, only the new head trains.

    ``solver``: ``lbfgs`` (default) fits a linear head on cached features to convergence, its L2
    strength chosen on the validation split (see ``engine/probe.py``); ``sgd`` trains it by epochs
    of the trainer's optimizer (also what a head that is not one linear layer gets).
    """

    solver: Solver = "lbfgs"
    name: ClassVar[str] = "linear-probe"

    def __post_init__(self) -> None:
        _check_solver(self.solver)

    def phases(self, blocks: Sequence[str], epochs: int) -> list[Phase]:
        _backbone(blocks)
        return [Phase("linear-probe", 0, frozenset({HEAD}))]

    def default_lr(self, source_lr: float) -> tuple[float, float]:
        """Only the head trains (by epochs when ``solver: sgd``): a head's rate, whatever the source."""
        return PROBE_LR, 1.0


@dataclass(frozen=True)
class Full(Policy):
    """Fine-tune everything at one learning rate."""

    name: ClassVar[str] = "full"

    def phases(self, blocks: Sequence[str], epochs: int) -> list[Phase]:
        _backbone(blocks)
        return [Phase(self.name, 0, frozenset(blocks))]


@dataclass(frozen=True)
class TopK(Policy):
    """Fine-tune the last ``k`` source blocks and the head; the rest stays frozen."""

    k: int = 1
    name: ClassVar[str] = "top-k"

    def __post_init__(self) -> None:
        check_option(self.k >= 0, "k", ">= 0", self.k)

    def phases(self, blocks: Sequence[str], epochs: int) -> list[Phase]:
        backbone = _backbone(blocks)
        if self.k > len(backbone):
            raise ValueError(f"k={self.k} but the source has only {len(backbone)} blocks ({', '.join(backbone)})")
        top = backbone[len(backbone) - self.k :]
        return [Phase(f"top-{self.k}", 0, frozenset([*top, HEAD]))]


@dataclass(frozen=True)
class Discriminative(Policy):
    """Fine-tune everything, block ``d`` below the head at ``lr * decay ** d`` (layer-wise LR decay)."""

    decay: float = 0.8
    name: ClassVar[str] = "discriminative"

    def __post_init__(self) -> None:
        _check_decay(self.decay)

    def phases(self, blocks: Sequence[str], epochs: int) -> list[Phase]:
        _backbone(blocks)
        return [Phase("discriminative", 0, frozenset(blocks), _decayed(blocks, self.decay))]


@dataclass(frozen=True)
class GradualUnfreeze(Policy):
    """ULMFiT-style: the head first, then one more block from the top every ``every`` epochs.

    ``decay`` < 1 adds discriminative learning rates (ULMFiT uses 1/2.6 ≈ 0.38).
    """

    every: int = 1
    decay: float = 1.0
    name: ClassVar[str] = "gradual-unfreeze"

    def __post_init__(self) -> None:
        check_option(self.every >= 1, "every", ">= 1", self.every)
        _check_decay(self.decay)

    def phases(self, blocks: Sequence[str], epochs: int) -> list[Phase]:
        backbone = _backbone(blocks)
        scale = _decayed(blocks, self.decay)
        phases = []
        for i in range(len(backbone) + 1):
            start = i * self.every
            if i > 0 and start >= epochs:
                break
            trainable = frozenset([*backbone[len(backbone) - i :], HEAD])
            phases.append(Phase(f"unfreeze-{i}", start, trainable, {b: scale[b] for b in trainable}))
        return phases


@dataclass(frozen=True)
class LPFT(Policy):
    """Linear probe, then fine-tune everything at ``lr * ft_lr_scale`` (Kumar et al., 2022).

    ``lp_epochs`` defaults to half the run. ``solver`` as for ``linear-probe``: with ``lbfgs`` the
    probe phase is one converged fit, and fine-tuning starts from that head (the point of LP-FT).
    """

    lp_epochs: int | None = None
    ft_lr_scale: float = 0.1
    solver: Solver = "lbfgs"
    name: ClassVar[str] = "lp-ft"

    def __post_init__(self) -> None:
        _check_solver(self.solver)
        check_option(self.lp_epochs is None or self.lp_epochs >= 1, "lp_epochs", ">= 1", self.lp_epochs)
        check_option(self.ft_lr_scale > 0, "ft_lr_scale", "> 0", self.ft_lr_scale)

    def phases(self, blocks: Sequence[str], epochs: int) -> list[Phase]:
        _backbone(blocks)
        if epochs < 2:
            raise ValueError(f"needs at least 2 epochs (one to probe, one to fine-tune), got {epochs}")
        lp = self.lp_epochs if self.lp_epochs is not None else max(1, epochs // 2)
        if lp >= epochs:
            raise ValueError(f"lp_epochs={lp} leaves no epoch to fine-tune in a {epochs}-epoch run")
        ft_scale = dict.fromkeys(blocks, self.ft_lr_scale)
        return [Phase("lp", 0, frozenset({HEAD})), Phase("ft", lp, frozenset(blocks), ft_scale)]

    def default_lr(self, source_lr: float) -> tuple[float, float]:
        """Fine-tuning runs at the source's rate (``lr · ft_lr_scale``); the probed head needs no boost."""
        return source_lr / self.ft_lr_scale, 1.0


@dataclass(frozen=True)
class Scratch(Full):
    """The from-scratch baseline: the source's weights are re-initialised, everything trains."""

    name: ClassVar[str] = "scratch"

    def prepare(self, model: TransferModel, seed: int) -> None:
        model.source.reinitialize(seed)

    def default_lr(self, source_lr: float) -> tuple[float, float]:
        """Random weights train at 10× the fine-tuning rate, head included, at most
        :data:`SCRATCH_MAX_LR` (3e-3: the top of the rates AdamW trains random networks at without
        warmup; on the demo 1e-2 left a small wav2vec 2.0 at chance and 3e-3 did best, see docs/performance.md)."""
        return min(source_lr * 10, SCRATCH_MAX_LR), 1.0


#: The block schedules, in the order ``headstart plugins`` lists them.
SCHEDULES: tuple[type[Policy], ...] = (LinearProbe, Full, TopK, Discriminative, GradualUnfreeze, LPFT, Scratch)
