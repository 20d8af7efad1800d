"""A converged linear probe: full-batch L-BFGS on cached features, L2 strength chosen on validation.

This is the protocol papers use for linear-probe numbers (CLIP, SimCLR …): when only a linear head
trains on frozen features, the problem is convex, so instead of epochs of a stochastic optimizer
the head is fit to convergence by L-BFGS for each L2 strength of a log-spaced grid, warm-started
from the strongest to the weakest, and the strength with the best validation metric wins (the
search stops once two strengths in a row did worse than the best before them: weaker strengths
only overfit more, and cost the most iterations). When the task's loss is softmax cross-entropy
the fits run in :mod:`.logistic` (closed-form gradients, batched problems); any other loss
through ``torch.optim.LBFGS`` (strong-Wolfe line search) with autograd. A task without a
validation split gets the same search on
``k`` stratified folds of the training features, judged by the task's loss on the held-out fold
(averaged over the folds: smooth where the accuracy of a fold of a few dozen examples jumps by
whole examples; scikit-learn's ``LogisticRegressionCV`` moves to log-loss by default for the
same reason), then one fit on all of them at the chosen strength:
never an unvalidated default, which at a few labels per class can cost several points. The
objective is the task's own loss on the whole training split plus ``l2 / 2 * ||W||²`` on the
weight matrix (never on the bias), so ``l2 = 1 / (C · N)`` in scikit-learn's
``LogisticRegression(C=C)`` terms on N training examples (multinomial; for two classes scikit-learn
fits one weight vector, whose equivalent strength is ``l2 / 2``).

It applies when the head's only parameterised module is an ``nn.Linear`` whose output is the
head's output, one row per example (pooling and dropout in front of it are fine: the pooled input
of the linear layer is computed once, with the head in eval mode, and the fit runs on it).
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import nn

from . import fingerprint, logistic
from .device import to_device
from .feature_cache import CachedSplit
from .probe_search import Data, best, cross_validate, folds_of, search, stopper

__all__ = [
    "L2_GRID",
    "NotApplicable",
    "ProbeResult",
    "applies",
    "fit_probe",
    "folds_of",
    "linear_inputs",
    "linear_layer",
]

#: The default L2 grid: 10^-6 … 10^0, one point per decade.
L2_GRID: tuple[float, ...] = tuple(10.0**e for e in range(-6, 1))


class NotApplicable(ValueError):
    """The head is not one linear layer on per-example inputs; train it by epochs instead."""


def linear_layer(head: nn.Module) -> nn.Linear | None:
    """The head's only parameterised module when it is an ``nn.Linear``; else ``None``."""
    owners = [m for m in head.modules() if any(True for _ in m.parameters(recurse=False))]
    if len(owners) == 1 and isinstance(owners[0], nn.Linear):
        return owners[0]
    return None


def applies(head: nn.Module, train: CachedSplit | None) -> bool:
    """Whether the probe may fit ``head`` on ``train`` (a cached split whose per-example fields
    are cached, and a head with one linear layer); :func:`fit_probe` still checks the rest."""
    return train is not None and train.extras is not None and linear_layer(head) is not None


@dataclass
class ProbeResult:
    """What the fit chose: ``l2`` (and scikit-learn's ``C`` for it), the score per strength: the
    monitored metric on the validation split or, when ``chosen_by`` says cross-validation, the
    task's loss on the held-out folds (their mean)."""

    l2: float
    C: float
    score: float | None
    train_loss: float
    scores: dict[str, float] = field(default_factory=dict)
    iterations: int = 0
    chosen_by: str = "validation"

    def to_dict(self) -> dict[str, Any]:
        if self.chosen_by == "validation":
            held = {"val_score": self.score, "val_scores": self.scores}
        else:  # cross-validation: the held-out folds' mean loss
            held = {"cv_loss": self.score, "cv_losses": self.scores}
        return {
            "solver": "lbfgs",
            "l2": self.l2,
            "C": self.C,
            **held,
            "train_loss": self.train_loss,
            "iterations": self.iterations,
            "chosen_by": self.chosen_by,
        }


def linear_inputs(head: nn.Module, linear: nn.Linear, split: CachedSplit, device: torch.device) -> torch.Tensor:
    """What ``linear`` receives for every example of ``split`` (``[N, in_features]``), computed in
    chunks with ``head`` in eval mode. Raises :class:`NotApplicable` unless the linear layer's
    output is the head's output, one row per example."""
    seen: list[torch.Tensor] = []
    handle = linear.register_forward_hook(lambda m, args, out: seen.append(args[0].detach()))
    was_training = head.training
    head.eval()
    chunks: list[torch.Tensor] = []
    try:
        with torch.no_grad():
            for start in range(0, len(split), 1024):
                index = torch.arange(start, min(start + 1024, len(split)))
                out = head(split.lookup(index, device))
                x = seen.pop()
                if x.ndim != 2 or not isinstance(out, torch.Tensor) or out.shape != (len(index), linear.out_features):
                    raise NotApplicable("the head's linear layer does not map one input row to each output row")
                if not torch.allclose(out.float(), linear(x).float(), atol=1e-5, rtol=1e-4):
                    raise NotApplicable("the head transforms its linear layer's output")
                chunks.append(x.float())
    finally:
        handle.remove()
        head.train(was_training)
    return torch.cat(chunks) if chunks else torch.zeros(0, linear.in_features, device=device)


