"""Suite-wide settings: no hub access, quiet progress bars, GPU tests skipped without CUDA."""

from __future__ import annotations

import os

import pytest
import torch

# Nothing here reaches a model hub: fail fast instead of waiting on the network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA: torch.cuda.is_available() is false on this machine")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


def run_weights(run_dir: object, kind: str = "last") -> dict[str, torch.Tensor]:
    """Every weight of a run's ``best`` / ``last`` model, named as in a full checkpoint
    (``backbone.…``, ``head.…``): the run loaded as users load it, so a delta checkpoint (only
    what trained) comes back whole."""
    from headstart import load

    return {
        k: v.detach().clone() for k, v in load(str(run_dir), checkpoint=kind, device="cpu").model.state_dict().items()
    }  # type: ignore[arg-type]
