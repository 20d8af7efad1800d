"""ONNX through ``torch.onnx.export(dynamo=True)``: dynamic batch (and length for sequences),
checked with onnxruntime against the model on the task's example batch."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from .quiet import torch_internal_warnings
from .traced import Traced

if TYPE_CHECKING:
    from ..inference.predictor import Predictor


def export_onnx(predictor: Predictor, folder: Path) -> dict[str, Any]:
    import onnxruntime as ort

    traced = Traced.of(predictor)
    file = folder / "model.onnx"
    with torch.no_grad(), torch_internal_warnings():
        program = torch.onnx.export(
            traced.model,
            traced.args,
            dynamo=True,
            dynamic_shapes=traced.dynamic_shapes(),
            input_names=traced.names,
            verbose=False,
        )
    assert program is not None
    program.save(str(file))
    session = ort.InferenceSession(str(file), providers=["CPUExecutionProvider"])
    got = session.run(None, {i.name: a.numpy() for i, a in zip(session.get_inputs(), traced.args, strict=True)})
    return {
        "files": [file.name],
        "inputs": [{"name": i.name, "shape": [str(d) for d in i.shape], "type": i.type} for i in session.get_inputs()],
        "outputs": [o.name for o in session.get_outputs()],
        "max_abs_diff": traced.max_abs_diff(got),
        "checked_with": f"onnxruntime {ort.__version__}",
    }
