"""Multinomial logistic regression for the linear probe: many problems at once, no autograd.

When the task's loss is softmax cross-entropy on class labels (every single-label classifier),
the probe's objective has a closed-form gradient, so the fit needs no autograd graph, no
``zero_grad`` and no optimizer object: one matrix product forward, one backward. Problem ``g``
of a batch minimises

    f_g(W, b) = Σ_n s[g, n] · CE(W x_n + b, y_n) + λ_g / 2 · ||W||²

over the same inputs ``x`` (``s[g]``: the examples it trains on, each row summing to 1, so
the loss term is the mean over them: the folds of a cross-validation, or the whole split).
The gradient ``(P − Y)ᵀ s x + λ W`` of every problem comes from two matrix products over the
stacked weights ``[G · classes, dim + 1]``. :func:`lbfgs` minimises each problem by L-BFGS
with a backtracking (Armijo) line search, each with its own history, step and convergence
test, so a batched fit gives each problem what a separate fit would; a problem that has
converged leaves the batch. :func:`path` runs a grid of strengths from the strongest to the
weakest, each warm-started from the last solution with the curvature pairs carried over (the
loss part of the curvature does not depend on ``λ``; the penalty's part is corrected exactly).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import torch

#: Converged when the largest gradient entry is below this (scikit-learn's ``tol`` is 1e-4) …
GTOL = 1e-4
#: … or when a step lowers the objective by less than this, relative to it.
FTOL = 1e-10


@dataclass
class Problems:
    """``G`` logistic regressions on the same inputs: ``x1`` is ``[N, dim + 1]`` (the last column
    ones, for the bias), ``y`` the class of each example, ``weights`` ``[G, N]`` what each
    problem trains on (rows summing to 1), ``l2`` ``[G]`` each problem's strength. The two
    matrix products run in ``x1``'s dtype (float32: half the time of float64), everything else
    (the solution, the objective, the curvature pairs) in ``weights``' (float64: in float32 the
    line search could not resolve the objective's last digits near the optimum)."""

    x1: torch.Tensor
    y: torch.Tensor
    classes: int
    weights: torch.Tensor
    l2: torch.Tensor
    targets: torch.Tensor = field(init=False)  # [N, G, classes]: one-hot, times each problem's weight
    scale: torch.Tensor = field(init=False)  # [N, G, 1]: each problem's weight

    def __post_init__(self) -> None:
        onehot = torch.nn.functional.one_hot(self.y, self.classes).to(self.weights.dtype)
        self.scale = self.weights.T.contiguous()[..., None]
        self.targets = onehot[:, None, :] * self.scale

    def logits(self, w: torch.Tensor, x1: torch.Tensor | None = None) -> torch.Tensor:
        """``[N, G, classes]`` for weights ``[G, classes, dim + 1]`` (on ``x1``, default the fit's)."""
        x1 = self.x1 if x1 is None else x1
        g, c, d = w.shape
        return (x1 @ w.reshape(g * c, d).T.to(x1.dtype)).view(len(x1), g, c).to(w.dtype)

    def cross_entropy(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """``[N, G]``: each example's loss under each problem's logits ``z``."""
        y = self.y if y is None else y
        picked = z.gather(2, y.view(-1, 1, 1).expand(-1, z.shape[1], 1)).squeeze(2)
        return torch.logsumexp(z, -1) - picked

    def value_and_grad(self, w: torch.Tensor, rows: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """The objective ``[g]`` and its gradient for problems ``rows`` (``None``: all) at weights ``w``."""
        lam, targets, scale = self.l2, self.targets, self.scale
        if rows is not None:
            lam, targets, scale = lam[rows], targets[:, rows], scale[:, rows]
        logp = self.logits(w).log_softmax(-1)  # [N, g, classes]
        inner = w[..., :-1]
        f = torch.addcmul((logp * targets).sum((0, 2)).neg_(), lam, inner.pow(2).sum((1, 2)), value=0.5)
        r = logp.exp_().mul_(scale).sub_(targets)  # (P − Y) · s
        grad = (r.view(len(self.x1), -1).T.to(self.x1.dtype) @ self.x1).view(w.shape).to(w.dtype)
        grad[..., :-1].add_(inner * lam[:, None, None])
        return f, grad


class _History:
    """The last ``size`` curvature pairs of each of ``G`` problems, oldest first, in the compact
    form of Byrd, Nocedal and Schnabel (1994): ``H g`` costs a few batched products instead of a
    Python loop over the pairs. A pair a problem does not use (none yet, or one that failed the
    curvature test) is zero with a unit diagonal in ``R``: it drops out of every product."""

    def __init__(self, G: int, P: int, size: int, like: torch.Tensor) -> None:
        self.s = like.new_zeros(G, size, P)
        self.y = like.new_zeros(G, size, P)
        self.gamma = like.new_ones(G)
        self.used = torch.zeros(G, size, dtype=torch.bool, device=like.device)

    def direction(self, g: torch.Tensor) -> torch.Tensor:
        """``−H g`` for gradients ``g`` ``[G, P]``."""
        sy = self.s @ self.y.transpose(1, 2)  # [G, m, m]: s_i · y_j
        r = sy.triu().where(self.used[:, None, :] | ~torch.eye(len(sy[0]), dtype=torch.bool, device=g.device), 1.0)
        gamma = self.gamma[:, None, None]
        u = self.s @ g[..., None]  # [G, m, 1]
        v = gamma * (self.y @ g[..., None])
        w1: torch.Tensor = torch.linalg.solve_triangular(r, u, upper=True)
        gram_w1 = self.y @ (self.y.transpose(1, 2) @ w1)  # (Y Yᵀ) w1, pairs as rows
        middle = sy.diagonal(dim1=1, dim2=2)[..., None] * w1 + gamma * gram_w1
        top: torch.Tensor = torch.linalg.solve_triangular(r.transpose(1, 2), middle - v, upper=False)
        hg = gamma.squeeze(-1) * g + (self.s.transpose(1, 2) @ top).squeeze(-1)
        hg = hg - (gamma * (self.y.transpose(1, 2) @ w1)).squeeze(-1)
        return hg.neg_()

    def add(self, s: torch.Tensor, y: torch.Tensor, use: torch.Tensor) -> None:
        """Append each problem's pair ``(s, y)`` where ``use`` and the curvature is positive."""
        sy, yy = (s * y).sum(1), (y * y).sum(1)
        use = use & (sy > 1e-10 * yy)
        keep = use[:, None]
        self.s = torch.cat([self.s[:, 1:], (s * keep)[:, None]], 1)
        self.y = torch.cat([self.y[:, 1:], (y * keep)[:, None]], 1)
        self.used = torch.cat([self.used[:, 1:], use[:, None]], 1)
        self.gamma = torch.where(use, sy / yy.clamp_min(1e-300), self.gamma)

    def forget(self, which: torch.Tensor) -> None:
        keep = ~which
        self.s, self.y = self.s * keep[:, None, None], self.y * keep[:, None, None]
        self.used = self.used & keep[:, None]

    def shift(self, delta: torch.Tensor, mask: torch.Tensor) -> None:
        """Carry the pairs to strengths ``λ + delta``: the penalty adds ``delta · s`` to each ``y``
        (a pair that would lose its positive curvature is dropped)."""
        self.y = self.y + delta[:, None, None] * self.s * mask
        self.used = self.used & ((self.s * self.y).sum(-1) > 0)
        self.s, self.y = self.s * self.used[..., None], self.y * self.used[..., None]


def lbfgs(
    problems: Problems,
    w: torch.Tensor,
    *,
    max_iter: int,
    history: _History | None = None,
    gtol: float = GTOL,
    ftol: float = FTOL,
) -> tuple[torch.Tensor, int, _History]:
    """Minimise every problem from ``w`` ``[G, classes, dim + 1]``: the solutions, the most
    iterations any problem took, and the curvature history (for a warm start)."""
    G, shape = w.shape[0], w.shape[1:]
    w = w.reshape(G, -1).clone()
    f, g = problems.value_and_grad(w.view(G, *shape), None)
    g = g.reshape(G, -1)
    hist = history or _History(G, w.shape[1], 10, w)
    active = g.abs().amax(1) > gtol
    iterations = 0
    for _ in range(max_iter):
        if not bool(active.any()):
            break
        iterations += 1
        d = hist.direction(g)
        gd = (g * d).sum(1)
        uphill = gd >= 0
        if bool(uphill.any()):  # the history misleads: start over from steepest descent
            hist.forget(uphill)
            d = torch.where(uphill[:, None], -g, d)
            gd = (g * d).sum(1)
        fresh = ~hist.used.any(1)  # no curvature yet: a first step of length at most 1
        t = torch.where(fresh, g.abs().sum(1).clamp(min=1.0).reciprocal(), 1.0)
        searching = active.clone()
        f_new, g_new = f.clone(), g.clone()
        for _ls in range(30):
            everyone = bool(searching.all())
            rows = None if everyone else searching.nonzero().squeeze(1)
            if rows is not None and not len(rows):
                break
            trial = w + t[:, None] * d if rows is None else w[rows] + t[rows, None] * d[rows]
            fv, gv = problems.value_and_grad(trial.view(-1, *shape), rows)
            f0, t0, gd0 = (f, t, gd) if rows is None else (f[rows], t[rows], gd[rows])
            ok = (fv <= f0 + 1e-4 * t0 * gd0) & torch.isfinite(fv)
            if rows is None and bool(ok.all()):
                f_new, g_new, searching = fv, gv.reshape(G, -1), ~ok
                break
            rows = torch.arange(G, device=w.device) if rows is None else rows
            f_new[rows[ok]], g_new[rows[ok]] = fv[ok], gv.reshape(len(rows), -1)[ok]
            searching[rows[ok]] = False
            t[rows[~ok]] *= 0.5
        moved = active & ~searching  # a problem with no decrease left has gone as far as it can
        step = (t * moved)[:, None] * d
        hist.add(step, g_new - g, moved)
        small = (f - f_new) <= ftol * f.abs().clamp_min(1.0)
        w, f, g = w + step, torch.where(moved, f_new, f), torch.where(moved[:, None], g_new, g)
        active = moved & (g.abs().amax(1) > gtol) & ~small
    return w.view(G, *shape), iterations, hist


def path(
    problems: Problems, strengths: Sequence[float], *, max_iter: int, gtol: float = GTOL
) -> Iterator[tuple[float, torch.Tensor, int]]:
    """Solve ``problems`` at each strength in turn (strongest first), each warm-started from the
    last solution and its curvature pairs: yields the strength, the weights ``[G, classes, dim +
    1]`` and the iterations it took."""
    G, d = problems.weights.shape[0], problems.x1.shape[1]
    w = torch.zeros(G, problems.classes, d, dtype=problems.weights.dtype, device=problems.x1.device)
    penalised = torch.ones(problems.classes, d, dtype=w.dtype, device=w.device)
    penalised[:, -1] = 0
    hist: _History | None = None
    previous: float | None = None
    for l2 in strengths:
        problems.l2 = torch.full((G,), float(l2), dtype=w.dtype, device=w.device)
        if hist is not None and previous is not None:
            hist.shift(torch.full((G,), l2 - previous, dtype=w.dtype, device=w.device), penalised.reshape(1, -1))
        w, n, hist = lbfgs(problems, w, max_iter=max_iter, history=hist, gtol=gtol)
        previous = l2
        yield l2, w, n
