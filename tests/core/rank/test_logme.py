"""LogME against a direct NumPy transcription of the paper's Algorithm 1 (You et al., ICML 2021)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from headstart.rank import logme
from headstart.rank.logme import logme_columns


def paper_logme_column(f: np.ndarray, y: np.ndarray) -> float:
    """Algorithm 1, naive form: A = alpha I + beta F^T F, m = beta A^-1 F^T y, MacKay's updates
    alpha <- gamma / m^T m, beta <- (n - gamma) / |F m - y|^2 until they stop moving; then Eq. (2)."""
    n, d = f.shape
    sigma = np.linalg.eigvalsh(f.T @ f)
    alpha, beta = 1.0, 1.0
    for _ in range(500):
        a = alpha * np.eye(d) + beta * f.T @ f
        m = beta * np.linalg.solve(a, f.T @ y)
        gamma = np.sum(beta * sigma / (alpha + beta * sigma))
        new_alpha = gamma / (m @ m)
        new_beta = (n - gamma) / np.sum((f @ m - y) ** 2)
        done = abs(new_alpha - alpha) / alpha < 1e-12 and abs(new_beta - beta) / beta < 1e-12
        alpha, beta = new_alpha, new_beta
        if done:
            break
    a = alpha * np.eye(d) + beta * f.T @ f
    m = beta * np.linalg.solve(a, f.T @ y)
    evidence = (
        n / 2 * np.log(beta)
        + d / 2 * np.log(alpha)
        - n / 2 * np.log(2 * np.pi)
        - beta / 2 * np.sum((f @ m - y) ** 2)
        - alpha / 2 * (m @ m)
        - 0.5 * np.linalg.slogdet(a)[1]
    )
    return float(evidence / n)


def paper_logme(f: np.ndarray, y: np.ndarray, regression: bool) -> float:
    if regression:
        cols = y.reshape(len(y), -1).T
    else:
        cols = [(y == c).astype(np.float64) for c in np.unique(y)]
    return float(np.mean([paper_logme_column(f, c) for c in cols]))


def _data(n: int, d: int, classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    centres = rng.normal(size=(classes, d))
    f = centres[y] * 0.8 + rng.normal(size=(n, d))
    return f, y


@pytest.mark.parametrize(("n", "d", "classes"), [(200, 16, 3), (60, 100, 4), (300, 64, 10), (40, 40, 2)])
def test_classification_matches_the_papers_algorithm(n: int, d: int, classes: int) -> None:
    f, y = _data(n, d, classes, seed=n + d)
    ours = logme(torch.from_numpy(f), torch.from_numpy(y))
    assert ours == pytest.approx(paper_logme(f, y, regression=False), abs=1e-6)


@pytest.mark.parametrize(("n", "d", "k"), [(150, 12, 1), (50, 80, 2), (120, 30, 3)])
def test_regression_matches_the_papers_algorithm(n: int, d: int, k: int) -> None:
    rng = np.random.default_rng(k)
    f = rng.normal(size=(n, d))
    y = f @ rng.normal(size=(d, k)) * 0.3 + rng.normal(size=(n, k))
    y = y[:, 0] if k == 1 else y
    ours = logme(torch.from_numpy(f), torch.from_numpy(y), regression=True)
    assert ours == pytest.approx(paper_logme(f, y, regression=True), abs=1e-6)


def test_informative_features_score_higher_than_noise() -> None:
    f, y = _data(300, 32, 5, seed=1)
    noise = np.random.default_rng(2).normal(size=f.shape)
    assert logme(torch.from_numpy(f), torch.from_numpy(y)) > logme(torch.from_numpy(noise), torch.from_numpy(y))


def test_float32_features_and_columns() -> None:
    f, y = _data(100, 8, 3, seed=3)
    cols = logme_columns(torch.from_numpy(f).float(), torch.from_numpy(y))
    assert cols.shape == (3,) and cols.dtype == torch.float64
    assert float(cols.mean()) == pytest.approx(paper_logme(f.astype(np.float32).astype(np.float64), y, False), abs=1e-6)


def test_bad_input_is_named() -> None:
    f = torch.randn(10, 4)
    with pytest.raises(ValueError, match="10 feature rows but 9 targets"):
        logme(f, torch.zeros(9, dtype=torch.long))
    with pytest.raises(ValueError, match="at least two"):
        logme(f, torch.zeros(10, dtype=torch.long))
    with pytest.raises(ValueError, match="integer"):
        logme(f, torch.zeros(10))
    with pytest.raises(ValueError, match="NaN"):
        logme(torch.full((10, 4), float("nan")), torch.arange(10) % 2)


def test_interpolating_features_give_a_finite_score() -> None:
    """With fewer examples than dimensions every column is fitted exactly and beta grows without
    bound; the evidence tends to a finite limit, also with duplicated examples."""
    f = torch.randn(12, 96, generator=torch.Generator().manual_seed(0)).abs()
    f = torch.cat([f, f[:3]])  # duplicates: directions without variance
    y = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 0, 0, 0])
    cols = logme_columns(f, y)
    assert torch.isfinite(cols).all()
    with pytest.raises(ValueError, match="every feature is zero"):
        logme(torch.zeros(5, 3), torch.tensor([0, 1, 0, 1, 0]))
