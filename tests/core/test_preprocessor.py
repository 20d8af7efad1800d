"""``source_preprocessor``: a task gets its source's preprocessor of the kind it needs, or one line."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from headstart import ConfigError, source_preprocessor


class Tokenizer:
    pass


def test_the_preprocessor_of_the_kind_is_returned() -> None:
    tokenizer = Tokenizer()
    source: Any = SimpleNamespace(name="hf:tiny", preprocessor=tokenizer)
    assert source_preprocessor(source, Tokenizer, "text-classification", "a text source") is tokenizer


@pytest.mark.parametrize("preprocessor", [None, object()])
def test_another_kind_is_one_line_naming_task_wanted_sources_and_source(preprocessor: object) -> None:
    source: Any = SimpleNamespace(name="toy:mlp", preprocessor=preprocessor)
    with pytest.raises(ConfigError) as caught:
        source_preprocessor(source, Tokenizer, "text-classification", "a text source (hf:…)")
    assert str(caught.value) == (
        "task text-classification needs a text source (hf:…); source toy:mlp has no Tokenizer "
        f"(its preprocessor: {type(preprocessor).__name__})"
    )
