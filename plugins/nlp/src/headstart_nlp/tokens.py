"""Token ids computed once per example, and padding a batch of them (what ``collate`` does).

``TokenCache`` maps an example's texts to its unpadded encoding (``input_ids``,
``attention_mask``, ``token_type_ids`` …). It remembers the tokenizer object and truncation length
it was filled with, so a task that gets another tokenizer (a restored run) never reads stale ids.
``pad_batch`` pads to the longest row on the tokenizer's padding side, with its pad ids — the same
tensors ``tokenizer(texts, padding=True, return_tensors="pt")`` returns, without tokenizing again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

#: The texts of an example: (text, second text or None, …target).
Key = tuple[str, str | None]


class TokenCache:
    """Unpadded encodings by (text, pair), for one tokenizer and truncation length."""

    def __init__(self, tokenizer: Any = None, truncate_at: int | None = None) -> None:
        self.tokenizer, self.truncate_at = tokenizer, truncate_at
        self.rows: dict[Key, dict[str, list[int]]] = {}

    def valid_for(self, tokenizer: Any, truncate_at: int) -> bool:
        return self.tokenizer is tokenizer and self.truncate_at == truncate_at

    def add(self, examples: Sequence[tuple[Any, ...]], encoded: dict[str, list[list[int]]]) -> None:
        for i, ex in enumerate(examples):
            self.rows[(ex[0], ex[1])] = {k: v[i] for k, v in encoded.items()}

    def lookup(self, examples: Sequence[tuple[Any, ...]]) -> list[dict[str, list[int]] | None]:
        return [self.rows.get((ex[0], ex[1])) for ex in examples]

    def __len__(self) -> int:
        return len(self.rows)


def _pad_value(tokenizer: Any, key: str) -> int | None:
    if key == "input_ids":
        pad = getattr(tokenizer, "pad_token_id", None)
        return None if pad is None else int(pad)  # no pad token: tokenizer.pad says so
    if key == "token_type_ids":
        return int(getattr(tokenizer, "pad_token_type_id", 0))
    if key in ("attention_mask", "special_tokens_mask"):
        return 0 if key == "attention_mask" else 1
    return None


def pad_batch(tokenizer: Any, rows: list[dict[str, list[int]]]) -> dict[str, torch.Tensor]:
    """``rows`` padded to the longest one as ``long`` tensors, on the tokenizer's padding side."""
    keys = list(rows[0])
    if any(_pad_value(tokenizer, k) is None for k in keys):  # a field we do not know how to pad
        return dict(tokenizer.pad(rows, padding=True, return_tensors="pt"))
    width = max(len(r["input_ids"]) for r in rows)
    left = getattr(tokenizer, "padding_side", "right") == "left"
    out: dict[str, torch.Tensor] = {}
    for key in keys:
        value = _pad_value(tokenizer, key)
        assert value is not None
        padded = [
            ([value] * (width - len(r[key])) + r[key]) if left else (r[key] + [value] * (width - len(r[key])))
            for r in rows
        ]
        out[key] = torch.tensor(padded, dtype=torch.long)
    return out
