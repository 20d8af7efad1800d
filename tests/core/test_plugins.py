"""Plugin system: built-ins through register(), entry points, failure isolation, unknown hooks."""

from __future__ import annotations

import importlib.metadata as md
import sys
from pathlib import Path

import pytest

from headstart import PolicyType, hookimpl
from headstart.plugins import BUILTIN_PLUGINS, PluginError, load_plugins
from headstart.policies import Full
from headstart.registry import Registry, UnknownNameError


def _entry_point(name: str, value: str) -> md.EntryPoint:
    return md.EntryPoint(name=name, value=value, group="headstart")


@pytest.fixture
def plugin_modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Write small plugin modules to an importable folder."""
    (tmp_path / "hs_good_plugin.py").write_text(
        "from headstart import hookimpl, PolicyType\n"
        "from headstart.policies import Full\n"
        "class Mine(Full):\n    name = 'mine'\n"
        "@hookimpl\ndef headstart_policies():\n    return [PolicyType('mine', Mine, 'test policy')]\n"
    )
    (tmp_path / "hs_broken_plugin.py").write_text("raise RuntimeError('this plugin is broken on purpose')\n")
    (tmp_path / "hs_typo_plugin.py").write_text(
        "from headstart import hookimpl\n@hookimpl\ndef headstart_polices():\n    return []\n"
    )
    (tmp_path / "hs_undecorated_typo.py").write_text("def headstart_metric():\n    return []\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for mod in ("hs_good_plugin", "hs_broken_plugin", "hs_typo_plugin", "hs_undecorated_typo"):
        sys.modules.pop(mod, None)


def test_builtins_register_through_the_same_path() -> None:
    system = load_plugins(entry_points=[])
    assert list(system.infos) == list(BUILTIN_PLUGINS)
    assert all(info.builtin for info in system.infos.values())
    policies = system.plugin_contributions("headstart.policies.plugin")["policies"]
    assert policies == [
        *("linear-probe", "full", "top-k", "discriminative", "gradual-unfreeze", "lp-ft", "scratch"),
        *("lora", "bitfit", "norm-tune", "filtered"),
    ]


def test_installed_toy_plugin_is_found_through_its_entry_point() -> None:
    eps = [ep for ep in md.entry_points(group="headstart") if ep.name == "toy"]
    assert eps, "the toy test plugin must be installed (make install does it)"
    system = load_plugins(entry_points=eps)
    assert system.infos["toy"].distribution == "headstart-toy"
    assert system.plugin_contributions("toy")["sources"] == ["toy"]


def test_a_plugin_raising_on_import_is_recorded_and_the_rest_work(plugin_modules: Path) -> None:
    system = load_plugins(
        entry_points=[_entry_point("broken", "hs_broken_plugin"), _entry_point("good", "hs_good_plugin")]
    )
    assert [f.name for f in system.failures] == ["broken"]
    assert "this plugin is broken on purpose" in system.failures[0].error
    assert "good" in system.infos
    assert system.plugin_contributions("good") == {"policies": ["mine"]}


def test_a_misspelled_decorated_hook_is_refused(plugin_modules: Path) -> None:
    system = load_plugins(entry_points=[_entry_point("typo", "hs_typo_plugin")])
    assert [f.name for f in system.failures] == ["typo"]
    assert "headstart_polices" in system.failures[0].error
    assert "headstart_policies" in system.failures[0].error  # the close match is suggested
    assert not system.pm.has_plugin("typo")


def test_a_misspelled_undecorated_hook_is_refused_too(plugin_modules: Path) -> None:
    system = load_plugins(entry_points=[_entry_point("typo2", "hs_undecorated_typo")])
    assert "unknown hook 'headstart_metric'" in system.failures[0].error


def test_register_raises_for_unknown_hook_objects() -> None:
    class Bad:
        @hookimpl
        def headstart_on_epoch_finish(self, run):  # type: ignore[no-untyped-def]
            pass

    system = load_plugins(entry_points=[])
    with pytest.raises(PluginError, match="headstart_on_epoch_finish"):
        system.register(Bad(), "bad")


def test_autoload_can_be_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADSTART_DISABLE_PLUGIN_AUTOLOAD", "1")
    system = load_plugins()
    assert "toy" not in system.infos
    assert list(system.infos) == list(BUILTIN_PLUGINS)


def test_headstart_plugins_env_registers_modules(plugin_modules: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADSTART_PLUGINS", "hs_good_plugin")
    system = load_plugins(entry_points=[])
    assert "hs_good_plugin" in system.infos


def test_hook_tracing_prints_calls(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("HEADSTART_TRACE_HOOKS", "1")
    system = load_plugins(entry_points=[])
    system.hook.headstart_policies()
    err = capsys.readouterr().err
    assert "[headstart hook] headstart_policies" in err
    assert "returned 1 result(s)" in err


class _RaisingPolicies:
    """A plugin whose contribution hook raises, with an event hook that must stop running too."""

    @hookimpl
    def headstart_policies(self) -> list[object]:
        raise RuntimeError("policy table is corrupt")

    @hookimpl
    def headstart_on_run_start(self, run: object) -> None:
        raise AssertionError("a failed plugin's events must not run")


def test_a_contribution_hook_that_raises_fails_only_its_plugin(plugin_modules: Path) -> None:
    system = load_plugins(entry_points=[_entry_point("good", "hs_good_plugin")])
    system.register(_RaisingPolicies(), "raising")
    with pytest.warns(RuntimeWarning, match="plugin 'raising' disabled"):
        contributions = system.contributions()
    assert [f.name for f in system.failures] == ["raising"]
    error = system.failures[0].error
    assert error == "headstart_policies() raised RuntimeError: policy table is corrupt"
    assert "\n" not in error
    assert "raising" not in system.infos and not system.pm.has_plugin("raising")
    assert system.plugin_contributions("good") == {"policies": ["mine"]}
    assert all(plugin != "raising" for items in contributions.values() for plugin, _ in items)
    registry = Registry.build(system)
    assert registry.policy_type("mine").name == "mine"
    with pytest.raises(UnknownNameError, match=r"Plugin 'raising' failed to load \(headstart_policies\(\) raised"):
        registry.policy_type("corrupt-one")
    system.hook.headstart_on_run_start(run=None)  # the failed plugin's event is gone


def test_a_contribution_hook_returning_no_list_fails_its_plugin() -> None:
    class NotAList:
        @hookimpl
        def headstart_metrics(self) -> dict[str, int]:
            return {"accuracy": 1}

    system = load_plugins(entry_points=[])
    system.register(NotAList(), "dict-metrics")
    with pytest.warns(RuntimeWarning):
        assert "dict-metrics" not in system.infos
    assert system.failures[0].error == "headstart_metrics() must return a list, not dict"
    assert "accuracy" in Registry.build(system).metrics  # the built-in metric is still there


def test_two_implementations_of_one_hook_in_a_module_are_both_listed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "hs_two_impls.py").write_text(
        "from headstart import hookimpl, PolicyType\n"
        "from headstart.policies import Full\n"
        "class A(Full):\n    name = 'a'\n"
        "class B(Full):\n    name = 'b'\n"
        "@hookimpl\ndef headstart_policies():\n    return [PolicyType('a', A)]\n"
        "@hookimpl(specname='headstart_policies')\ndef more_policies():\n    return [PolicyType('b', B)]\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        system = load_plugins(entry_points=[_entry_point("two", "hs_two_impls")])
        assert sorted(system.plugin_contributions("two")["policies"]) == ["a", "b"]
        assert {"a", "b"} <= set(Registry.build(system).policies)
    finally:
        sys.modules.pop("hs_two_impls", None)


def test_the_registry_is_cached_on_its_plugin_system_and_rebuilt_after_a_registration() -> None:
    system = load_plugins(entry_points=[])
    first = system.cached(Registry.build)
    assert system.cached(Registry.build) is first

    class Extra:
        @hookimpl
        def headstart_policies(self) -> list[PolicyType]:
            return [PolicyType("extra", Full)]

    system.register(Extra(), "extra")
    rebuilt = system.cached(Registry.build)
    assert rebuilt is not first and "extra" in rebuilt.policies and "extra" not in first.policies


def test_headstart_plugins_lists_a_raising_plugin_as_failed_and_the_rest(
    fresh_plugins: None, capsys: pytest.CaptureFixture[str]
) -> None:
    from headstart.cli import main
    from headstart.plugins import reset_plugin_system

    system = load_plugins(entry_points=[])
    system.register(_RaisingPolicies(), "raising")
    reset_plugin_system(system)
    with pytest.warns(RuntimeWarning):
        assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "policies     linear-probe      Transfer learning" in out  # the built-ins still work
    failed = out.split("failed to load:")[1].strip().splitlines()
    assert failed == ["raising (_RaisingPolicies): headstart_policies() raised RuntimeError: policy table is corrupt"]
