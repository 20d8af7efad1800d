from __future__ import annotations

import pytest
import torch

from headstart import TransferModel, get_registry
from headstart_toy.tasks import LinearHead


def make_model(depth: int = 3, width: int = 8, in_features: int = 4, classes: int = 3) -> TransferModel:
    torch.manual_seed(0)
    source = get_registry().source("toy:mlp", in_features=in_features, width=width, depth=depth)
    return TransferModel(source, LinearHead(width, classes))


@pytest.fixture
def model() -> TransferModel:
    return make_model()
