"""The L-BFGS probe: converged like scikit-learn's LogisticRegression on the same features."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from torch import nn

from headstart import ClassificationHead, Features, FeatureSpec, SequenceHead
from headstart.engine import logistic
from headstart.engine.feature_cache import CachedSplit
from headstart.engine.probe import (
    L2_GRID,
    NotApplicable,
    _softmax_cross_entropy,
    applies,
    fit_probe,
    folds_of,
    linear_layer,
)
from headstart.engine.probe_search import Data


def _blobs(n: int, dim: int, classes: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(classes, dim, generator=g) * 0.6
    y = torch.arange(n) % classes
    return centers[y] + torch.randn(n, dim, generator=g), y


def _split(x: torch.Tensor, y: torch.Tensor) -> CachedSplit:
    return CachedSplit(list(x.unbind(0)), sequence=False, extras={"targets": y})


class _Head(nn.Module):
    def __init__(self, dim: int, classes: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Dropout(0.5), nn.Linear(dim, classes))

    def forward(self, features: Features) -> torch.Tensor:
        return self.net(features.values)  # type: ignore[no-any-return]


def _loss(out: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    return nn.functional.cross_entropy(out, batch["targets"])


def _accuracy(out: torch.Tensor, batch: dict[str, torch.Tensor]) -> float:
    return float((out.argmax(-1) == batch["targets"]).float().mean())


def test_the_fit_matches_scikit_learn_at_the_same_strength() -> None:
    x, y = _blobs(300, 20, 4, seed=0)
    torch.manual_seed(0)
    head = _Head(20, 4)
    l2 = 1e-2
    fit_probe(head, _split(x, y), None, _loss, _accuracy, grid=[l2], tol=1e-6)
    head.eval()  # dropout off, as in the fit
    ref = LogisticRegression(C=1.0 / (l2 * len(x)), max_iter=5000, tol=1e-10).fit(x.double().numpy(), y.numpy())
    linear = linear_layer(head)
    assert linear is not None
    np.testing.assert_allclose(
        torch.softmax(head(Features(x)), -1).detach().numpy(), ref.predict_proba(x.double().numpy()), atol=2e-3
    )
    # same decision function up to the softmax's shift invariance
    w = linear.weight.detach().double().numpy()
    np.testing.assert_allclose(w - w.mean(0), ref.coef_ - ref.coef_.mean(0), atol=5e-3)


def test_the_strength_is_chosen_on_validation_like_a_grid_search() -> None:
    x, y = _blobs(120, 60, 5, seed=1)  # few examples, many features: regularisation matters
    xv, yv = _blobs(400, 60, 5, seed=1)
    head = _Head(60, 5)
    result = fit_probe(head, _split(x, y), _split(xv, yv), _loss, _accuracy, patience=None)
    assert set(result.scores) == {f"{s:g}" for s in L2_GRID}
    assert result.score == max(result.scores.values())
    # by default the search stops once two strengths in a row scored worse than the best before
    # them: the strongest strengths first, the same scores and choice as the whole grid's here
    early = fit_probe(_Head(60, 5), _split(x, y), _split(xv, yv), _loss, _accuracy)
    tried = list(early.scores)
    assert tried == [f"{s:g}" for s in sorted(L2_GRID, reverse=True)][: len(tried)]
    if len(tried) < len(L2_GRID):
        before = max(list(early.scores.values())[:-2])
        assert all(v < before for v in list(early.scores.values())[-2:])
    assert early.l2 == result.l2
    for key, value in early.scores.items():
        assert value == pytest.approx(result.scores[key])
    # scikit-learn over the same grid (as C), chosen on the same validation split
    sk = {s: LogisticRegression(C=1.0 / (s * len(x)), max_iter=5000).fit(x.numpy(), y.numpy()) for s in L2_GRID}
    sk_best = max(float(m.score(xv.numpy(), yv.numpy())) for m in sk.values())
    assert result.score >= sk_best - 0.01
    assert result.C == pytest.approx(1.0 / (result.l2 * len(x)))
    # the head keeps the chosen weights, not the last ones fitted
    head.eval()
    assert _accuracy(head(Features(xv)), {"targets": yv}) == pytest.approx(result.score)


def test_a_pooling_head_on_sequence_features_is_fit_on_the_pooled_vectors() -> None:
    x, y = _blobs(90, 8, 3, seed=2)
    g = torch.Generator().manual_seed(0)
    # each example a sequence of 2..5 positions whose mean is x
    seqs = []
    for row in x:
        noise = torch.randn(int(torch.randint(2, 6, (1,), generator=g)), 8, generator=g)
        seqs.append(row + noise - noise.mean(0))
    split = CachedSplit(seqs, sequence=True, extras={"targets": y})
    head = ClassificationHead(FeatureSpec("sequence", 8), 3, pooling="mean")
    fit_probe(head, split, None, _loss, _accuracy, grid=[1e-2], tol=1e-6)
    ref = LogisticRegression(C=1.0 / (1e-2 * len(x)), max_iter=5000, tol=1e-10).fit(x.double().numpy(), y.numpy())
    head.eval()
    probs = torch.softmax(head(split.lookup(torch.arange(len(x)), torch.device("cpu"))), -1)
    np.testing.assert_allclose(probs.detach().numpy(), ref.predict_proba(x.double().numpy()), atol=2e-3)


def test_it_applies_only_to_one_linear_layer_giving_one_row_per_example() -> None:
    x, y = _blobs(10, 4, 2, seed=0)
    assert applies(_Head(4, 2), _split(x, y))
    mlp = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    assert not applies(mlp, _split(x, y))
    assert not applies(_Head(4, 2), CachedSplit(list(x.unbind(0)), sequence=False, extras=None))
    with pytest.raises(NotApplicable, match=r"one nn\.Linear"):
        fit_probe(mlp, _split(x, y), None, _loss, _accuracy)
    per_position = SequenceHead(FeatureSpec("sequence", 4), 2)
    seq = CachedSplit([torch.ones(3, 4), torch.ones(2, 4)], sequence=True, extras={"targets": torch.tensor([0, 1])})
    assert applies(per_position, seq)  # a linear head on cached fields, but …
    with pytest.raises(NotApplicable, match="one input row"):  # … one output per position, not per example
        fit_probe(per_position, seq, None, _loss, _accuracy)


def _noisy_blobs(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """10 informative dimensions and 90 of pure noise: with 100 examples, regularisation matters."""
    x, y = _blobs(n, 10, 5, seed=seed)
    return torch.cat([x, torch.randn(n, 90, generator=torch.Generator().manual_seed(seed + 10))], 1), y


def test_without_val_the_strength_is_chosen_by_cross_validation_on_train() -> None:
    xa, ya = _noisy_blobs(600, seed=0)
    x, y, xt, yt = xa[:100], ya[:100], xa[100:], ya[100:]  # 500 held out from the same distribution
    head = _Head(100, 5)
    result = fit_probe(head, _split(x, y), None, _loss, _accuracy, folds=4)
    assert result.chosen_by == "4-fold cross-validation on train (no val split)"
    assert result.to_dict()["cv_losses"] == result.scores and "val_scores" not in result.to_dict()
    # each strength's score is the mean over the folds of the loss on the fold held out by a fit
    # on the others; the lowest wins
    parts = folds_of(y, len(y), 4)
    per_fold = []
    for i, held in enumerate(parts):
        rest = torch.cat([p for j, p in enumerate(parts) if j != i])
        fold = fit_probe(
            _Head(100, 5),
            _split(x[rest], y[rest]),
            _split(x[held], y[held]),
            _loss,
            lambda out, batch: float(_loss(out, batch)),
            higher_is_better=False,
            patience=None,
        )
        per_fold.append(fold.scores)
    # (equal up to the solver's tolerance: the folds are one batched problem there, summed over
    # every example with the held-out ones weighted 0, and separate problems here)
    for key, value in result.scores.items():
        assert value == pytest.approx(sum(f[key] for f in per_fold) / 4, rel=1e-3)
    assert result.score == min(result.scores.values()) and result.scores[f"{result.l2:g}"] == result.score
    # the head is refit on all of train at the chosen strength
    refit = _Head(100, 5)
    fit_probe(refit, _split(x, y), None, _loss, _accuracy, grid=[result.l2])
    head.eval()
    refit.eval()
    torch.testing.assert_close(head(Features(x)), refit(Features(x)), atol=1e-4, rtol=1e-4)
    # held out, it does as well as scikit-learn's own cross-validation over the same grid
    cs = [1.0 / (s * len(x)) for s in L2_GRID]
    sk = LogisticRegressionCV(  # plain L2 (l1_ratio 0), the attributes of scikit-learn >= 1.10
        Cs=cs, cv=4, scoring="accuracy", max_iter=5000, l1_ratios=(0.0,), use_legacy_attributes=False
    ).fit(x.numpy(), y.numpy())
    assert _accuracy(head(Features(xt)), {"targets": yt}) >= float(sk.score(xt.numpy(), yt.numpy())) - 0.02


def test_folds_are_disjoint_cover_the_split_and_keep_the_class_balance() -> None:
    y = torch.tensor([0] * 30 + [1] * 10 + [2] * 5)
    parts = folds_of(y, len(y), 5)
    assert sorted(torch.cat(parts).tolist()) == list(range(len(y)))
    for part in parts:
        assert torch.bincount(y[part], minlength=3).tolist() == [6, 2, 1]
    assert [p.tolist() for p in folds_of(y, len(y), 5)] == [p.tolist() for p in parts]  # seeded
    assert len(folds_of(torch.randn(7), 7, 3)) == 3  # real-valued targets: plain (unstratified) folds


def test_too_few_examples_for_the_folds_fall_back_to_the_middle_of_the_grid() -> None:
    x, y = _blobs(8, 4, 2, seed=0)
    result = fit_probe(_Head(4, 2), _split(x, y), None, _loss, _accuracy, folds=5)
    assert result.chosen_by == "default (no val split)" and result.l2 == sorted(L2_GRID)[len(L2_GRID) // 2]
    assert result.score is None and result.scores == {}


def test_the_closed_form_gradient_is_autograds() -> None:
    x, y = _blobs(50, 6, 3, seed=3)
    x1 = torch.cat([x, torch.ones(50, 1)], 1).double()
    weights = torch.stack([torch.full((50,), 1 / 50), torch.arange(50).lt(30).double() / 30]).double()
    problems = logistic.Problems(x1, y, 3, weights, torch.tensor([1e-2, 0.3], dtype=torch.float64))
    w = torch.randn(2, 3, 7, dtype=torch.float64, requires_grad=True)
    f, grad = problems.value_and_grad(w.detach(), None)
    for g in range(2):  # each problem: its weighted mean cross-entropy + l2/2 ||W||² (not the bias)
        z = x1 @ w[g].T
        ce = nn.functional.cross_entropy(z, y, reduction="none")
        ref = (ce * weights[g]).sum() + 0.5 * problems.l2[g] * w[g, :, :-1].pow(2).sum()
        (ref_grad,) = torch.autograd.grad(ref, w)
        assert float(f[g]) == pytest.approx(float(ref.detach()), rel=1e-12)
        torch.testing.assert_close(grad[g], ref_grad[g], rtol=1e-10, atol=1e-12)


def test_a_batch_of_problems_is_fit_as_each_would_be_alone() -> None:
    x, y = _blobs(80, 10, 4, seed=4)
    x1 = torch.cat([x - x.mean(0), torch.ones(80, 1)], 1).double()  # float64: no rounding between the two
    rows = [torch.full((80,), 1 / 80), torch.arange(80).ge(20) / 60.0, torch.arange(80).lt(60) / 60.0]
    lam = [1e-2, 1e-3, 1e-1]
    both = logistic.Problems(x1, y, 4, torch.stack(rows).double(), torch.tensor(lam, dtype=torch.float64))
    w0 = torch.zeros(3, 4, 11, dtype=torch.float64)
    batched, _, _ = logistic.lbfgs(both, w0, max_iter=500, gtol=1e-7)
    for g in range(3):
        alone = logistic.Problems(x1, y, 4, rows[g][None].double(), torch.tensor([lam[g]], dtype=torch.float64))
        single, _, _ = logistic.lbfgs(alone, w0[:1], max_iter=500, gtol=1e-7)
        torch.testing.assert_close(batched[g], single[0], atol=1e-8, rtol=1e-8)
        _, grad = alone.value_and_grad(batched[g : g + 1], None)
        assert float(grad.abs().max()) <= 1e-5  # converged (the objective no longer moves)


def test_other_losses_take_the_autograd_path_and_plain_cross_entropy_the_closed_form() -> None:
    x, y = _blobs(120, 20, 3, seed=5)
    xv, yv = _blobs(200, 20, 3, seed=6)

    def smoothed(out: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return nn.functional.cross_entropy(out, batch["targets"], label_smoothing=0.2)

    data = Data(x, {"targets": y})
    assert _softmax_cross_entropy(_loss, data, 3)
    assert not _softmax_cross_entropy(smoothed, data, 3)
    assert not _softmax_cross_entropy(lambda out, batch: (out**2).mean(), data, 3)
    head = _Head(20, 3)
    result = fit_probe(head, _split(x, y), _split(xv, yv), smoothed, _accuracy, grid=[1e-1, 1e-2])
    # the autograd path minimised the smoothed loss: its gradient there is ~0
    linear = linear_layer(head)
    assert linear is not None
    objective = smoothed(linear(x), {"targets": y}) + 0.5 * result.l2 * linear.weight.pow(2).sum()
    grads = torch.autograd.grad(objective, [linear.weight, linear.bias])
    assert max(float(g.abs().max()) for g in grads) < 1e-4
    assert result.chosen_by == "validation" and set(result.scores) == {"0.1", "0.01"}


def test_a_closed_form_fit_is_shared_by_calls_with_the_same_inputs(monkeypatch: pytest.MonkeyPatch) -> None:
    from headstart.engine import probe

    x, y = _blobs(90, 12, 3, seed=7)
    xv, yv = _blobs(60, 12, 3, seed=8)
    torch.manual_seed(0)
    first_head, second_head, other_head = _Head(12, 3), _Head(12, 3), _Head(12, 3)  # other starting weights
    first = fit_probe(first_head, _split(x, y), _split(xv, yv), _loss, _accuracy, grid=[1e-1, 1e-2], share="task a")
    fits = []
    original = probe._logistic
    monkeypatch.setattr(probe, "_logistic", lambda *a, **k: fits.append(1) or original(*a, **k))
    second = fit_probe(second_head, _split(x, y), _split(xv, yv), _loss, _accuracy, grid=[1e-1, 1e-2], share="task a")
    assert not fits  # loaded, not fit again: the same weights and result as fitting
    assert second == first
    for a, b in zip(first_head.parameters(), second_head.parameters(), strict=True):
        assert torch.equal(a, b)
    fit_probe(other_head, _split(x, y), _split(xv, yv), _loss, _accuracy, grid=[1e-1, 1e-2], share="task b")
    fit_probe(other_head, _split(x, y), _split(xv, yv), _loss, _accuracy, grid=[1e-1, 1e-3], share="task a")
    changed = yv.clone()
    changed[0] = (changed[0] + 1) % 3
    fit_probe(other_head, _split(x, y), _split(xv, changed), _loss, _accuracy, grid=[1e-1, 1e-2], share="task a")
    fit_probe(other_head, _split(x, y), _split(xv, yv), _loss, _accuracy, grid=[1e-1, 1e-2])  # no share: no sharing
    assert len(fits) == 4  # another score, grid, val label or no share: each fits anew
    fresh = _Head(12, 3)
    monkeypatch.setattr(probe, "_SHARED", type(probe._SHARED)())  # nothing shared: the fit itself
    fit_probe(fresh, _split(x, y), _split(xv, yv), _loss, _accuracy, grid=[1e-1, 1e-2])
    for a, b in zip(first_head.parameters(), fresh.parameters(), strict=True):
        assert torch.equal(a, b)  # what was shared is what fitting gives
