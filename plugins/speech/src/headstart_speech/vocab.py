"""Character vocabularies for CTC: text normalisation, encoding, greedy decoding."""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence

import torch

#: Index of the CTC blank; characters start at 1.
BLANK = 0


def normalize_text(text: str, *, lowercase: bool = True, remove_punctuation: bool = True) -> str:
    """Unicode NFC, optionally lower-cased and without punctuation (apostrophes stay), single spaces."""
    text = unicodedata.normalize("NFC", text)
    if lowercase:
        text = text.lower()
    if remove_punctuation:
        text = "".join(" " if unicodedata.category(c).startswith("P") and c not in "'’" else c for c in text).replace(
            "’", "'"
        )
    return " ".join(text.split())


class CharVocabulary:
    """Characters of the transcripts, the CTC blank at index 0."""

    def __init__(self, chars: Iterable[str]) -> None:
        unique = list(dict.fromkeys(chars))
        bad = [c for c in unique if len(c) != 1]
        if bad:
            raise ValueError(f"vocabulary entries must be single characters; got {', '.join(map(repr, bad[:5]))}")
        if not unique:
            raise ValueError("the character vocabulary is empty")
        self.chars = unique
        self.index = {c: i + 1 for i, c in enumerate(unique)}

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> CharVocabulary:
        """Every character seen, sorted (space first)."""
        seen: set[str] = set()
        for t in texts:
            seen.update(t)
        return cls(sorted(seen))

    def __len__(self) -> int:
        """Output size of the CTC head: the characters plus the blank."""
        return len(self.chars) + 1

    def encode(self, text: str) -> tuple[list[int], Counter[str]]:
        """Indices of the known characters of ``text`` and a count of the unknown ones."""
        ids: list[int] = []
        unknown: Counter[str] = Counter()
        for c in text:
            if c in self.index:
                ids.append(self.index[c])
            else:
                unknown[c] += 1
        return ids, unknown

    def decode(self, ids: Sequence[int]) -> str:
        """Text of a sequence of character indices (blanks ignored)."""
        return "".join(self.chars[i - 1] for i in ids if i != BLANK)

    def greedy(self, logits: torch.Tensor, lengths: torch.Tensor) -> list[str]:
        """Best path decoding of ``[B, T, C]`` logits: argmax per frame, merge repeats, drop blanks."""
        best = logits.argmax(-1).cpu()
        out = []
        for row, n in zip(best, lengths.cpu().tolist(), strict=True):
            path = torch.unique_consecutive(row[: int(n)]).tolist()
            out.append(" ".join(self.decode(path).split()))
        return out
