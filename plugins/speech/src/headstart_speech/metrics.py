"""Word and character error rates: Levenshtein edits over the whole split / reference length.

The edit distances come from ``rapidfuzz`` (C++, the engine ``jiwer`` uses), over words split on
whitespace (WER) or characters (CER), so a 50,000-utterance split is scored in well under a second.
"""

from __future__ import annotations

from collections.abc import Sequence

from rapidfuzz.distance import Levenshtein


def edit_distance(a: Sequence[str], b: Sequence[str]) -> int:
    """Insertions + deletions + substitutions that turn ``a`` into ``b``."""
    return int(Levenshtein.distance(a, b))


def _rate(preds: Sequence[str], refs: Sequence[str], split: bool) -> float:
    if len(preds) != len(refs):
        raise ValueError(f"{len(preds)} transcripts for {len(refs)} references; they must pair one to one")
    edits = total = 0
    for p, r in zip(preds, refs, strict=True):
        hyp, ref = (p.split(), r.split()) if split else (p, r)
        edits += Levenshtein.distance(hyp, ref)
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
