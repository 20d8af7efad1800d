"""LogME (You et al., ICML 2021): the evidence of a Bayesian linear model on frozen features.

For each target column ``y`` (a one-hot class indicator, or a regression target) LogME fits
``y = F w + noise`` with prior ``w ~ N(0, 1/alpha I)`` and noise ``N(0, 1/beta)``, maximises the
marginal likelihood (the *evidence*) over ``alpha`` and ``beta`` by MacKay's fixed-point iteration,
and reports the log evidence per example, averaged over columns. Higher is better; values are
comparable between sources on the same target data, not between datasets.

This is the paper's Algorithm 1 with one decomposition shared by every column: with the thin SVD
``F = U diag(s) V^T`` and ``x = U^T y``, every quantity of an iteration is a sum over the
``min(n, D)`` singular values, so all columns iterate together as tensors. The evidence is Eq. (2)::

    L = n/2 log beta + D/2 log alpha - n/2 log 2 pi - beta/2 |F m - y|^2 - alpha/2 m^T m - 1/2 log|A|
    A = alpha I + beta F^T F,   m = beta A^{-1} F^T y
"""

from __future__ import annotations

import math
from typing import Any

import torch

_TINY = torch.finfo(torch.float64).tiny


def _targets(targets: torch.Tensor, n: int, regression: bool) -> torch.Tensor:
    """``[n, K]`` float64 columns: one indicator per class present, or the regression targets."""
    y = torch.as_tensor(targets)
    if y.shape[0] != n:
        raise ValueError(f"LogME: {n} feature rows but {y.shape[0]} targets")
    if regression:
        y = y.to(torch.float64)
        return y.reshape(n, -1)
    if y.ndim != 1 or y.is_floating_point():
        raise ValueError(f"LogME: class targets must be a 1-D integer tensor, got {tuple(y.shape)} {y.dtype}")
    classes: torch.Tensor = torch.unique(y)
    if len(classes) < 2:
        raise ValueError(f"LogME: the targets hold {len(classes)} class; ranking needs at least two")
    onehot: torch.Tensor = y[:, None] == classes[None, :]
    return onehot.to(torch.float64)


def _spectrum(f: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Squared singular values ``sigma [k]``, ``x^2 = (U^T y)^2 [k, K]`` and the energy of ``y``
    outside the span of ``F``'s columns, ``[K]``."""
    n, d = f.shape
    if d <= n:  # D x D Gram matrix: F^T F = V diag(sigma) V^T, and s x = V^T F^T y
        sigma, v = torch.linalg.eigh(f.T @ f)
        proj = v.T @ (f.T @ y)
        keep = sigma > sigma.max().clamp(min=_TINY) * max(n, d) * torch.finfo(torch.float64).eps
        sigma = torch.where(keep, sigma, torch.zeros_like(sigma))
        x2 = torch.where(keep[:, None], proj**2 / torch.where(keep, sigma, 1.0)[:, None], torch.zeros_like(proj))
        return sigma, x2, ((y**2).sum(0) - x2.sum(0)).clamp(min=0.0)
    # n x n Gram matrix: F F^T = U diag(sigma) U^T; U is a complete basis, nothing lies outside
    sigma, u = torch.linalg.eigh(f @ f.T)
    return sigma.clamp(min=0.0), (u.T @ y) ** 2, torch.zeros(y.shape[1], dtype=y.dtype, device=y.device)


def logme_columns(
    features: torch.Tensor,
    targets: torch.Tensor,
    *,
    regression: bool = False,
    tol: float = 1e-10,
    max_iter: int = 1000,
) -> torch.Tensor:
    """The per-example log evidence of every target column (``[K]``, float64).

    The evidence is evaluated in its covariance form ``log N(y; 0, F F^T / alpha + I / beta)``,
    equal to Eq. (2) and finite when the fit interpolates (``n <= D``: ``beta`` grows without
    bound and the evidence tends to a limit). The noise energy is floored at ``1e-10 |y|^2`` so
    that a column the features fit exactly (up to rounding) gets a large but finite score.
    """
    f = torch.as_tensor(features).to(torch.float64)
    if f.ndim != 2 or f.shape[0] < 2:
        raise ValueError(f"LogME: features must be [examples, dim] with at least two examples, got {tuple(f.shape)}")
    if not torch.isfinite(f).all():
        raise ValueError("LogME: the features hold NaN or infinite values")
    if not f.abs().amax() > 0:
        raise ValueError("LogME: every feature is zero; the source gives no signal to score")
    n = f.shape[0]
    y = _targets(targets, n, regression).to(f.device)
    sigma, x2, rest = _spectrum(f, y)
    sigma = sigma[:, None]
    k = sigma.shape[0]
    floor = ((y**2).sum(0) * 1e-10).clamp(min=_TINY)
    alpha = torch.ones(y.shape[1], dtype=torch.float64, device=f.device)
    beta = torch.ones_like(alpha)

    def update(alpha: torch.Tensor, beta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """MacKay's step: alpha = gamma / m^T m, beta = (n - gamma) / |F m - y|^2."""
        t = alpha / beta
        denom = sigma + t
        gamma = (sigma / denom).sum(0)
        m2 = (sigma * x2 / denom**2).sum(0)
        res2 = (x2 * (t / denom) ** 2).sum(0) + rest
        return gamma / m2.clamp(min=_TINY), (n - gamma) / torch.maximum(res2, floor)

    def evidence(alpha: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        var = sigma / alpha + 1.0 / beta  # the covariance's eigenvalues along U
        logdet = torch.log(var).sum(0) - (n - k) * torch.log(beta)
        quad = (x2 / var).sum(0) + beta * rest
        return -(n * math.log(2 * math.pi) + logdet + quad) / 2

    value = evidence(alpha, beta)
    for _ in range(max_iter):
        new_alpha, new_beta = update(alpha, beta)
        new_value = evidence(new_alpha, new_beta)
        moved = ((new_alpha / new_beta) / (alpha / beta) - 1.0).abs()
        done = (moved <= tol) | ((new_value - value).abs() <= tol * n)
        alpha, beta, value = new_alpha, new_beta, new_value
        if bool(done.all()):
            break
    return value / n


def logme(features: torch.Tensor, targets: torch.Tensor, *, regression: bool = False, **solver: Any) -> float:
    """LogME of ``features [n, D]`` for ``targets``: class indices ``[n]`` (each class present is
    one indicator column) or, with ``regression=True``, real targets ``[n]`` or ``[n, K]``.

    The per-example log evidence averaged over columns; higher means the features explain the
    targets better with a linear model. ``solver``: ``tol`` and ``max_iter`` of
    :func:`logme_columns`.
    """
    return float(logme_columns(features, targets, regression=regression, **solver).mean())
