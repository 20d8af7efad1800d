"""Fixtures for core tests: the toy plugin (installed through its entry point, like any plugin),
experiment configs written to tmp_path, and a way to register extra plugins for one test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from headstart import hookimpl, parse_config
from headstart.experiment import run_experiment
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


#: One toy experiment of a matrix: a small MLP on two synthetic classes.
TOY_EXPERIMENT: dict[str, Any] = {
    "name": "a",
    "source": {"name": "toy:mlp", "in_features": 4, "width": 8},
    "task": {"name": "vector-classification", "synthetic": {"classes": 2, "per_class": 8, "in_features": 4}},
}


def toy_matrix(tmp_path: Path, *, trainer: dict[str, Any] | None = None, **overrides: Any) -> Path:
    """``tmp_path/matrix.yaml``: matrix ``m`` of :data:`TOY_EXPERIMENT` with linear-probe, seed 0,
    2 epochs of batch 8 (``trainer`` changes the base trainer settings); ``overrides`` replace
    whole top-level keys. Returns the file's path."""
    data: dict[str, Any] = {
        "name": "m",
        "output_dir": str(tmp_path / "out"),
        "base": {"trainer": {"epochs": 2, "batch_size": 8, "progress": False, **(trainer or {})}},
        "experiments": [TOY_EXPERIMENT],
        "policies": ["linear-probe"],
        "seeds": [0],
        **overrides,
    }
    path = tmp_path / "matrix.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


class Interrupt:
    """Stops a run at optimizer step ``at_step`` (inside an epoch), like Ctrl-C or a killed job."""

    def __init__(self, at_step: int) -> None:
        self.at_step = at_step

    @hookimpl
    def headstart_on_step_end(self, run: Any, step: int, metrics: dict[str, Any]) -> None:
        if step == self.at_step:
            raise KeyboardInterrupt


def straight_and_resumed(
    config: dict[str, Any],
    tmp_path: Path,
    extra_plugin: Callable[[object, str], None],
    at_step: int = 8,
    interrupted: Callable[[Path], None] | None = None,
) -> tuple[Path, Path]:
    """``config`` run straight into ``tmp_path/straight``, and into ``tmp_path/resumed`` stopped by
    :class:`Interrupt` at ``at_step`` and then resumed (``interrupted(run_dir)`` looks at the run
    in between). Returns both run directories."""
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    run_experiment(parse_config(config), straight)
    extra_plugin(Interrupt(at_step), "interrupt")
    with pytest.raises(KeyboardInterrupt):
        run_experiment(parse_config(config), resumed)
    if interrupted is not None:
        interrupted(resumed)
    get_plugin_system().pm.unregister(name="interrupt")
    run_experiment(parse_config(config), resumed, resume=True)
    return straight, resumed


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
