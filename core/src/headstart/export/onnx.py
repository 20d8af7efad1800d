"""ONNX through ``torch.onnx.export(dynamo=True)``: dynamic batch (and length for sequences),
checked with onnxruntime against the model on the task's example batch."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from .errors import ExportError

if TYPE_CHECKING:
    from ..inference.predictor import Predictor


class FlatModel(nn.Module):
    """The model with tensors in and tensors out: ``forward(*inputs)`` in the order of ``keys``
    (``None``: one tensor), outputs as a tensor or a tuple."""

    def __init__(self, model: nn.Module, keys: list[str] | None) -> None:
        super().__init__()
        self.model, self.keys = model, keys

    def forward(self, *tensors: torch.Tensor) -> Any:
        inputs: Any = tensors[0] if self.keys is None else dict(zip(self.keys, tensors, strict=True))
        out = self.model(inputs)
        return tuple(out) if isinstance(out, list | tuple) else out


def example_batch(predictor: Predictor) -> dict[str, Any]:
    """The task's ``example_batch()`` (inputs for tracing); ExportError when it has none."""

    make = getattr(predictor.task, "example_batch", None)
    if not callable(make):
        raise ExportError(
            f"task {type(predictor.task).__name__} has no example_batch(): the exporter needs example inputs"
        )
    batch: dict[str, Any] = make()
    return batch


def flatten(predictor: Predictor) -> tuple[FlatModel, tuple[torch.Tensor, ...], list[str]]:
    """The flat model, its example arguments and their names."""
    inputs = example_batch(predictor)["inputs"]
    if isinstance(inputs, torch.Tensor):
        return FlatModel(predictor.model, None), (inputs,), ["input"]
    keys = [k for k, v in inputs.items() if isinstance(v, torch.Tensor)]
    return FlatModel(predictor.model, keys), tuple(inputs[k] for k in keys), keys


def dynamic_shapes(args: tuple[torch.Tensor, ...]) -> tuple[dict[int, Any], ...]:
    """Batch (dim 0) dynamic everywhere; the length (dim 1) of 2-D inputs (tokens, samples) too,
    unless the model fixes it (a feature vector's size)."""
    from torch.export import Dim

    return tuple({0: Dim.AUTO, 1: Dim.AUTO} if a.ndim == 2 else {0: Dim.AUTO} for a in args)


def outputs_of(out: Any) -> list[torch.Tensor]:
    return [o for o in (out if isinstance(out, tuple | list) else [out])]


def export_onnx(predictor: Predictor, folder: Path) -> dict[str, Any]:
    import numpy as np
    import onnxruntime as ort

    flat, args, names = flatten(predictor)
    flat.eval()
    file = folder / "model.onnx"
    with torch.no_grad():
        expected = outputs_of(flat(*args))
        program = torch.onnx.export(
            flat, args, dynamo=True, dynamic_shapes=(dynamic_shapes(args),), input_names=names, verbose=False
        )
    assert program is not None
    program.save(str(file))
    session = ort.InferenceSession(str(file), providers=["CPUExecutionProvider"])
    got = session.run(None, {i.name: a.numpy() for i, a in zip(session.get_inputs(), args, strict=True)})
    diff = max(
        float(np.abs(g - e.float().numpy() if e.is_floating_point() else g - e.numpy()).max())
        for g, e in zip(got, expected, strict=True)
    )
    return {
        "files": [file.name],
        "inputs": [{"name": i.name, "shape": [str(d) for d in i.shape], "type": i.type} for i in session.get_inputs()],
        "outputs": [o.name for o in session.get_outputs()],
        "max_abs_diff": diff,
        "checked_with": f"onnxruntime {ort.__version__}",
    }
