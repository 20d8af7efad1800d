"""Option checking: signatures, dataclass factories, ``Options`` dataclasses and nested sections."""

from __future__ import annotations

import sys
import textwrap
import types
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import pytest

from headstart import ConfigError, check_options
from headstart.options import call_with_options, options_class, parameters


def _module(name: str, source: str) -> types.ModuleType:
    module = types.ModuleType(name)
    sys.modules[name] = module  # dataclasses resolve field types through sys.modules
    exec(textwrap.dedent(source), module.__dict__)
    return module


@pytest.fixture
def family() -> Any:
    """A task family: shared options in one module, a variant's options and the task in another
    that does not import the names the shared annotations use."""
    base = _module(
        "_hs_options_base",
        """
        from __future__ import annotations
        from dataclasses import dataclass
        from typing import Literal

        Pooling = Literal["mean", "cls"]

        @dataclass(frozen=True, kw_only=True)
        class SharedOptions:
            data: dict[str, str]
            pooling: Pooling = "mean"
            dropout: float = 0.1

            def __post_init__(self) -> None:
                if not 0.0 <= self.dropout < 1.0:
                    raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        """,
    )
    variant = _module(
        "_hs_options_variant",
        """
        from __future__ import annotations
        from dataclasses import dataclass
        from typing import Any, ClassVar
        from _hs_options_base import SharedOptions

        @dataclass(frozen=True, kw_only=True)
        class VariantOptions(SharedOptions):
            dropout: float = 0.0  # a variant changes a shared default
            labels: list[str] | None = None

        class VariantTask:
            Options: ClassVar[type[VariantOptions]] = VariantOptions

            def __init__(self, **options: Any) -> None:
                self.options = self.Options(**options)
        """,
    )
    yield variant
    sys.modules.pop("_hs_options_base", None)
    sys.modules.pop("_hs_options_variant", None)
    del base


def test_options_dataclass_declares_the_keys(family: Any) -> None:
    task = family.VariantTask
    assert options_class(task) is family.VariantOptions
    params = parameters(task)
    assert list(params) == ["data", "pooling", "dropout", "labels"]
    assert params["data"][1] is True and params["dropout"][1] is False
    built = call_with_options(task, {"data": {"train": "a.csv"}, "dropout": 0}, "task")
    assert isinstance(built.options, family.VariantOptions)
    assert built.options.dropout == 0.0 and isinstance(built.options.dropout, float)
    assert family.VariantTask(data={"train": "a"}).options.dropout == 0.0  # the variant's default


def test_inherited_annotations_resolve_in_their_own_module(family: Any) -> None:
    """``Pooling`` is not importable from the variant's module; its values are still checked."""
    with pytest.raises(ConfigError, match=r"^task\.pooling = 'max' is not valid; valid choices: 'mean' \| 'cls'$"):
        check_options(family.VariantTask, {"data": {}, "pooling": "max"}, "task")
    with pytest.raises(ConfigError, match=r"^task\.labels = 'a' is not valid: expected list \| NoneType$"):
        check_options(family.VariantTask, {"data": {}, "labels": "a"}, "task")


def test_unknown_and_missing_keys_name_the_choices(family: Any) -> None:
    with pytest.raises(ConfigError) as info:
        check_options(family.VariantTask, {"data": {}, "lables": ["a"]}, "task")
    assert str(info.value) == (
        "task.lables: unknown key (did you mean 'labels'?). Valid keys: data, pooling, dropout, labels"
    )
    with pytest.raises(ConfigError, match=r"^task: missing required key\(s\) data$"):
        check_options(family.VariantTask, {}, "task")


def test_post_init_errors_name_the_section(family: Any) -> None:
    with pytest.raises(ConfigError, match=r"^task: dropout must be in \[0, 1\), got 1\.5$"):
        call_with_options(family.VariantTask, {"data": {}, "dropout": 1.5}, "task")


@dataclass(frozen=True)
class Augment:
    flip: float = 0.5
    mode: Literal["light", "heavy"] = "light"

    def __post_init__(self) -> None:
        if not 0.0 <= self.flip <= 1.0:
            raise ValueError(f"flip must be a probability, got {self.flip}")


@dataclass(frozen=True)
class WithSection:
    augment: Augment | None = None
    name: ClassVar[str] = "with-section"


def test_a_dataclass_option_is_a_checked_section() -> None:
    built = call_with_options(WithSection, {"augment": {"flip": 1, "mode": "heavy"}}, "task")
    assert built.augment == Augment(flip=1.0, mode="heavy")
    assert call_with_options(WithSection, {"augment": None}, "task").augment is None
    assert check_options(WithSection, {"augment": Augment()}, "task")["augment"] == Augment()
    with pytest.raises(ConfigError, match=r"^task\.augment\.flp: unknown key \(did you mean 'flip'\?\)"):
        check_options(WithSection, {"augment": {"flp": 1}}, "task")
    with pytest.raises(
        ConfigError, match=r"task\.augment\.mode = 'wild' is not valid; valid choices: 'light' \| 'heavy'"
    ):
        check_options(WithSection, {"augment": {"mode": "wild"}}, "task")
    with pytest.raises(ConfigError, match=r"task\.augment: flip must be a probability, got 2\.0"):
        check_options(WithSection, {"augment": {"flip": 2}}, "task")


def test_plain_signatures_still_work() -> None:
    def factory(k: int = 1, mode: Literal["a", "b"] = "a") -> dict[str, Any]:
        return {"k": k, "mode": mode}

    assert options_class(factory) is None
    assert call_with_options(factory, {"k": 3}, "policy") == {"k": 3, "mode": "a"}
    with pytest.raises(ConfigError, match=r"^policy\.kk: unknown key \(did you mean 'k'\?\)\. Valid keys: k, mode$"):
        check_options(factory, {"kk": 1}, "policy")
