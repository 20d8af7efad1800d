"""Entity spans from BIO tags, and entity-level precision / recall / F1 (conlleval's rules).

Tags are ``O``, ``B-<type>`` or ``I-<type>``. An entity starts at a ``B-`` tag, or at an ``I-``
tag that does not continue an entity of the same type, and runs while ``I-`` tags of its type
follow. These are the rules of CoNLL's ``conlleval`` script, and they read both tagging schemes:

* **IOB2** (also called **BIO**): every entity starts with ``B-``;
* **IOB1** (the original CoNLL-2003 release): entities start with ``I-``, and ``B-`` only marks
  an entity that directly follows another of the same type.

A tag without a ``B-`` / ``I-`` prefix (other than ``O``) is read as ``I-<tag>`` (IO tagging).
Scores are micro-averaged over every entity of every sentence: an entity counts as found only
when its type and both boundaries match.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

Scheme = Literal["IOB2", "BIO", "IOB1"]
SCHEMES: tuple[str, ...] = ("IOB2", "BIO", "IOB1")


def split_tag(tag: str) -> tuple[str, str]:
    """``("B", "PER")`` from ``"B-PER"``; ``("O", "")`` from ``"O"``; ``("I", "X")`` from ``"X"``."""
    if tag == "O":
        return "O", ""
    if len(tag) > 2 and tag[0] in "BI" and tag[1] in "-_":
        return tag[0], tag[2:]
    return "I", tag


def entities(tags: Sequence[str]) -> set[tuple[str, int, int]]:
    """Entity spans ``(type, start, end)`` (end exclusive) of one sentence."""
    spans: set[tuple[str, int, int]] = set()
    start: int | None = None
    kind = ""
    for i, tag in enumerate([*tags, "O"]):
        prefix, typ = split_tag(tag)
        begins = prefix == "B" or (prefix == "I" and (start is None or typ != kind))
        if start is not None and (prefix == "O" or begins):
            spans.add((kind, start, i))
            start = None
        if begins:
            start, kind = i, typ
    return spans


def check_tags(tags: Sequence[str], scheme: str) -> str | None:
    """Why ``tags`` break ``scheme`` (a message), or ``None`` when they follow it."""
    prev_prefix, prev_type = "O", ""
    for tag in tags:
        if tag != "O" and not (len(tag) > 2 and tag[0] in "BI" and tag[1] == "-"):
            return f"tag {tag!r} is not O, B-<type> or I-<type>"
        prefix, typ = split_tag(tag)
        if scheme in ("IOB2", "BIO") and prefix == "I" and (prev_prefix == "O" or prev_type != typ):
            return (
                f"{tag!r} follows {('O' if prev_prefix == 'O' else prev_prefix + '-' + prev_type)!r}: in {scheme} every "
                f"entity starts with B-{typ} (set task.scheme: IOB1 if the file uses IOB1, like the original CoNLL-2003)"
            )
        prev_prefix, prev_type = prefix, typ
    return None


def _as_tags(x: Any) -> list[str]:
    return x.split() if isinstance(x, str) else [str(t) for t in x]


def counts(preds: Iterable[Any], refs: Iterable[Any]) -> tuple[int, int, int]:
    """``(correct, predicted, gold)`` entity counts over every sentence."""
    tp = n_pred = n_gold = 0
    for p, r in zip(preds, refs, strict=True):
        ps, rs = entities(_as_tags(p)), entities(_as_tags(r))
        tp += len(ps & rs)
        n_pred += len(ps)
        n_gold += len(rs)
    return tp, n_pred, n_gold


def entity_precision(preds: Sequence[Any], refs: Sequence[Any]) -> float:
    """Fraction of predicted entities that are gold entities (type and span); 0 with none predicted."""
    tp, n_pred, _ = counts(preds, refs)
    return tp / n_pred if n_pred else 0.0


def entity_recall(preds: Sequence[Any], refs: Sequence[Any]) -> float:
    """Fraction of gold entities that were predicted (type and span); 0 with no gold entity."""
    tp, _, n_gold = counts(preds, refs)
    return tp / n_gold if n_gold else 0.0


def entity_f1(preds: Sequence[Any], refs: Sequence[Any]) -> float:
    """Harmonic mean of entity precision and recall (micro-averaged, conlleval's rules)."""
    tp, n_pred, n_gold = counts(preds, refs)
    return 2 * tp / (n_pred + n_gold) if tp else 0.0
