"""Cheap companions of LogME: the (shrinkage-regularised) H-score, and Kendall's tau.

H-score (Bao et al., ICIP 2019) measures how much of the features' variance is explained by the
class: ``tr(cov(f)^-1 cov(E[f | y]))``. On small or high-dimensional data ``cov(f)`` is badly
conditioned, so the covariance is shrunk towards a scaled identity with the Ledoit-Wolf weight, as
Ibrahim et al. (2022, "Newer is not always better") recommend for ranking sources.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch


def ledoit_wolf_shrinkage(x: torch.Tensor) -> float:
    """The Ledoit-Wolf shrinkage weight of centred data ``x [n, D]`` (scikit-learn's formula)."""
    n, d = x.shape
    x2 = x**2
    trace = x2.sum(0) / n
    mu = float(trace.sum()) / d
    beta_sum = float((x2.T @ x2).sum())
    delta_sum = float(((x.T @ x) ** 2).sum()) / n**2
    beta = (beta_sum / n - delta_sum) / (d * n)
    delta = (delta_sum - 2.0 * mu * float(trace.sum()) + d * mu**2) / d
    beta = min(beta, delta)
    return 0.0 if beta == 0 else beta / delta


def h_score(features: torch.Tensor, targets: torch.Tensor, *, shrinkage: float | None = None) -> float:
    """Regularised H-score of ``features [n, D]`` for class indices ``targets [n]`` (higher is
    better). ``shrinkage`` in [0, 1]; ``None`` picks the Ledoit-Wolf weight."""
    f = torch.as_tensor(features).to(torch.float64)
    y = torch.as_tensor(targets)
    if f.ndim != 2 or y.shape != (f.shape[0],) or y.is_floating_point():
        raise ValueError(
            f"H-score: needs features [n, D] and integer class targets [n], got {tuple(f.shape)} and {tuple(y.shape)}"
        )
    n, d = f.shape
    f = f - f.mean(0)
    weight = ledoit_wolf_shrinkage(f) if shrinkage is None else shrinkage
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"H-score: shrinkage must lie in [0, 1], got {weight}")
    cov = f.T @ f / n
    mu = float(torch.trace(cov)) / d
    cov_f = (1 - weight) * cov + weight * mu * torch.eye(d, dtype=torch.float64, device=f.device)
    classes, inverse = torch.unique(y, return_inverse=True)
    means = torch.zeros(len(classes), d, dtype=torch.float64, device=f.device).index_add_(0, inverse.to(f.device), f)
    means /= torch.bincount(inverse, minlength=len(classes)).to(f)[:, None]
    g = means[inverse.to(f.device)]
    cov_g = (1 - weight) * (g.T @ g / n)
    return float(torch.trace(torch.linalg.pinv(cov_f, hermitian=True) @ cov_g))


def kendall_tau(x: Sequence[float], y: Sequence[float]) -> float:
    """Kendall's tau-b between two equally long sequences (ties handled; NaN when undefined)."""
    if len(x) != len(y):
        raise ValueError(f"kendall_tau: {len(x)} values against {len(y)}")
    concordant = discordant = ties_x = ties_y = 0
    for i in range(len(x)):
        for j in range(i + 1, len(x)):
            dx, dy = x[i] - x[j], y[i] - y[j]
            if dx == 0 and dy == 0:
                continue
            if dx == 0:
                ties_x += 1
            elif dy == 0:
                ties_y += 1
            elif (dx > 0) == (dy > 0):
                concordant += 1
            else:
                discordant += 1
    denom = math.sqrt((concordant + discordant + ties_x) * (concordant + discordant + ties_y))
    return (concordant - discordant) / denom if denom else math.nan
