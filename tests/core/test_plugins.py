"""Plugin system: built-ins through register(), entry points, failure isolation, unknown hooks."""

from __future__ import annotations

import importlib.metadata as md
import sys
from pathlib import Path

import pytest

from headstart import hookimpl
from headstart.plugins import BUILTIN_PLUGINS, PluginError, load_plugins


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
    assert policies == ["linear-probe", "full", "top-k", "discriminative", "gradual-unfreeze", "lp-ft", "scratch"]


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
