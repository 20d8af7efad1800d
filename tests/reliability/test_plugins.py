"""Broken plugins: a contribution hook that raises marks only its plugin failed (``headstart
plugins`` lists it, runs work); an engine event that raises stops the run with one line naming
the plugin and the hook, and the last checkpoint stays intact."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from headstart.cli import main
from headstart.plugins import reset_plugin_system

from .conftest import assert_intact, leftovers, rows


@pytest.fixture
def load_plugin(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Load the named test module through HEADSTART_PLUGINS, as a user would."""
    monkeypatch.syspath_prepend(str(Path(__file__).parent))

    def load(module: str) -> None:
        monkeypatch.setenv("HEADSTART_PLUGINS", module)
        reset_plugin_system()

    yield load
    monkeypatch.delenv("HEADSTART_PLUGINS", raising=False)
    reset_plugin_system()


def test_a_raising_contribution_hook_fails_only_its_plugin(
    load_plugin: Callable[[str], None], experiment: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    load_plugin("broken_contribution")
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "broken_contribution" in out and "RuntimeError: policy table failed to build" in out
    assert main(["run", str(experiment), "--run-dir", str(tmp_path / "run")]) == 0  # the others work
    assert [r["epoch"] for r in rows(tmp_path / "run")] == [0, 1, 2]


def test_a_raising_event_hook_stops_the_run_with_one_line(
    load_plugin: Callable[[str], None],
    experiment: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    load_plugin("broken_event")
    run_dir = tmp_path / "run"
    assert main(["run", str(experiment), "--run-dir", str(run_dir)]) == 1
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(
        "headstart: error: plugin 'broken_event' raised in headstart_on_epoch_end: RuntimeError: logger lost its connection"
    )
    assert "--resume" in lines[0]
    assert (run_dir / "checkpoints" / "last").resolve().name == "epoch-0000"
    assert_intact(run_dir)
    assert leftovers(run_dir) == [] and not (run_dir / ".lock").exists()

    monkeypatch.delenv("HEADSTART_PLUGINS")  # without the broken plugin …
    reset_plugin_system()
    assert main(["run", "--resume", str(run_dir)]) == 0  # … the run continues from its last checkpoint
    assert [r["epoch"] for r in rows(run_dir)] == [0, 1, 2]
