"""Registry: scheme:name resolution, close matches, shared schemes, local models, duplicates."""

from __future__ import annotations

import pytest

from headstart import LocalModel, PolicyType, hookimpl
from headstart.plugins import PluginError, load_plugins
from headstart.policies import Full
from headstart.registry import Registry, UnknownNameError, get_registry


def test_resolves_a_source_by_scheme_and_name() -> None:
    source = get_registry().source("toy:mlp", width=8, depth=2)
    assert source.name == "toy:mlp"
    assert [b.name for b in source.blocks] == ["stem", "stage1", "stage2"]


def test_unknown_source_lists_close_matches() -> None:
    with pytest.raises(UnknownNameError) as info:
        get_registry().source("toy:mpl")
    assert "did you mean 'toy:mlp'" in str(info.value)


def test_unknown_scheme_lists_installed_schemes() -> None:
    with pytest.raises(UnknownNameError, match=r"unknown source scheme 'tyo' \(did you mean 'toy'\?\)"):
        get_registry().source("tyo:mlp")


def test_name_without_scheme_explains_the_form() -> None:
    with pytest.raises(UnknownNameError, match="scheme:name"):
        get_registry().source("mlp")


def test_unknown_policy_suggests_the_close_one() -> None:
    with pytest.raises(UnknownNameError, match="did you mean 'top-k'"):
        get_registry().policy_type("topk")


class _Provider:
    def __init__(self, scheme: str, serves: str) -> None:
        self.scheme, self.serves = scheme, serves

    def resolve(self, name: str, **options: object) -> object:
        if name != self.serves:
            raise LookupError(f"{self.serves}-provider does not serve {name!r}")
        return ("resolved by", self.serves)

    def available(self) -> list[str]:
        return [self.serves]


class _SharedSchemePlugin:
    @hookimpl
    def headstart_source_providers(self) -> list[_Provider]:
        return [_Provider("hf", "text"), _Provider("hf", "speech")]

    @hookimpl
    def headstart_local_models(self) -> list[LocalModel]:
        return [LocalModel("org/model", "/somewhere/model", "hf")]


def test_providers_sharing_a_scheme_are_tried_in_order() -> None:
    system = load_plugins(entry_points=[])
    system.register(_SharedSchemePlugin(), "shared")
    registry = Registry.build(system)
    assert registry.source("hf:speech") == ("resolved by", "speech")
    assert registry.source("hf:text") == ("resolved by", "text")
    with pytest.raises(UnknownNameError) as info:
        registry.source("hf:vision")
    assert "text-provider does not serve" in str(info.value) and "speech-provider" in str(info.value)


def test_local_models_are_looked_up_by_scheme_and_id() -> None:
    system = load_plugins(entry_points=[])
    system.register(_SharedSchemePlugin(), "shared")
    registry = Registry.build(system)
    found = registry.local_model("hf", "org/model")
    assert found is not None and found.path == "/somewhere/model"
    assert registry.local_model("hf", "org/other") is None


def test_a_name_contributed_twice_is_an_error_naming_both_plugins() -> None:
    class Clash:
        @hookimpl
        def headstart_policies(self) -> list[PolicyType]:
            return [PolicyType("full", Full)]

    system = load_plugins(entry_points=[])
    system.register(Clash(), "clash")
    with pytest.raises(
        PluginError,
        match=r"policies entry 'full' is contributed by both plugin 'headstart\.policies\.plugin' and plugin 'clash'",
    ):
        Registry.build(system)
