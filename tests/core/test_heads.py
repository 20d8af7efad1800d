from __future__ import annotations

import pytest
import torch

from headstart import ClassificationHead, Features, FeatureSpec, SequenceHead, pool


def test_mean_pooling_ignores_padding() -> None:
    values = torch.tensor([[[1.0], [3.0], [100.0]]])
    mask = torch.tensor([[True, True, False]])
    assert pool(Features(values, mask), "mean").item() == pytest.approx(2.0)
    assert pool(Features(values, mask), "max").item() == pytest.approx(3.0)
    assert pool(Features(values, mask), "cls").item() == pytest.approx(1.0)


def test_heads_have_the_right_shapes() -> None:
    seq = Features(torch.randn(2, 5, 8), torch.ones(2, 5, dtype=torch.bool))
    assert ClassificationHead(FeatureSpec("sequence", 8), 3, hidden=16, dropout=0.1)(seq).shape == (2, 3)
    assert ClassificationHead(FeatureSpec("vector", 8), 1)(Features(torch.randn(4, 8))).shape == (4, 1)
    assert SequenceHead(FeatureSpec("sequence", 8), 7)(seq).shape == (2, 5, 7)
    with pytest.raises(ValueError, match="needs sequence features"):
        SequenceHead(FeatureSpec("vector", 8), 7)
