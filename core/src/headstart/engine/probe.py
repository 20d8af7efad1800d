"""A converged linear probe: full-batch L-BFGS on cached features, L2 strength chosen on validation.

This is the protocol papers use for linear-probe numbers (CLIP, SimCLR …): when only a linear head
trains on frozen features, the problem is convex, so instead of epochs of a stochastic optimizer
the head is fit to convergence with ``torch.optim.LBFGS`` (strong-Wolfe line search) for each L2
strength of a log-spaced grid, warm-started from the strongest to the weakest, and the strength
with the best validation metric wins. The objective is the task's own loss on the whole training
split plus ``l2 / 2 * ||W||²`` on the weight matrix (never on the bias), so ``l2 = 1 / (C · N)``
in scikit-learn's ``LogisticRegression(C=C)`` terms on N training examples.

It applies when the head has exactly one parameterised module, an ``nn.Linear`` (dropout and
pooling are fine: the fit runs with the head in eval mode), and the features are vectors.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from .device import to_device
from .feature_cache import CachedSplit

#: The default L2 grid: 10^-6 … 10^0, one point per decade.
L2_GRID: tuple[float, ...] = tuple(10.0**e for e in range(-6, 1))


def linear_layer(head: nn.Module) -> nn.Linear | None:
    """The head's only parameterised module when it is an ``nn.Linear``; else ``None``."""
    owners = [m for m in head.modules() if any(True for _ in m.parameters(recurse=False))]
    if len(owners) == 1 and isinstance(owners[0], nn.Linear):
        return owners[0]
    return None


def applies(head: nn.Module, train: CachedSplit | None) -> bool:
    """True when the L-BFGS probe can fit ``head`` on ``train``: a linear head on cached vector
    features whose batches the cache can rebuild."""
    return train is not None and not train.sequence and train.extras is not None and linear_layer(head) is not None


@dataclass
class ProbeResult:
    """What the fit chose: ``l2`` (and scikit-learn's ``C`` for it), the validation score per strength."""

    l2: float
    C: float
    score: float | None
    scores: dict[str, float] = field(default_factory=dict)
    iterations: int = 0
    chosen_by: str = "validation"

    def to_dict(self) -> dict[str, Any]:
        return {
            "solver": "lbfgs",
            "l2": self.l2,
            "C": self.C,
            "val_score": self.score,
            "val_scores": self.scores,
            "iterations": self.iterations,
            "chosen_by": self.chosen_by,
        }


def _fit(
    head: nn.Module,
    linear: nn.Linear,
    loss_fn: Callable[[torch.Tensor], torch.Tensor],
    features: Any,
    l2: float,
    max_iter: int,
) -> int:
    params = [p for p in head.parameters() if p.requires_grad]
    opt = torch.optim.LBFGS(
        params,
        lr=1.0,
        max_iter=max_iter,
        history_size=20,
        tolerance_grad=1e-6,
        tolerance_change=1e-9,
        line_search_fn="strong_wolfe",
    )

    def closure() -> torch.Tensor:
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(head(features)) + 0.5 * l2 * linear.weight.pow(2).sum()
        loss.backward()  # type: ignore[no-untyped-call]
        return loss

    opt.step(closure)  # type: ignore[no-untyped-call]
    state = opt.state[opt._params[0]]
    return int(state.get("n_iter", 0))


def fit_probe(
    head: nn.Module,
    train: CachedSplit,
    val: CachedSplit | None,
    loss: Callable[[Any, dict[str, Any]], torch.Tensor],
    score: Callable[[Any, dict[str, Any]], float],
    *,
    higher_is_better: bool = True,
    grid: Sequence[float] = L2_GRID,
    max_iter: int = 1000,
    device: torch.device | None = None,
) -> ProbeResult:
    """Fit ``head`` by L-BFGS for every strength of ``grid`` and keep the one whose ``score`` on
    ``val`` is best (ties: the stronger regulariser). ``loss(outputs, batch)`` is the task's loss,
    ``score(outputs, batch)`` the monitored metric of a whole split. Without ``val`` the middle of
    the grid is used. The head ends with the chosen weights."""
    linear = linear_layer(head)
    if linear is None:
        raise ValueError("the L-BFGS probe needs a head whose only trainable layer is one nn.Linear")
    device = device or linear.weight.device
    strengths = sorted(grid, reverse=True)  # strongest first: each fit warm-starts the next
    if not strengths or any(not s >= 0 for s in strengths):
        raise ValueError(f"the L2 grid must be non-negative numbers, got {list(grid)}")
    train_batch = to_device(train.batch(torch.arange(len(train))), device)
    val_batch = to_device(val.batch(torch.arange(len(val))), device) if val is not None else None
    n = len(train)
    was_training = head.training
    head.eval()
    with torch.no_grad():
        linear.weight.zero_()
        if linear.bias is not None:
            linear.bias.zero_()
    best: tuple[float, float, dict[str, torch.Tensor]] | None = None
    scores: dict[str, float] = {}
    iterations = 0
    try:
        candidates = strengths if val_batch is not None else [strengths[len(strengths) // 2]]
        for l2 in candidates:
            iterations += _fit(head, linear, lambda out: loss(out, train_batch), train_batch["_features"], l2, max_iter)
            if val_batch is None:
                best = (l2, math.nan, {})
                break
            with torch.no_grad():
                value = float(score(head(val_batch["_features"]), val_batch))
            scores[f"{l2:g}"] = value
            better = best is None or (
                not math.isnan(value) and (value > best[1] if higher_is_better else value < best[1])
            )
            if better or (best is not None and math.isnan(best[1])):
                best = (l2, value, {k: v.detach().clone() for k, v in head.state_dict().items()})
    finally:
        head.train(was_training)
    assert best is not None
    if best[2]:
        head.load_state_dict(best[2])
    l2 = best[0]
    return ProbeResult(
        l2=l2,
        C=math.inf if l2 == 0 else 1.0 / (l2 * n),
        score=None if val_batch is None else best[1],
        scores=scores,
        iterations=iterations,
        chosen_by="validation" if val_batch is not None else "default (no val split)",
    )
