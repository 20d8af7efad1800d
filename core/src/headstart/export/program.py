"""``torch-export``: a ``torch.export`` program (``model.pt2``, load with ``torch.export.load``),
dynamic batch and length, checked by loading it back."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from .onnx import dynamic_shapes, flatten, outputs_of

if TYPE_CHECKING:
    from ..inference.predictor import Predictor


def export_program(predictor: Predictor, folder: Path) -> dict[str, Any]:
    flat, args, names = flatten(predictor)
    flat.eval()
    file = folder / "model.pt2"
    with torch.no_grad():
        expected = outputs_of(flat(*args))
        program = torch.export.export(flat, args, dynamic_shapes=(dynamic_shapes(args),))
    torch.export.save(program, str(file))
    loaded = torch.export.load(str(file)).module()
    with torch.no_grad():
        got = outputs_of(loaded(*args))
    diff = max(float((g.float() - e.float()).abs().max()) for g, e in zip(got, expected, strict=True))
    return {"files": [file.name], "inputs": names, "max_abs_diff": diff, "checked_with": "torch.export.load"}
