"""One name for every component's tiny example: ``contract_example``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from headstart.testing import ContractError, source_examples
from headstart.testing.examples import has_example


class _Provider:
    scheme = "toyx"

    def resolve(self, name: str, **options: Any) -> Any:
        raise LookupError(name)

    def available(self) -> list[str]:
        return []


def test_a_provider_gives_a_list_under_the_one_name(tmp_path: Path) -> None:
    class WithExample(_Provider):
        def contract_example(self, tmp_path: Path) -> list[dict[str, Any]]:
            return [{"name": "toyx:a", "width": 2}, {"name": "toyx:b"}]

    assert has_example(WithExample())
    assert source_examples(WithExample(), tmp_path) == [{"name": "toyx:a", "width": 2}, {"name": "toyx:b"}]
    assert not has_example(_Provider()) and source_examples(_Provider(), tmp_path) == []


def test_the_old_provider_name_is_refused_with_the_new_one(tmp_path: Path) -> None:
    class OldName(_Provider):
        def contract_examples(self, tmp_path: Path) -> list[dict[str, Any]]:
            return [{"name": "toyx:a"}]

    with pytest.raises(
        ContractError, match=r"provider 'toyx': rename contract_examples\(tmp_path\) to contract_example\(tmp_path\)"
    ):
        source_examples(OldName(), tmp_path)
