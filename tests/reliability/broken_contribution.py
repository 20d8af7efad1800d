"""A plugin whose contribution hook raises (loaded through HEADSTART_PLUGINS by test_plugins.py)."""

from __future__ import annotations

from typing import Any

from headstart import hookimpl


@hookimpl
def headstart_policies() -> list[Any]:
    raise RuntimeError("policy table failed to build")
