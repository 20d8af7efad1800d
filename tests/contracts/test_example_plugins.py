"""The example third-party plugins in ``examples/plugins/``, installed through their own
``pyproject.toml`` entry point into a throw-away environment, pass their own tests (which run
Headstart's contract kit) and show up in ``headstart plugins``."""

from __future__ import annotations

from pathlib import Path

import pytest

from headstart.testing import PluginEnv

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "plugins"


def test_every_example_plugin_is_tested_here() -> None:
    assert sorted(p.name for p in EXAMPLES.iterdir() if (p / "pyproject.toml").is_file()) == ["headstart-l2sp"]


@pytest.mark.slow
def test_l2sp_example(tmp_path: Path) -> None:
    env = PluginEnv(tmp_path / "env")
    env.install_editable(EXAMPLES / "headstart-l2sp")
    # its tests check `headstart plugins` lists it (test_listed_with_its_events), run the contract
    # kit, and train the toy plugin with l2-sp in the environment where it is installed
    proc = env.run(["-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=EXAMPLES / "headstart-l2sp")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "passed" in proc.stdout and "skipped" not in proc.stdout  # the toy plugin is here: nothing skipped
