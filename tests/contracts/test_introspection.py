"""Plugin introspection from the command line: hooks per plugin, autoload switch, hook tracing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml


def headstart(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("HEADSTART_")} | env
    return subprocess.run(
        [sys.executable, "-m", "headstart", *args], capture_output=True, text=True, env=full, check=False
    )


def listing(**env: str) -> tuple[dict[str, Any], str]:
    proc = headstart("plugins", "--json", **env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), proc.stderr


def test_hooks_per_plugin(capsys: pytest.CaptureFixture[str]) -> None:
    from headstart.cli import main

    assert main(["plugins", "--json"]) == 0  # in this process: no environment switch is tested here
    report = json.loads(capsys.readouterr().out)
    plugins = {p["name"]: p for p in report["plugins"]}
    assert plugins["toy"]["hooks"] == ["headstart_source_providers", "headstart_task_types"]
    assert plugins["toy"]["distribution"] == "headstart-toy"
    assert plugins["headstart.policies.plugin"]["hooks"] == ["headstart_policies"]


def test_trace_hooks_prints_event_calls(tmp_path: Path) -> None:
    config = {
        "source": {"name": "toy:mlp", "in_features": 4, "width": 8, "depth": 2},
        "task": {"name": "vector-classification", "synthetic": {"classes": 2, "per_class": 4, "in_features": 4}},
        "policy": {"name": "linear-probe", "solver": "sgd"},  # steps (an L-BFGS fit has none)
        "trainer": {"epochs": 1, "batch_size": 4, "progress": False, "device": "cpu"},
    }
    (tmp_path / "exp.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    run = ["run", str(tmp_path / "exp.yaml"), "--run-dir", str(tmp_path / "run")]
    proc = headstart(
        *run, HEADSTART_TRACE_HOOKS="1", HEADSTART_DISABLE_PLUGIN_AUTOLOAD="1", HEADSTART_PLUGINS="headstart_toy.plugin"
    )
    assert proc.returncode == 0, proc.stderr
    for event in ("headstart_on_run_start", "headstart_on_step_end", "headstart_on_checkpoint", "headstart_on_run_end"):
        assert f"[headstart hook] {event}(run" in proc.stderr, f"{event} not traced:\n{proc.stderr[-2000:]}"


def test_disable_autoload_keeps_only_builtins_and_named_modules() -> None:
    report, _ = listing(HEADSTART_DISABLE_PLUGIN_AUTOLOAD="1")
    assert all(p["builtin"] for p in report["plugins"]), [p["name"] for p in report["plugins"]]
    assert "toy" not in {p["name"] for p in report["plugins"]}
    proc = headstart("plugins", HEADSTART_DISABLE_PLUGIN_AUTOLOAD="1", HEADSTART_PLUGINS="headstart_toy.plugin")
    assert proc.returncode == 0, proc.stderr
    assert "\nheadstart_toy.plugin " in proc.stdout and "vector-classification" in proc.stdout
    assert "\ntoy " not in proc.stdout
