"""H-score (with Ledoit-Wolf shrinkage) and Kendall's tau against scikit-learn / SciPy and by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import kendalltau
from sklearn.covariance import ledoit_wolf_shrinkage as sk_shrinkage

from headstart.rank import h_score, kendall_tau
from headstart.rank.scores import ledoit_wolf_shrinkage


def _blobs(n: int, d: int, classes: int, spread: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    return rng.normal(size=(classes, d))[y] * spread + rng.normal(size=(n, d)), y


def test_shrinkage_is_scikit_learns() -> None:
    f, _ = _blobs(80, 30, 3, 1.0, seed=0)
    f = f - f.mean(0)
    assert ledoit_wolf_shrinkage(torch.from_numpy(f)) == pytest.approx(sk_shrinkage(f, assume_centered=True), rel=1e-9)


def test_unregularised_h_score_is_the_definition() -> None:
    f, y = _blobs(300, 6, 4, 1.0, seed=1)
    fc = f - f.mean(0)
    means = np.stack([fc[y == c].mean(0) for c in range(4)])[y]
    expected = np.trace(np.linalg.pinv(np.cov(fc.T, bias=True)) @ np.cov(means.T, bias=True))
    assert h_score(torch.from_numpy(f), torch.from_numpy(y), shrinkage=0.0) == pytest.approx(expected, rel=1e-9)


def test_h_score_orders_separability() -> None:
    scores = [h_score(*map(torch.from_numpy, _blobs(200, 50, 5, s, seed=2))) for s in (0.1, 0.5, 2.0)]
    assert scores[0] < scores[1] < scores[2]
    with pytest.raises(ValueError, match="shrinkage"):
        h_score(torch.randn(10, 3), torch.arange(10) % 2, shrinkage=2.0)
    with pytest.raises(ValueError, match="integer class targets"):
        h_score(torch.randn(10, 3), torch.randn(10))


@pytest.mark.parametrize(
    ("x", "y"),
    [
        ([1, 2, 3, 4], [1, 3, 2, 4]),
        ([1, 2, 3, 4, 5], [5, 4, 3, 2, 1]),
        ([1, 1, 2, 3], [2, 1, 2, 3]),
        ([0.5, 0.1], [3, 9]),
    ],
)
def test_kendall_tau_is_scipys_tau_b(x: list[float], y: list[float]) -> None:
    assert kendall_tau(x, y) == pytest.approx(kendalltau(x, y).statistic)


def test_kendall_tau_edge_cases() -> None:
    assert kendall_tau([1, 2, 3], [10, 20, 30]) == 1.0
    assert math.isnan(kendall_tau([1, 1], [2, 3]))
    with pytest.raises(ValueError, match="3 values against 2"):
        kendall_tau([1, 2, 3], [1, 2])
