"""``run:<run directory>``: a finished Headstart run, of any domain, as a source (sequential transfer).

The run's saved ``config.yaml`` says which source it fine-tuned; that source is rebuilt through
the registry and its backbone gets the run's fine-tuned weights (``checkpoint: best`` by default,
or ``last``). The run's head is left behind; the new task builds its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from torch import nn

from .engine.checkpoint import CheckpointError, is_delta, load_backbone_weights, load_weights, resolve
from .engine.delta import seeded
from .interfaces import Block, Features, FeatureSpec, SourceModel, SourceProvider
from .plugins import hookimpl
from .rundir import CHECKPOINT_KINDS, RunDir


class RunSource:
    """A source whose weights come from a finished run; everything else from the run's source."""

    def __init__(self, run_dir: Path, inner: SourceModel, checkpoint: str) -> None:
        self.name = f"run:{run_dir}"
        self.run_dir = run_dir
        self.inner = inner
        self.checkpoint = checkpoint
        self.backbone: nn.Module = inner.backbone
        self.blocks: Sequence[Block] = list(inner.blocks)
        self.output_spec: FeatureSpec = inner.output_spec
        self.preprocessor: Any = inner.preprocessor

    @property
    def default_lr(self) -> float | None:
        """The inner source's fine-tuning rate (a run's source is the same family)."""
        value = getattr(self.inner, "default_lr", None)
        return float(value) if value is not None else None

    @property
    def default_keep_frozen(self) -> tuple[str, ...]:
        """The inner source's, read each time (it may change, e.g. when it is re-initialised)."""
        return tuple(getattr(self.inner, "default_keep_frozen", ()))

    def forward(self, inputs: Any) -> Features:
        return self.inner.forward(inputs)

    def reinitialize(self, seed: int) -> None:
        self.inner.reinitialize(seed)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "run_dir": str(self.run_dir),
            "checkpoint": self.checkpoint,
            "inner": self.inner.describe(),
        }

    def __getattr__(self, item: str) -> Any:  # domain extras of the inner source (sample_rate, …)
        if item == "inner":
            raise AttributeError(item)
        return getattr(self.inner, item)


def _load_delta(run_dir: Path, path: Path, inner: SourceModel) -> None:
    """A delta checkpoint (only what trained): rebuild the run's model around ``inner`` as the
    run did (its policy's ``prepare`` adds the same adapters), load what trained, then merge the
    adapters into the source's own layers — the backbone ends as the run left it, plain."""
    from .experiment.build import build_policy
    from .experiment.run import load_run_config
    from .model import TransferModel
    from .policies import merge_adapters, prepare_model

    config = load_run_config(run_dir)
    model = TransferModel(inner, nn.Identity())  # the run's head is left behind
    prepare_model(build_policy(config), model, config.seed)
    load_weights(path, model, skip=("head.",))
    merge_adapters(model)


class RunSourceProvider:
    """Serves ``run:<path>``; the path is a run directory written by ``headstart run``."""

    scheme = "run"

    def resolve(self, name: str, checkpoint: Literal["best", "last"] = "best", **options: Any) -> SourceModel:
        """``options`` other than ``checkpoint`` override the run's own source options (dropout,
        masking … — fine-tuning choices of the new run); the weights still come from the run."""
        from .registry import get_registry

        if checkpoint not in CHECKPOINT_KINDS:
            raise ValueError(f"checkpoint = {checkpoint!r}; valid: best, last")
        run_dir = Path(name).expanduser()
        files = RunDir(run_dir)
        if not files.is_run():
            raise LookupError(
                f"{run_dir} is not a Headstart run directory (no {RunDir.config}); "
                "give the directory that `headstart run` wrote"
            )
        ckpt_link = files.checkpoint(checkpoint)
        if not ckpt_link.exists():
            raise CheckpointError(f"{run_dir}: the run has no {checkpoint!r} checkpoint yet (is it finished?)")
        config = yaml.safe_load(files.config.read_text(encoding="utf-8"))
        source_cfg = {**config["source"], **options}
        with seeded(int(config.get("seed", 0))):  # as the run's build() made it (random-init sources)
            inner = get_registry().source(source_cfg.pop("name"), **source_cfg)
        path = resolve(ckpt_link)
        if is_delta(path):
            _load_delta(run_dir, path, inner)
        else:
            load_backbone_weights(path, inner.backbone)
        return RunSource(run_dir, inner, checkpoint)

    def available(self) -> list[str]:
        return []


@hookimpl
def headstart_source_providers() -> list[SourceProvider]:
    return [RunSourceProvider()]