def _softmax_cross_entropy(loss: Callable[[Any, dict[str, Any]], torch.Tensor], data: Data, classes: int) -> bool:
    """Whether ``loss`` is the mean softmax cross-entropy on ``data``'s class ``targets``: checked
    on two seeded random logit matrices (a class-weighted or label-smoothed loss is not)."""
    targets = data.fields.get("targets")
    if not isinstance(targets, torch.Tensor) or targets.shape != (len(data.x),) or targets.is_floating_point():
        return False
    if not len(targets) or int(targets.min()) < 0 or int(targets.max()) >= classes:
        return False
    g = torch.Generator().manual_seed(0)
    for scale in (1.0, 5.0):
        z = (scale * torch.randn(len(targets), classes, generator=g)).to(data.x.device)
        try:
            got = float(loss(z, data.fields))
        except Exception:  # a loss that cannot take these logits is not this one
            return False
        if not math.isclose(got, float(nn.functional.cross_entropy(z, targets.long())), rel_tol=1e-5, abs_tol=1e-6):
            return False
    return True


def _set(linear: nn.Linear, w: torch.Tensor, mean: torch.Tensor) -> None:
    """Load ``[classes, dim + 1]`` (weights, then the bias column) fit on inputs centred at
    ``mean`` into ``linear``, which sees them uncentred."""
    assert linear.bias is not None
    with torch.no_grad():
        linear.weight.copy_(w[:, :-1])
        linear.bias.copy_(w[:, -1] - w[:, :-1] @ mean.to(w.dtype))


