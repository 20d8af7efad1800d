"""The contract kit's pytest plugin, registered through the ``pytest11`` entry point.

It is loaded by every pytest run in an environment where Headstart is installed, so it imports
nothing heavy until a fixture is used. Fixtures:

* ``headstart_registry``: the registry of the installed plugins (``headstart.get_registry()``).
* ``headstart_plugin_env``: a :class:`~headstart.testing.PluginEnv` under ``tmp_path`` to
  ``pip install -e`` a plugin into without touching the current environment.
* ``headstart_task_example``: a function ``(task_name) -> TaskExample`` calling the task
  factory's ``contract_example`` with a fresh temporary directory.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from ..registry import Registry
    from .env import PluginEnv
    from .examples import TaskExample


@pytest.fixture
def headstart_registry() -> Registry:
    from ..registry import get_registry

    return get_registry()


@pytest.fixture
def headstart_plugin_env(tmp_path: Path) -> PluginEnv:
    from .env import PluginEnv

    return PluginEnv(tmp_path / "plugin-env")


@pytest.fixture
def headstart_task_example(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], TaskExample]:
    from ..registry import get_registry
    from .examples import task_example

    def make(task_name: str) -> TaskExample:
        return task_example(get_registry().task_type(task_name), tmp_path_factory.mktemp("task-example"))

    return make
