"""The kit is a pytest plugin: its fixtures are available without any import or conftest."""

from __future__ import annotations

import importlib.metadata as md
from typing import Any

from headstart.registry import Registry


def test_registered_as_pytest11_entry_point() -> None:
    found = [ep for ep in md.entry_points(group="pytest11") if ep.value == "headstart.testing.pytest_plugin"]
    assert found, "core/pyproject.toml must declare [project.entry-points.pytest11] headstart = ..."


def test_registry_fixture(headstart_registry: Registry) -> None:
    assert "full" in headstart_registry.policies


def test_plugin_env_fixture_sees_this_environment(headstart_plugin_env: Any) -> None:
    out = headstart_plugin_env.check(["-c", "import headstart, torch; print(headstart.__version__)"])
    assert out.strip() == __import__("headstart").__version__