def _logistic(
    linear: nn.Linear,
    whole: Data,
    held: Data | None,
    strengths: Sequence[float],
    score: Callable[[Any, dict[str, Any]], float],
    *,
    higher_is_better: bool,
    folds: int,
    max_iter: int,
    patience: int | None,
    tol: float,
) -> tuple[int, list[float], int, str]:
    """The probe for softmax cross-entropy (:mod:`.logistic`: closed-form gradients, batched
    L-BFGS): the chosen strength's index, the scores, the iterations, how it was chosen. Without
    ``held``, the folds and the whole split are one batch of problems along the path."""
    n = len(whole.x)
    # centred inputs: the same problem (the bias is free and unpenalised: W(x − μ) + b + Wμ), far
    # better conditioned for L-BFGS when every feature is positive, as after a ReLU
    mean = whole.x.mean(0)
    x1 = torch.cat([whole.x - mean, torch.ones(n, 1, dtype=whole.x.dtype, device=whole.x.device)], 1)
    y = whole.fields["targets"].long()
    cv = held is None and len(strengths) > 1 and folds >= 2 and n >= 2 * folds
    parts = folds_of(y, n, folds) if cv else []
    work = torch.float32 if x1.device.type == "mps" else torch.float64  # MPS has no float64
    weights = torch.zeros(len(parts) + 1, n, dtype=work, device=x1.device)
    for i, part in enumerate(parts):  # fold i trains on the others
        weights[i] = 1.0 / (n - len(part))
        weights[i, part.to(x1.device)] = 0.0
    weights[-1] = 1.0 / n  # the whole split
    problems = logistic.Problems(x1, y, linear.out_features, weights, torch.zeros_like(weights[:, 0]))
    if held is None and not cv:  # no way to choose: the middle of the grid
        strengths = [strengths[len(strengths) // 2]]
    stop = stopper(higher_is_better if held is not None else False, patience)
    scores: list[float] = []
    solutions: list[torch.Tensor] = []
    iterations = 0
    for _, w, steps in logistic.path(problems, strengths, max_iter=max_iter, gtol=tol):
        iterations += steps
        solutions.append(w[-1].clone())
        if held is not None:
            _set(linear, w[-1], mean)
            with torch.no_grad():
                scores.append(float(score(linear(held.x), held.fields)))
        elif cv:  # each fold's mean loss where it was held out, averaged over the folds
            ce = problems.cross_entropy(problems.logits(w[:-1]))
            scores.append(sum(float(ce[part, i].mean()) for i, part in enumerate(parts)) / len(parts))
        if scores and stop(scores):
            break
    if held is not None:
        chosen, how = best(scores, higher_is_better), "validation"
    elif cv:
        chosen, how = best(scores, False), f"{folds}-fold cross-validation on train (no val split)"
    else:
        chosen, how = 0, "default (no val split)"
    _set(linear, solutions[chosen], mean)
    return chosen, scores, iterations, how


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
    folds: int = 5,
    patience: int | None = 2,
    tol: float = logistic.GTOL,
    device: torch.device | None = None,
    share: str | None = None,
) -> ProbeResult:
    """Fit ``head``'s linear layer by L-BFGS for the strengths of ``grid`` (strongest first) and
    keep the one whose ``score`` on ``val`` is best (ties: the stronger regulariser); the search
    stops once ``patience`` strengths in a row scored worse than the best before them (``None``:
    the whole grid). ``loss(outputs, batch)`` is the task's loss, ``score(outputs, batch)`` the
    monitored metric over a whole split (``batch`` holds the split's cached fields, ``targets``
    …). Without ``val``, the strength is chosen by ``folds``-fold cross-validation on ``train``
    (stratified by class when the targets are class labels; the lowest mean ``loss`` on the
    held-out folds), and the head gets the fit on all of ``train`` at it; with fewer than two
    examples per fold (or ``folds < 2``, or a one-strength grid) the middle of the grid is used.
    When ``loss`` is softmax cross-entropy on class labels and the layer has a bias, the fits
    run in :mod:`.logistic` (closed-form gradients, float32 like the features; the folds and the
    whole split as one batched problem; converged when no gradient entry exceeds ``tol``,
    scikit-learn's default); any other loss goes through ``torch.optim.LBFGS`` with autograd.
    The head ends with the chosen weights.

    ``share`` (the caller's description of what ``score`` measures: the task and its monitored
    metric) lets calls share a closed-form fit: it starts from zeros, so the same inputs of the
    linear layer, task fields and settings give the same fit, and a later call in this process
    loads the weights of an earlier one instead of fitting again (the cells of a ``compare``
    matrix that differ only in seed or learning rate). Fits by autograd start from the head's
    own weights and are never shared."""
    linear = linear_layer(head)
    if linear is None or train.extras is None:
        raise NotApplicable("the L-BFGS probe needs a head whose only trainable layer is one nn.Linear")
    strengths = sorted(grid, reverse=True)  # strongest first: each fit warm-starts the next
    if not strengths or any(not s >= 0 for s in strengths):
        raise ValueError(f"the L2 grid must be non-negative numbers, got {list(grid)}")
    device = device or linear.weight.device
    whole = Data(linear_inputs(head, linear, train, device), to_device(train.fields(torch.arange(len(train))), device))
    held = None
    if val is not None and val.extras is not None:
        held = Data(linear_inputs(head, linear, val, device), to_device(val.fields(torch.arange(len(val))), device))
    closed_form = linear.bias is not None and _softmax_cross_entropy(loss, whole, linear.out_features)
    key = None
    if closed_form and share is not None:
        settings = (share, str(device), tuple(strengths), higher_is_better, max_iter, folds, patience, tol)
        key = _fit_key(settings, whole, held)
        if key in _SHARED:
            _SHARED.move_to_end(key)
            state, shared = _SHARED[key]
            linear.load_state_dict(state)
            return replace(shared, scores=dict(shared.scores))
    if closed_form:
        chosen, scores, iterations, chosen_by = _logistic(
            linear,
            whole,
            held,
            strengths,
            score,
            higher_is_better=higher_is_better,
            folds=folds,
            max_iter=max_iter,
            patience=patience,
            tol=tol,
        )
        if chosen_by.startswith("default"):
            strengths, chosen = [strengths[len(strengths) // 2]], 0
    elif held is not None:
        stop = stopper(higher_is_better, patience)
        scores, states, iterations = search(linear, whole, held, strengths, loss, score, max_iter, stop)
        chosen, chosen_by = best(scores, higher_is_better), "validation"
        linear.load_state_dict(states[chosen])
    else:
        chosen, scores, iterations, chosen_by = cross_validate(linear, whole, strengths, loss, folds, max_iter)
    with torch.no_grad():
        train_loss = float(loss(linear(whole.x), whole.fields))
    l2 = strengths[chosen]
    result = ProbeResult(
        l2=l2,
        C=math.inf if l2 == 0 else 1.0 / (l2 * max(len(train), 1)),
        score=scores[chosen] if scores else None,
        train_loss=train_loss,
        scores={f"{s:g}": v for s, v in zip(strengths, scores, strict=False)} if scores else {},
        iterations=iterations,
        chosen_by=chosen_by,
    )
    if key is not None:
        _SHARED[key] = ({k: v.detach().clone() for k, v in linear.state_dict().items()}, result)
        while len(_SHARED) > SHARED_FITS:
            _SHARED.popitem(last=False)
    return replace(result, scores=dict(result.scores))


#: The most closed-form fits kept for sharing (the least recently used go first).
SHARED_FITS = 8
_SHARED: OrderedDict[str, tuple[dict[str, torch.Tensor], ProbeResult]] = OrderedDict()


def _fit_key(settings: tuple[Any, ...], whole: Data, held: Data | None) -> str:
    """A digest of the settings and of every byte the fit reads: the linear layer's inputs and
    the task fields of train (and val)."""
    h = hashlib.sha256(repr(settings).encode())
    for data in (whole, held):
        if data is None:
            h.update(b"none")
            continue
        for name, value in (("x", data.x), *sorted(data.fields.items())):
            if isinstance(value, torch.Tensor):
                fingerprint.update(h, name, value)
            else:
                h.update(f"{name}:{value!r}".encode())
    return h.hexdigest()


def forget_shared_fits() -> None:
    """Drop every fit kept for sharing: the next call of :func:`fit_probe` fits anew."""
    _SHARED.clear()
