"""WER / CER through rapidfuzz equal the Levenshtein definition, including the edge cases."""

from __future__ import annotations

import math
import random

import pytest

from headstart_speech.metrics import cer, edit_distance, wer


def _levenshtein(a: list[str] | str, b: list[str] | str) -> int:
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


@pytest.mark.parametrize("seed", range(3))
def test_rates_equal_the_dynamic_programme(seed: int) -> None:
    rng = random.Random(seed)
    words = ["the", "cat", "sat", "on", "a", "mat", "dog"]
    refs = [" ".join(rng.choice(words) for _ in range(rng.randrange(1, 9))) for _ in range(40)]
    preds = [" ".join(w for w in r.split() if rng.random() < 0.8) + rng.choice(["", " dog"]) for r in refs]
    word_edits = sum(_levenshtein(p.split(), r.split()) for p, r in zip(preds, refs, strict=True))
    char_edits = sum(_levenshtein(p, r) for p, r in zip(preds, refs, strict=True))
    assert wer(preds, refs) == pytest.approx(word_edits / sum(len(r.split()) for r in refs))
    assert cer(preds, refs) == pytest.approx(char_edits / sum(len(r) for r in refs))
    assert edit_distance(preds[0].split(), refs[0].split()) == _levenshtein(preds[0].split(), refs[0].split())


def test_edge_cases() -> None:
    assert wer(["", "a b"], ["x y", "a b"]) == pytest.approx(2 / 4)  # empty hypothesis: all deletions
    assert wer(["a", "b"], ["", "b"]) == pytest.approx(1 / 1)  # empty reference: insertions count
    assert math.isnan(wer([""], [""])) and math.isnan(cer([], []))
    with pytest.raises(ValueError, match="1 transcripts for 2 references"):
        wer(["a"], ["a", "b"])
