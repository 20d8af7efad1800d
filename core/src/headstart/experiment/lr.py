"""The learning rate a run trains at, and where it came from: the config, the defaults, or ``auto``.

* **config**: ``trainer.lr`` is a number; the new head trains at ``policy.head_lr_scale`` × it
  (default 1).
* **default** (``trainer.lr`` unset): the source family's fine-tuning rate (the source's
  ``default_lr`` attribute: 1e-4 for ImageNet CNNs, 3e-5 for BERT-class encoders, 5e-5 for
  wav2vec 2.0; 1e-3 for a source that names none) goes through the policy's ``default_lr``,
  which returns the base rate and the head's scale: fine-tuning policies train the source at its
  rate and a new head 10× faster, ``linear-probe`` trains a head at 5e-3, ``lp-ft`` fine-tunes at
  the source's rate from a probed head, ``scratch`` trains at 10× the source's rate.
  ``policy.head_lr_scale`` still overrides the head's scale.
* **auto** (``trainer.lr: auto``): the default rate × {1/3, 1, 3} is each tried in a short run
  (a quarter of the epochs, at least what the policy needs) and the one with the best validation
  monitor wins; the trials cost about 0.75 of a run (far less when the phase is cached or solved
  by L-BFGS) and are kept under ``<run>/lr-trials/`` (``experiment/run.py``: ``auto_lr``).

``headstart plan`` prints the rate and its origin; ``summary.json`` has them under ``lr``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..interfaces import SourceModel, TransferPolicy

#: The fine-tuning rate of a source that names none (its ``default_lr``).
CORE_SOURCE_LR = 1e-3
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


def resolve_lr(
    trainer_lr: float | str | None, policy_section: dict[str, Any], policy: TransferPolicy, source: SourceModel
) -> LearningRate:
    """The rate of a run before any ``auto`` trial (for ``auto``, the default it is centred on)."""
    explicit_head = policy_section.get("head_lr_scale")
    if isinstance(trainer_lr, int | float) and not isinstance(trainer_lr, bool):
        head = float(explicit_head) if explicit_head is not None else 1.0
        return LearningRate(float(trainer_lr), head, "config", "trainer.lr")
    family = getattr(source, "default_lr", None)
    source_lr = float(family) if family is not None else CORE_SOURCE_LR
    default = getattr(policy, "default_lr", None)
    base, head = default(source_lr) if callable(default) else (source_lr, 1.0)
    if explicit_head is not None:
        head = float(explicit_head)
    origin = "auto" if trainer_lr == "auto" else "default"
    why = f"{source.name}: {source_lr:g}" if family is not None else f"no source default, {CORE_SOURCE_LR:g}"
    return LearningRate(float(base), float(head), origin, f"policy {policy.name} ({why})")
