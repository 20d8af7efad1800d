"""Fixtures for core tests: the toy plugin (installed through its entry point, like any plugin),
experiment configs written to tmp_path, and a way to register extra plugins for one test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from headstart.plugins import get_plugin_system, reset_plugin_system


def toy_config(**overrides: Any) -> dict[str, Any]:
    """A small experiment on the toy plugin; ``overrides`` replace whole top-level sections."""
    config: dict[str, Any] = {
        "name": "toy",
        "seed": 0,
        "source": {"name": "toy:mlp", "in_features": 6, "width": 16, "depth": 3, "dropout": 0.1},
        "task": {"name": "vector-classification", "synthetic": {"classes": 3, "per_class": 16, "in_features": 6}},
        "policy": {"name": "full"},
        "trainer": {"epochs": 3, "batch_size": 8, "lr": 0.01, "progress": False, "log_every": 1},
    }
    config.update(overrides)
    return config


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    def write(config: dict[str, Any] | None = None, name: str = "exp.yaml") -> Path:
        path = tmp_path / name
        path.write_text(yaml.safe_dump(config or toy_config()), encoding="utf-8")
        return path

    return write


@pytest.fixture
def extra_plugin() -> Iterator[Callable[[object, str], None]]:
    """Register plugin objects on the process-wide plugin system for one test."""
    system = get_plugin_system()
    names: list[str] = []

    def register(plugin: object, name: str) -> None:
        system.register(plugin, name)
        names.append(name)

    yield register
    for name in names:
        system.pm.unregister(name=name)
        system.infos.pop(name, None)


@pytest.fixture
def fresh_plugins() -> Iterator[None]:
    """Let a test install its own plugin system; the default one is restored afterwards."""
    yield
    reset_plugin_system()
