"""Entity spans and entity-level precision / recall / F1, with IOB2 (BIO) and IOB1 tags."""

from __future__ import annotations

import pytest

from headstart import get_registry
from headstart_nlp.entities import check_tags, entities, entity_f1, entity_precision, entity_recall


def test_iob2_spans() -> None:
    tags = ["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-LOC", "O", "B-ORG"]
    assert entities(tags) == {("PER", 0, 2), ("LOC", 3, 4), ("LOC", 4, 6), ("ORG", 7, 8)}


def test_iob1_spans_read_the_same_way() -> None:
    # IOB1: entities start with I-; B- separates two adjacent entities of one type
    tags = ["I-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-LOC", "I-ORG"]
    assert entities(tags) == {("PER", 0, 2), ("LOC", 3, 4), ("LOC", 4, 6), ("ORG", 6, 7)}


def test_scores_count_exact_type_and_boundaries() -> None:
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    pred = [["B-PER", "O", "O", "B-LOC"], ["B-ORG", "O"]]  # PER cut short: wrong boundary
    assert entity_precision(pred, gold) == pytest.approx(2 / 3)
    assert entity_recall(pred, gold) == pytest.approx(2 / 3)
    assert entity_f1(pred, gold) == pytest.approx(2 / 3)
    typed = [["B-ORG", "I-ORG", "O", "B-LOC"], ["O", "O"]]  # wrong type, one missed
    assert entity_precision(typed, gold) == pytest.approx(1 / 2)
    assert entity_recall(typed, gold) == pytest.approx(1 / 3)
    assert entity_f1(typed, gold) == pytest.approx(2 * 1 / (2 + 3))
    assert entity_f1(gold, gold) == 1.0
    assert entity_f1([["O", "O"]], [["B-PER", "O"]]) == 0.0


def test_registered_metrics_compute_the_same_numbers() -> None:
    gold = [["B-PER", "I-PER", "O"]]
    pred = [["B-PER", "I-PER", "O"]]
    reg = get_registry()
    assert [reg.metric(m).fn(pred, gold) for m in ("entity-f1", "entity-precision", "entity-recall")] == [1.0] * 3


def test_gold_tags_are_checked_against_the_scheme() -> None:
    assert check_tags(["B-PER", "I-PER", "O"], "IOB2") is None
    assert check_tags(["I-PER", "I-PER", "O"], "IOB1") is None
    problem = check_tags(["O", "I-PER"], "BIO")
    assert problem is not None and "starts with B-PER" in problem and "IOB1" in problem
    assert "B-LOC" in (check_tags(["B-PER", "I-LOC"], "IOB2") or "")
    assert "not O, B-<type> or I-<type>" in (check_tags(["PER"], "IOB2") or "")
