"""The learning rate a run trains at, and where it came from: the config, the defaults, or ``auto``.

* **config**: ``trainer.lr`` is a number; the new head trains at ``policy.head_lr_scale`` × it
  (default 1).
* **default** (``trainer.lr`` unset), in three steps:

  1. *the source family's rate* (the source's ``default_lr``): the AdamW rate of the family's
     published fine-tuning recipes, for a model of the recipe's size — 5e-4 for ImageNet CNNs
     (``timm:``/``torchvision:``; between the timm / ViT recipes' 1e-4 and fastai's
     ``fine_tune``, 1e-3), 3e-5 × 768 / hidden width for
     BERT-class encoders (Devlin et al. use 2e-5 … 5e-5 for BERT-base; the small BERTs of Turc
     et al. up to 3e-4) and 5e-5 × 768 /
     hidden width for wav2vec 2.0 (so a narrow source, such as one trained by a small ``run:``,
     gets a proportionally larger rate: Adam's rate for hidden weights scales as 1 / width, as
     μP has it); :data:`CORE_SOURCE_LR` for a source that names none;
  2. *the run's length*: those recipes take on the order of :data:`RECIPE_STEPS` optimizer steps;
     a run with ``S`` fewer steps (a small label budget) multiplies the rate by
     √(RECIPE_STEPS / S), at most :data:`MAX_STEP_BOOST` (AdamW moves a weight by about the rate
     per step, so a short run at a recipe's rate barely leaves its start; the square root, not
     1 / S, keeps it stable, as Adam's square-root scaling rule does for larger batches). ``S`` =
     epochs × ⌈train examples / batch_size / grad_accum⌉ (``max_steps_per_epoch`` applied);
  3. *the policy's* ``default_lr(rate)`` returns the base rate and the head's scale: fine-tuning
     policies train the source at that rate and a new head 10× faster (fastai's ``lr_mult``,
     ULMFiT), ``linear-probe`` trains a head at ``PROBE_LR`` (5e-3; by default it is fitted by
     L-BFGS instead), ``lp-ft`` fine-tunes at that rate from its probed head, ``scratch`` trains
     at 10× it (at most ``SCRATCH_MAX_LR``, 3e-3). ``policy.head_lr_scale`` still overrides the
     head's scale.

* **auto** (``trainer.lr: auto``): the default rate × {1/3, 1, 3} is each tried in a short run
  (a quarter of the epochs, at least what the policy needs) and the one with the best validation
  monitor wins; the trials cost about 0.75 of a run (far less when the phase is cached or solved
  by L-BFGS) and are kept under ``<run>/lr-trials/`` (``experiment/run.py``: ``auto_lr``).

``headstart plan`` prints the rate and its origin; ``summary.json`` has them under ``lr``.
docs/performance.md ("Default learning rates against a sweep") measures the defaults against a
sweep on the demo's three domains.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..interfaces import SourceModel, TransferPolicy

#: The fine-tuning rate of a source that names none (its ``default_lr``).
CORE_SOURCE_LR = 1e-3
#: The optimizer steps of the fine-tuning runs that family rates come from (their order of magnitude).
RECIPE_STEPS = 1000
#: The most that a short run multiplies its family's rate by.
MAX_STEP_BOOST = 10.0
#: Factors of the default rate that ``trainer.lr: auto`` tries.
AUTO_FACTORS = (1 / 3, 1.0, 3.0)


@dataclass
class LearningRate:
    """The base rate in force, the head's scale, where they came from, and any ``auto`` trials."""

    lr: float
    head_lr_scale: float
    origin: str  # "config", "default" or "auto"
    detail: str = ""
    trials: dict[str, float | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "lr": self.lr,
            "head_lr": self.lr * self.head_lr_scale,
            "head_lr_scale": self.head_lr_scale,
            "origin": self.origin,
            "detail": self.detail,
        }
        if self.trials:
            out["trials"] = self.trials
        return out


def step_boost(steps: int | None) -> float:
    """√(RECIPE_STEPS / steps), between 1 and :data:`MAX_STEP_BOOST` (1 when ``steps`` is unknown)."""
    if not steps or steps < 1:
        return 1.0
    return min(MAX_STEP_BOOST, max(1.0, math.sqrt(RECIPE_STEPS / steps)))


def resolve_lr(
    trainer_lr: float | str | None,
    policy_section: dict[str, Any],
    policy: TransferPolicy,
    source: SourceModel,
    steps: int | None = None,
) -> LearningRate:
    """The rate of a run of ``steps`` optimizer steps before any ``auto`` trial (for ``auto``, the
    default it is centred on)."""
    explicit_head = policy_section.get("head_lr_scale")
    if isinstance(trainer_lr, int | float) and not isinstance(trainer_lr, bool):
        head = float(explicit_head) if explicit_head is not None else 1.0
        return LearningRate(float(trainer_lr), head, "config", "trainer.lr")
    family = getattr(source, "default_lr", None)
    family_lr = float(family) if family is not None else CORE_SOURCE_LR
    boost = step_boost(steps)
    source_lr = family_lr * boost
    default = getattr(policy, "default_lr", None)
    base, head = default(source_lr) if callable(default) else (source_lr, 1.0)
    if explicit_head is not None:
        head = float(explicit_head)
    origin = "auto" if trainer_lr == "auto" else "default"
    why = f"{source.name}: {family_lr:.3g}" if family is not None else f"no source default, {CORE_SOURCE_LR:g}"
    if boost > 1.0:
        why += f" × {boost:.3g} for {steps} steps = {source_lr:.3g}"
    if not math.isclose(base, source_lr):  # the policy's own rule (a probe's head rate, lp-ft's ÷ ft_lr_scale …)
        why += f"; {policy.name} makes it {base:.3g}"
    return LearningRate(float(base), float(head), origin, f"policy {policy.name} ({why})")
