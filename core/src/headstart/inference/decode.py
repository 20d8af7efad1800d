"""Helpers tasks share to implement :class:`~headstart.PredictingTask`: class scores with their
names, and the file path of a raw input."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from ..data.formats import DataError


def top_labels(logits: torch.Tensor, labels: Sequence[str], top_k: int = 1) -> list[dict[str, Any]]:
    """Per row of ``[batch, classes]`` logits: ``{"label", "score", "top_k": [{"label", "score"}, …]}``
    with softmax probabilities (``top_k`` alternatives, best first; at most the number of classes)."""
    probs = logits.float().softmax(-1).cpu()
    k = max(1, min(top_k, probs.shape[-1]))
    values, indices = probs.topk(k, dim=-1)
    out = []
    for vals, idx in zip(values.tolist(), indices.tolist(), strict=True):
        ranked = [{"label": labels[i], "score": v} for v, i in zip(vals, idx, strict=True)]
        out.append({"label": ranked[0]["label"], "score": ranked[0]["score"], "top_k": ranked})
    return out


def input_path(raw: Any, column: str = "path") -> Path:
    """The file a raw input names: a ``str`` / ``Path``, or a dict's ``column`` (relative paths in a
    row read from a file are relative to that file, whose name the row's ``_file`` holds).
    DataError when the file does not exist."""
    if isinstance(raw, Mapping):
        if column not in raw:
            raise DataError(f"no {column!r} field (fields: {', '.join(k for k in raw if not k.startswith('_'))})")
        path = Path(str(raw[column])).expanduser()
        base = raw.get("_file")
        if not path.is_absolute() and base:
            path = Path(base).parent / path
    elif isinstance(raw, str | Path):
        path = Path(raw).expanduser()
    else:
        raise DataError(f"expected a file path (str or Path) or a dict with {column!r}, got {type(raw).__name__}")
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    return path
