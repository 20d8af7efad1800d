"""Core metrics on inputs whose values are known by hand."""

from __future__ import annotations

import math

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
