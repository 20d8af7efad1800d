"""``headstart export RUN_DIR --to full``: make a run with small (delta) checkpoints self-contained.

A run that trains less than half of the model (``linear-probe``, ``lora``, ``bitfit`` …) stores
only what trained; :func:`headstart.load` rebuilds the rest from the source's own pretrained
weights, so those must be reachable where the run is loaded. This rewrites each checkpoint that
``best`` / ``last`` point at with every weight (the model as ``headstart.load`` rebuilds it,
adapters kept unmerged so training, resume and every other export go on as before), atomically
and under the run's lock. Afterwards the run directory loads on a machine without the source's
weights: the architecture and preprocessor come from ``inference/source/``. Run it where the
run was trained (or anywhere the source's weights are). The check: the rewritten checkpoint loads
and gives the same outputs as the delta on the task's example inputs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..engine import checkpoint as ckpt
from ..experiment.lock import RunLock
from ..inference.predictor import Predictor, load
from ..rundir import CHECKPOINT_KINDS, RunDir


def _outputs(predictor: Predictor, example: Any) -> list[torch.Tensor]:
    with torch.no_grad():
        out = predictor.model(example)
    return [t.float() for t in (out if isinstance(out, tuple | list) else [out])]


def write_full_checkpoints(run_dir: str | Path) -> dict[str, Any]:
    """Rewrite every delta checkpoint of ``run_dir`` that a link points at with all the weights.
    Returns what was done: ``{"files": [...], "max_abs_diff": …}`` (no files: nothing was a delta;
    no difference: nothing rewritten or the task has no ``example_batch``)."""
    run_dir = Path(run_dir).expanduser()
    files: list[str] = []
    diff: float | None = None
    with RunLock(run_dir):
        for kind in CHECKPOINT_KINDS:
            link = RunDir(run_dir).checkpoint(kind)
            if not link.exists():
                continue
            path = ckpt.resolve(link)
            if not ckpt.is_delta(path):
                continue
            predictor = load(run_dir, checkpoint=kind, device="cpu")
            state = ckpt.load_state(path)
            ckpt.save_checkpoint(path.parent, path.name, predictor.model, state, links=())
            files.append(str(path.relative_to(run_dir.resolve()) / ckpt.WEIGHTS))
            make = getattr(predictor.task, "example_batch", None)
            if callable(make):
                example = make()["inputs"]
                full = load(run_dir, checkpoint=kind, device="cpu")
                for a, b in zip(_outputs(predictor, example), _outputs(full, example), strict=True):
                    diff = max(diff or 0.0, float((a - b).abs().max()))
    return {"files": files, "checked_with": "headstart.load", "max_abs_diff": diff}
