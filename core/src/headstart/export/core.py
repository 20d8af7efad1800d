"""Dispatch ``headstart export RUN_DIR --to FORMAT`` to the format's writer, and record the check."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ..inference.predictor import Predictor, load
from .errors import ExportError
from .merge import merge_checked

#: A writer: ``(predictor, folder) -> facts`` (files written, ``max_abs_diff`` of the check …).
Writer = Callable[[Predictor, Path], dict[str, Any]]


def _core_formats() -> dict[str, Writer]:
    from .full import write_full_checkpoints
    from .onnx import export_onnx
    from .program import export_program

    def export_full(predictor: Predictor, folder: Path) -> dict[str, Any]:
        return write_full_checkpoints(predictor.run_dir)  # the run's own checkpoints, not ``folder``

    return {"onnx": export_onnx, "torch-export": export_program, "full": export_full}


def export_formats(predictor: Predictor) -> dict[str, Writer]:
    """The formats this run can be exported to: the source's own, then core's."""
    found = getattr(predictor.source, "export_formats", None)
    own: dict[str, Writer] = dict(found()) if callable(found) else {}
    return {**own, **_core_formats()}


def export(
    run_dir: str | Path | Predictor,
    to: str,
    output: str | Path | None = None,
    *,
    checkpoint: str = "best",
    tolerance: float = 1e-4,
) -> Path:
    """Write the run (a run directory, or a loaded :class:`Predictor`) in format ``to`` into
    ``output`` (default ``<run_dir>/export/<to>``), check the export's outputs against the
    model's (max abs difference ``<= tolerance``), and return the folder. Adapters a policy added
    (LoRA) are merged into the weights first (in the predictor's model; outputs unchanged).
    ExportError names the valid formats or the difference found."""
    if isinstance(run_dir, Predictor):
        predictor, run_dir = run_dir, run_dir.run_dir
        predictor.model.to("cpu")
        predictor.device = torch.device("cpu")
    else:
        predictor = load(run_dir, checkpoint=checkpoint, device="cpu")  # type: ignore[arg-type]
    make = getattr(predictor.task, "example_batch", None)
    merged = merge_checked(predictor.model, make()["inputs"] if callable(make) else None)
    if merged.get("merge_max_abs_diff", 0.0) > tolerance:
        raise ExportError(f"merging the adapters changed the outputs by {merged['merge_max_abs_diff']:.3g}")
    formats = export_formats(predictor)
    if to not in formats:
        raise ExportError(f"--to {to!r}: valid formats for this run ({predictor.source.name}): {', '.join(formats)}")
    folder = Path(output) if output is not None else Path(run_dir) / "export" / to
    folder.mkdir(parents=True, exist_ok=True)
    facts = formats[to](predictor, folder)
    diff = facts.get("max_abs_diff")
    record = {"format": to, "run_dir": str(run_dir), "checkpoint": checkpoint, **merged, **facts}
    (folder / "export.json").write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")
    if diff is not None and not diff <= tolerance:
        raise ExportError(f"{folder}: the {to} export differs from the model by {diff:.3g} (> {tolerance:g})")
    return folder
