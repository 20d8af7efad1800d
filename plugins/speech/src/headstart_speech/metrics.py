"""Word and character error rates: Levenshtein edits over the whole split / reference length."""

from __future__ import annotations

from collections.abc import Sequence


def edit_distance(a: Sequence[str], b: Sequence[str]) -> int:
    """Insertions + deletions + substitutions that turn ``a`` into ``b``."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def _rate(preds: Sequence[str], refs: Sequence[str], split: bool) -> float:
    edits = total = 0
    for p, r in zip(preds, refs, strict=True):
        hyp, ref = (p.split(), r.split()) if split else (list(p), list(r))
        edits += edit_distance(hyp, ref)
        total += len(ref)
    if total == 0:
        return float("nan")
    return edits / total


def wer(preds: Sequence[str], refs: Sequence[str]) -> float:
    """Word error rate of predicted against reference transcripts (corpus level)."""
    return _rate(preds, refs, split=True)


def cer(preds: Sequence[str], refs: Sequence[str]) -> float:
    """Character error rate of predicted against reference transcripts (corpus level)."""
    return _rate(preds, refs, split=False)
