"""Core metrics on inputs whose values are known by hand."""

from __future__ import annotations

import math
import random

import pytest

from headstart import Ranked
from headstart.metrics import accuracy, macro_f1, mcc, mse, pearson, spearman, top5_accuracy


def test_accuracy_and_macro_f1() -> None:
    preds, refs = [0, 0, 1, 1, 2], [0, 1, 1, 1, 0]
    assert accuracy(preds, refs) == pytest.approx(3 / 5)
    # class 0: tp1 fp1 fn1 -> 0.5; class 1: tp2 fp0 fn1 -> 0.8; class 2: tp0 -> 0
    assert macro_f1(preds, refs) == pytest.approx((0.5 + 0.8 + 0.0) / 3)


def test_mcc_binary_matches_the_formula() -> None:
    preds, refs = [1, 1, 0, 0, 1, 0], [1, 0, 0, 0, 1, 1]
    tp, tn, fp, fn = 2, 2, 1, 1
    expected = (tp * tn - fp * fn) / math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    assert mcc(preds, refs) == pytest.approx(expected)
    assert mcc([1, 1, 1], [1, 0, 1]) == 0.0  # undefined -> 0


def test_correlations_and_mse() -> None:
    assert pearson([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [1, 8, 27, 64]) == pytest.approx(1.0)
    assert spearman([1, 2, 2, 3], [3, 2, 2, 1]) == pytest.approx(-1.0)
    assert math.isnan(pearson([1, 1, 1], [1, 2, 3]))
    assert mse([1.0, 2.0], [0.0, 4.0]) == pytest.approx(2.5)


def test_ranked_predictions_serve_top1_and_top5() -> None:
    preds = [Ranked([3, 1, 2, 0, 4, 5]), Ranked([0, 1, 2, 3, 4, 5]), Ranked([5, 4, 3, 2, 1, 0])]
    refs = [3, 4, 0]
    assert accuracy(preds, refs) == pytest.approx(1 / 3)
    assert top5_accuracy(preds, refs) == pytest.approx(2 / 3)


# The definitions the vectorised metrics must equal, written the slow obvious way.
def _ref_macro_f1(preds: list[int], refs: list[int]) -> float:
    classes = set(refs) | set(preds)
    total = 0.0
    for c in classes:
        tp = sum(p == c and r == c for p, r in zip(preds, refs, strict=True))
        fp = sum(p == c and r != c for p, r in zip(preds, refs, strict=True))
        fn = sum(p != c and r == c for p, r in zip(preds, refs, strict=True))
        total += 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return total / len(classes)


def _ref_mcc(preds: list[int], refs: list[int]) -> float:
    n, classes = len(refs), set(refs) | set(preds)
    t = {c: refs.count(c) for c in classes}
    p = {c: preds.count(c) for c in classes}
    num = sum(a == b for a, b in zip(preds, refs, strict=True)) * n - sum(t[c] * p[c] for c in classes)
    den = math.sqrt(n * n - sum(v * v for v in p.values())) * math.sqrt(n * n - sum(v * v for v in t.values()))
    return num / den if den else 0.0


def _ref_ranks(xs: list[float]) -> list[float]:
    return [sum(y < x for y in xs) + (sum(y == x for y in xs) + 1) / 2 for x in xs]


@pytest.mark.parametrize("seed", range(5))
def test_vectorised_metrics_equal_their_definitions(seed: int) -> None:
    import random

    rng = random.Random(seed)
    k = rng.choice([2, 3, 7, 20])
    refs = [rng.randrange(k) for _ in range(300)]
    preds = [r if rng.random() < 0.6 else rng.randrange(k + 2) for r in refs]  # some classes only predicted
    assert accuracy(preds, refs) == pytest.approx(sum(p == r for p, r in zip(preds, refs, strict=True)) / 300)
    assert macro_f1(preds, refs) == pytest.approx(_ref_macro_f1(preds, refs), abs=1e-12)
    assert mcc(preds, refs) == pytest.approx(_ref_mcc(preds, refs), abs=1e-12)
    xs = [rng.choice([0.5, 1.0, 2.0, rng.random()]) for _ in range(60)]  # with ties
    ys = [x + rng.gauss(0, 0.5) for x in xs]
    ref_p = _ref_ranks(xs)
    assert spearman(xs, ys) == pytest.approx(pearson(ref_p, _ref_ranks(ys)), abs=1e-12)
    assert mse(xs, ys) == pytest.approx(sum((a - b) ** 2 for a, b in zip(xs, ys, strict=True)) / 60)


def test_string_labels_and_mismatched_lengths() -> None:
    assert accuracy(["cat", "dog", "dog"], ["cat", "cat", "dog"]) == pytest.approx(2 / 3)
    assert macro_f1(["cat", "dog", "dog"], ["cat", "cat", "dog"]) == pytest.approx((2 / 3 + 2 / 3) / 2)
    assert math.isnan(accuracy([], [])) and math.isnan(macro_f1([], [])) and math.isnan(mcc([], []))
    with pytest.raises(ValueError, match="2 predictions for 3 references"):
        macro_f1([0, 1], [0, 1, 1])


def test_integer_classes_take_the_numpy_path_with_the_same_results() -> None:
    rng = random.Random(0)
    for _ in range(20):
        n = rng.randrange(1, 60)
        preds = [rng.randrange(-3, 12) for _ in range(n)]  # classes only predicted, only referenced, negative
        refs = [rng.randrange(0, 9) for _ in range(n)]
        as_text = [f"c{x}" for x in preds], [f"c{x}" for x in refs]  # the general path
        for metric in (accuracy, macro_f1, mcc):
            assert metric(preds, refs) == metric(*as_text), metric.__name__  # to the bit
    ranked = Ranked.rows([[3, 1, 2], [0, 3, 1]])
    assert ranked == [3, 0] and [r.ranked for r in ranked] == [(3, 1, 2), (0, 3, 1)]
    assert all(type(r) is Ranked for r in ranked) and accuracy(ranked, [3, 1]) == 0.5
