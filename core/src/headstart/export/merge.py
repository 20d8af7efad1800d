"""Adapters merged into the weights they adapt (through the ``lora`` policy's
:func:`~headstart.policies.merge_adapters`): before an export, so every format holds plain layers
with the library's own key names, and into a new run directory (``headstart merge``) whose
checkpoint is the full model; with example inputs the merge is checked against the unmerged
outputs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from ..policies.lora.merge import adapter_layers, merge_adapters


def merge_checked(model: nn.Module, example: Any = None) -> dict[str, Any]:
    """Merge every adapter layer of ``model`` in place. With ``example`` inputs, the outputs before
    and after are compared. Returns what was done: ``{"adapters_merged": n, "merge_max_abs_diff": …}``."""
    if not adapter_layers(model):
        return {"adapters_merged": 0}
    was = model.training
    model.eval()
    before = None
    if example is not None:
        with torch.no_grad():
            before = model(example)
    facts: dict[str, Any] = {"adapters_merged": merge_adapters(model)}
    if before is not None:
        with torch.no_grad():
            after = model(example)
        pairs = zip(before, after, strict=True) if isinstance(before, tuple | list) else [(before, after)]
        facts["merge_max_abs_diff"] = max(float((a.float() - b.float()).abs().max()) for a, b in pairs)
    model.train(was)
    return facts


def merge_run(
    run_dir: str | Path,
    output: str | Path,
    *,
    checkpoint: Literal["best", "last"] = "best",
    tolerance: float = 1e-4,
) -> dict[str, Any]:
    """Write ``run_dir`` as a new run directory ``output`` whose one checkpoint holds every weight,
    with the adapters a policy added (LoRA) merged into the weights they adapt: the source's own
    layout, no reference to the frozen source's weights. It loads with :func:`headstart.load`,
    predicts, exports and serves as a ``run:`` source like any run, but holds no training state
    (it cannot be resumed). The merge is checked on the task's example inputs (max abs difference
    ``<= tolerance``). Returns what ``inference.json`` records under ``merged``."""
    from ..engine import checkpoint as ckpt
    from ..engine.atomic import atomic_write_json
    from ..inference.predictor import load
    from ..inference.state import read_inference_file
    from ..rundir import RunDir
    from .errors import ExportError

    source, target = RunDir(Path(run_dir).expanduser()), RunDir(Path(output).expanduser())
    if target.path.exists() and any(target.path.iterdir()):
        raise ExportError(f"--output {target.path}: exists and is not empty; give a new folder")
    predictor = load(source.path, checkpoint=checkpoint, device="cpu")
    make = getattr(predictor.task, "example_batch", None)
    facts = merge_checked(predictor.model, make()["inputs"] if callable(make) else None)
    if facts.get("merge_max_abs_diff", 0.0) > tolerance:
        raise ExportError(f"merging the adapters changed the outputs by {facts['merge_max_abs_diff']:.3g}")
    state = ckpt.load_state(predictor.checkpoint)
    merged = {
        "from": str(source.path.resolve()),
        "checkpoint": checkpoint,
        "epoch": int(state["epoch"]) - 1,  # the state counts epochs done; the checkpoint is of the last (from 0)
        "was_delta": ckpt.is_delta(predictor.checkpoint),
        **facts,
    }
    tmp = target.path.with_name(f".{target.path.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir(parents=True)
        for name in (RunDir.config, RunDir.summary, RunDir.metrics, RunDir.metrics_csv):
            if (source.path / name).is_file():
                shutil.copy2(source.path / name, tmp / name)
        if source.inference_source.is_dir():
            shutil.copytree(source.inference_source, tmp / RunDir.inference_source)
        atomic_write_json(tmp / RunDir.inference, {**read_inference_file(source.path), "merged": merged})
        ckpt.save_checkpoint(
            RunDir(tmp).checkpoints,
            predictor.checkpoint.name,
            predictor.model,
            {"epoch": int(state["epoch"]), "merged_from": merged["from"]},
            links=("last", "best"),
        )
        if target.path.exists():
            target.path.rmdir()  # empty, checked above
        tmp.rename(target.path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return merged
