"""Times Headstart's optimizer steps through the engine's events, for the benchmarks that compare
its loop with another (``engine_overhead.py``, ``vs_hf_trainer.py``)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from headstart import hookimpl
from headstart.plugins import get_plugin_system


def steps_per_s(times: Sequence[float]) -> float:
    """Steps per second from the end of the first step to the end of the last (the first step,
    with its warm-up, is left out on every side)."""
    return (len(times) - 1) / (times[-1] - times[0])


class StepClock:
    """Wall time and this thread's CPU time at the end of every optimizer step of the current epoch."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []

    @hookimpl
    def headstart_on_epoch_start(self, run: Any, epoch: int) -> None:
        self.wall.clear()
        self.cpu.clear()

    @hookimpl
    def headstart_on_step_end(self, run: Any, step: int, metrics: dict[str, Any]) -> None:
        self.wall.append(time.perf_counter())
        self.cpu.append(time.thread_time())

    @classmethod
    def registered(cls) -> StepClock:
        """A clock registered as a plugin (named ``benchmark-clock``) for the rest of the process."""
        clock = cls()
        get_plugin_system().register(clock, "benchmark-clock")
        return clock
