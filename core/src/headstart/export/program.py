"""``torch-export``: a ``torch.export`` program (``model.pt2``, load with ``torch.export.load``),
dynamic batch and length, checked by loading it back."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from .quiet import torch_internal_warnings
from .traced import Traced, outputs_of

if TYPE_CHECKING:
    from ..inference.predictor import Predictor


def export_program(predictor: Predictor, folder: Path) -> dict[str, Any]:
    traced = Traced.of(predictor)
    file = folder / "model.pt2"
    with torch.no_grad():
        program = torch.export.export(traced.model, traced.args, dynamic_shapes=traced.dynamic_shapes())
    torch.export.save(program, str(file))
    with torch_internal_warnings():
        loaded = torch.export.load(str(file)).module()
    with torch.no_grad():
        got = outputs_of(loaded(*traced.args))
    return {
        "files": [file.name],
        "inputs": traced.names,
        "max_abs_diff": traced.max_abs_diff(got),
        "checked_with": "torch.export.load",
    }
