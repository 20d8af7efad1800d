"""What every core exporter starts from and checks against: the model as tensors in, tensors out
(``FlatModel``) on the task's example batch, with its own outputs on that batch (``Traced``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
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


def outputs_of(out: Any) -> list[torch.Tensor]:
    return [o for o in (out if isinstance(out, tuple | list) else [out])]


@dataclass
class Traced:
    """The flat model (in eval mode), its example arguments, their names, and its outputs on
    them: what an export is traced with and checked against."""

    model: FlatModel
    args: tuple[torch.Tensor, ...]
    names: list[str]
    expected: list[torch.Tensor]

    @classmethod
    def of(cls, predictor: Predictor) -> Traced:
        inputs = example_batch(predictor)["inputs"]
        if isinstance(inputs, torch.Tensor):
            flat, args, names = FlatModel(predictor.model, None), (inputs,), ["input"]
        else:
            keys = [k for k, v in inputs.items() if isinstance(v, torch.Tensor)]
            flat, args, names = FlatModel(predictor.model, keys), tuple(inputs[k] for k in keys), keys
        flat.eval()
        with torch.no_grad():
            expected = outputs_of(flat(*args))
        return cls(flat, args, names, expected)

    def dynamic_shapes(self) -> tuple[tuple[dict[int, Any], ...]]:
        """Batch (dim 0) dynamic everywhere; the length (dim 1) of 2-D inputs (tokens, samples)
        too, unless the model fixes it (a feature vector's size)."""
        from torch.export import Dim

        return (tuple({0: Dim.AUTO, 1: Dim.AUTO} if a.ndim == 2 else {0: Dim.AUTO} for a in self.args),)

    def max_abs_diff(self, got: Sequence[Any]) -> float:
        """The largest absolute difference between an export's outputs (tensors or arrays, in
        order) and the model's own."""
        return max(
            float((torch.as_tensor(g).float() - e.float()).abs().max()) for g, e in zip(got, self.expected, strict=True)
        )
