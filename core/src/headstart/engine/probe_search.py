"""How the probe searches its grid of L2 strengths: the folds of a cross-validation, the best
score, when the search may stop, and the fits by ``torch.optim.LBFGS`` with autograd that serve
any task loss (softmax cross-entropy has its own closed-form solver in :mod:`.logistic`)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn


def fit_lbfgs(
    linear: nn.Linear, objective: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, l2: float, max_iter: int
) -> int:
    """Minimise ``objective(linear(x)) + l2/2 · ||W||²`` from ``linear``'s current weights by
    ``torch.optim.LBFGS`` (strong-Wolfe line search, autograd): the iterations it took."""
    opt = torch.optim.LBFGS(
        [p for p in linear.parameters() if p.requires_grad],
        lr=1.0,
        max_iter=max_iter,
        history_size=20,
        tolerance_grad=1e-6,
        tolerance_change=1e-9,
        line_search_fn="strong_wolfe",
    )

    def closure() -> torch.Tensor:
        opt.zero_grad(set_to_none=True)
        loss = objective(linear(x)) + 0.5 * l2 * linear.weight.pow(2).sum()
        loss.backward()  # type: ignore[no-untyped-call]
        return loss

    opt.step(closure)  # type: ignore[no-untyped-call]
    return int(opt.state[linear.weight].get("n_iter", 0))


def folds_of(targets: Any, n: int, k: int, seed: int = 0) -> list[torch.Tensor]:
    """``k`` disjoint index sets covering ``range(n)``: a seeded permutation dealt round-robin,
    grouped by class first when ``targets`` is one integer label per example (stratified)."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    if isinstance(targets, torch.Tensor) and targets.shape == (n,) and not targets.is_floating_point():
        order = order[torch.argsort(targets.cpu()[order], stable=True)]
    return [order[i::k].sort().values for i in range(k)]


@dataclass
class Data:
    """The linear layer's inputs of some examples and their task fields."""

    x: torch.Tensor
    fields: dict[str, Any]

    def subset(self, index: torch.Tensor) -> Data:
        sub = {
            k: v[index] if isinstance(v, torch.Tensor) else [v[i] for i in index.tolist()]
            for k, v in self.fields.items()
        }
        return Data(self.x[index], sub)


def search(
    linear: nn.Linear,
    fit: Data,
    held: Data,
    strengths: Sequence[float],
    loss: Callable[[Any, dict[str, Any]], torch.Tensor],
    score: Callable[[Any, dict[str, Any]], float],
    max_iter: int,
    stop: Callable[[list[float]], bool],
) -> tuple[list[float], list[dict[str, torch.Tensor]], int]:
    """Fit on ``fit`` for each strength (strongest first, each warm-starting the next, from zero
    weights) and score on ``held`` until ``stop(scores)``: the scores, the weights after each
    fit, the L-BFGS iterations."""
    with torch.no_grad():
        linear.weight.zero_()
        if linear.bias is not None:
            linear.bias.zero_()
    scores: list[float] = []
    states: list[dict[str, torch.Tensor]] = []
    iterations = 0
    for l2 in strengths:
        iterations += fit_lbfgs(linear, lambda out: loss(out, fit.fields), fit.x, l2, max_iter)
        with torch.no_grad():
            scores.append(float(score(linear(held.x), held.fields)))
        states.append({k: v.detach().clone() for k, v in linear.state_dict().items()})
        if stop(scores):
            break
    return scores, states, iterations


def best(scores: Sequence[float], higher_is_better: bool) -> int:
    """The index of the best score (the first, i.e. the strongest regulariser, on ties; NaN never wins
    unless every score is NaN)."""
    best = 0
    for i, value in enumerate(scores):
        if math.isnan(scores[best]) or (value > scores[best] if higher_is_better else value < scores[best]):
            best = i
    return best


def stopper(higher_is_better: bool, patience: int | None) -> Callable[[list[float]], bool]:
    """Whether a grid search may stop: the last ``patience`` scores were each worse than the best
    before them (the held-out score has turned; weaker strengths cost the most iterations)."""

    def stop(scores: list[float]) -> bool:
        if patience is None or len(scores) <= patience:
            return False
        top = scores[best(scores[:-patience], higher_is_better)]
        worse = [(v < top if higher_is_better else v > top) for v in scores[-patience:]]
        return all(worse)

    return stop


def cross_validate(
    linear: nn.Linear,
    whole: Data,
    strengths: Sequence[float],
    loss: Callable[[Any, dict[str, Any]], torch.Tensor],
    folds: int,
    max_iter: int,
) -> tuple[int, list[float], int, str]:
    """The strength with the lowest mean held-out ``loss`` over ``folds`` folds of ``whole`` (the
    whole grid, fold by fold), then the fit on all of ``whole`` at it (by ``torch.optim.LBFGS``)."""
    scores: list[float] = []
    iterations = 0

    def held_loss(outputs: Any, batch: dict[str, Any]) -> float:
        return float(loss(outputs, batch))

    n = len(whole.x)
    if len(strengths) > 1 and folds >= 2 and n >= 2 * folds:
        parts = folds_of(whole.fields.get("targets"), n, folds)
        per_fold = []
        for i, part in enumerate(parts):
            rest = torch.cat([p for j, p in enumerate(parts) if j != i])
            fold_scores, _, steps = search(
                linear, whole.subset(rest), whole.subset(part), strengths, loss, held_loss, max_iter, lambda _: False
            )
            per_fold.append(fold_scores)
            iterations += steps
        scores = [sum(f[s] for f in per_fold) / folds for s in range(len(strengths))]
        chosen, chosen_by = best(scores, False), f"{folds}-fold cross-validation on train (no val split)"
    else:
        chosen, chosen_by = len(strengths) // 2, "default (no val split)"
    with torch.no_grad():
        linear.weight.zero_()
        if linear.bias is not None:
            linear.bias.zero_()
    iterations += fit_lbfgs(linear, lambda out: loss(out, whole.fields), whole.x, strengths[chosen], max_iter)
    return chosen, scores, iterations, chosen_by
