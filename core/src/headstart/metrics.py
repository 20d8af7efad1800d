"""Core's generic metrics over lists of predictions and references, registered as a plugin."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from .interfaces import Metric
from .plugins import hookimpl


class Ranked(int):
    """A predicted class index that also carries the ranked candidates (best first).

    It compares equal to its top-1 class, so ``accuracy`` and ``macro-f1`` work unchanged, and
    ``top5-accuracy`` reads ``ranked``.
    """

    ranked: tuple[int, ...]

    def __new__(cls, ranked: tuple[int, ...] | list[int]) -> Ranked:
        obj = super().__new__(cls, ranked[0])
        obj.ranked = tuple(int(r) for r in ranked)
        return obj

    def __reduce__(self) -> tuple[type[Ranked], tuple[tuple[int, ...]]]:
        return (Ranked, (self.ranked,))


def top5_accuracy(preds: Sequence[Any], refs: Sequence[Any]) -> float:
    """Fraction of references among the first five ranked candidates (``Ranked`` predictions)."""
    if not refs:
        return float("nan")
    return sum(r in getattr(p, "ranked", (p,))[:5] for p, r in zip(preds, refs, strict=True)) / len(refs)


def accuracy(preds: Sequence[Any], refs: Sequence[Any]) -> float:
    """Fraction of predictions equal to their reference."""
    if not refs:
        return float("nan")
    return float(sum(p == r for p, r in zip(preds, refs, strict=True)) / len(refs))


def macro_f1(preds: Sequence[Any], refs: Sequence[Any]) -> float:
    """Unweighted mean of per-class F1 over the classes present in references or predictions."""
    classes = sorted(set(refs) | set(preds), key=str)
    if not classes:
        return float("nan")
    total = 0.0
    for c in classes:
        tp = sum(p == c and r == c for p, r in zip(preds, refs, strict=True))
        fp = sum(p == c and r != c for p, r in zip(preds, refs, strict=True))
        fn = sum(p != c and r == c for p, r in zip(preds, refs, strict=True))
        total += 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return total / len(classes)


def mcc(preds: Sequence[Any], refs: Sequence[Any]) -> float:
    """Matthews correlation coefficient (multi-class form, Gorodkin 2004); 0 when undefined."""
    classes = sorted(set(refs) | set(preds), key=str)
    n = len(refs)
    if n == 0:
        return float("nan")
    t = {c: sum(r == c for r in refs) for c in classes}
    p = {c: sum(x == c for x in preds) for c in classes}
    correct = sum(a == b for a, b in zip(preds, refs, strict=True))
    num = correct * n - sum(t[c] * p[c] for c in classes)
    den = math.sqrt(n * n - sum(v * v for v in p.values())) * math.sqrt(n * n - sum(v * v for v in t.values()))
    return num / den if den else 0.0


def _ranks(xs: Sequence[float]) -> list[float]:
    order = sorted(range(len(xs)), key=lambda i: xs[i])
    ranks = [0.0] * len(xs)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and xs[order[j + 1]] == xs[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def pearson(preds: Sequence[float], refs: Sequence[float]) -> float:
    """Pearson correlation; nan when either side is constant."""
    n = len(refs)
    if n < 2:
        return float("nan")
    mp, mr = sum(preds) / n, sum(refs) / n
    cov = sum((a - mp) * (b - mr) for a, b in zip(preds, refs, strict=True))
    vp = sum((a - mp) ** 2 for a in preds)
    vr = sum((b - mr) ** 2 for b in refs)
    return cov / math.sqrt(vp * vr) if vp and vr else float("nan")


def spearman(preds: Sequence[float], refs: Sequence[float]) -> float:
    """Spearman rank correlation (Pearson on average ranks)."""
    return pearson(_ranks(preds), _ranks(refs))


def mse(preds: Sequence[float], refs: Sequence[float]) -> float:
    """Mean squared error."""
    if not refs:
        return float("nan")
    return sum((a - b) ** 2 for a, b in zip(preds, refs, strict=True)) / len(refs)


BUILTIN_METRICS = [
    Metric("accuracy", accuracy, True, "fraction of exact matches"),
    Metric("top5-accuracy", top5_accuracy, True, "reference among the top five ranked predictions"),
    Metric("macro-f1", macro_f1, True, "unweighted mean of per-class F1"),
    Metric("mcc", mcc, True, "Matthews correlation coefficient"),
    Metric("pearson", pearson, True, "Pearson correlation"),
    Metric("spearman", spearman, True, "Spearman rank correlation"),
    Metric("mse", mse, False, "mean squared error"),
]


@hookimpl
def headstart_metrics() -> list[Metric]:
    return list(BUILTIN_METRICS)
