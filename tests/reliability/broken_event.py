"""A plugin whose engine event raises at the end of the second epoch (test_plugins.py)."""

from __future__ import annotations

from typing import Any

from headstart import hookimpl


@hookimpl
def headstart_on_epoch_end(run: Any, epoch: int, metrics: dict[str, float]) -> None:
    if epoch == 1:
        raise RuntimeError("logger lost its connection")
