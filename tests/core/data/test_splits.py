"""The split names and the one check of a task's ``data`` / ``split`` mappings."""

from __future__ import annotations

import pytest

from headstart import CARVED_SPLITS, SPLITS, check_splits


def test_split_names() -> None:
    assert SPLITS == ("train", "val", "test")
    assert CARVED_SPLITS == ("val", "test")


def test_valid_mappings_pass() -> None:
    check_splits({"train": "a.csv"})
    check_splits({"train": "a.csv", "val": "b.csv", "test": "c.csv"})
    check_splits({"train": "a.csv"}, {"val": 0.1, "test": 5})
    check_splits(None, {"val": 0.2})  # data is a directory: only the carving is checked
    check_splits(None)


@pytest.mark.parametrize(
    ("data", "carve", "message"),
    [
        (
            {"train": "a", "valid": "b"},
            None,
            r"^data\.valid: unknown split \(did you mean 'val'\?\); valid splits: train, val, test$",
        ),
        ({"train": "a", "holdout": "b"}, None, r"^data\.holdout: unknown split; valid splits: train, val, test$"),
        ({"val": "b"}, None, r"^data needs a train entry; got splits val$"),
        ({}, None, r"^data needs a train entry; got splits \(none\)$"),
        ({"train": "a"}, {"train": 0.5}, r"^split\.train: only val and test can be carved from train$"),
        (
            {"train": "a"},
            {"tests": 0.5},
            r"^split\.tests: only val and test can be carved from train \(did you mean 'test'\?\)$",
        ),
        (
            {"train": "a", "val": "b"},
            {"val": 0.1},
            r"^split\.val: data\.val gives the val split already; carve it or give it, not both$",
        ),
        (None, {"dev": 0.1}, r"^split\.dev: only val and test can be carved from train$"),
    ],
)
def test_bad_mappings_name_the_key_and_the_choices(data: dict | None, carve: dict | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_splits(data, carve)


def test_where_names_the_option() -> None:
    with pytest.raises(ValueError, match=r"^files\.training: unknown split"):
        check_splits({"train": "a", "training": "b"}, where="files")
