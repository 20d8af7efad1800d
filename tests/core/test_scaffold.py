"""``headstart new-plugin``: the files it writes, its errors, and (end to end) that a generated
plugin installs with ``pip install -e``, is listed, runs, and passes its own generated tests."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
import yaml

from headstart.cli import main
from headstart.scaffold import KINDS, ScaffoldError, new_plugin, render
from headstart.testing import PluginEnv


@pytest.mark.parametrize("kind", KINDS)
def test_render_writes_a_distribution(kind: str) -> None:
    files = render("time-series", kind)
    assert {"pyproject.toml", "README.md", "src/headstart_time_series/plugin.py", "tests/test_plugin.py"} <= set(files)
    meta = tomllib.loads(files["pyproject.toml"])
    assert meta["project"]["name"] == "headstart-time-series"
    assert meta["project"]["entry-points"]["headstart"] == {"time-series": "headstart_time_series.plugin"}
    assert "Framework :: Headstart" in meta["project"]["classifiers"]
    assert "@hookimpl" in files["src/headstart_time_series/plugin.py"]
    assert "headstart.testing" in files["tests/test_plugin.py"]
    for path, text in files.items():
        assert "${" not in text, f"unfilled template field in {path}"
        if path.endswith(".py"):
            compile(text, path, "exec")


def test_each_kind_has_its_component() -> None:
    assert "src/headstart_demo/policy.py" in render("demo", "policy")
    assert "src/headstart_demo/sources.py" in render("demo", "source")
    assert {"src/headstart_demo/sources.py", "src/headstart_demo/tasks.py"} <= set(render("demo", "domain"))


@pytest.mark.parametrize("name", ["Demo", "1demo", "de mo", "demo-", "dé"])
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(ScaffoldError, match="lowercase letters and digits"):
        render(name, "policy")


def test_bad_kind_lists_kinds() -> None:
    with pytest.raises(ScaffoldError, match="valid kinds: domain, policy, source"):
        render("demo", "model")


def test_cli_writes_and_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "p"
    assert main(["new-plugin", "demo", "--kind", "policy", "--output", str(out)]) == 0
    assert (out / "src" / "headstart_demo" / "policy.py").is_file()
    assert main(["new-plugin", "demo", "--kind", "policy", "--output", str(out)]) == 2
    assert "already exists and is not empty" in capsys.readouterr().err


#: ``headstart ARGV`` for each ARGV of the JSON list in argv[1], in this one interpreter
_RUN_ALL = "import json, sys; from headstart.cli import main; sys.exit(max(main(a) for a in json.loads(sys.argv[1])))"


@pytest.mark.slow
def test_generated_plugins_install_list_run_and_pass_their_tests(tmp_path: Path) -> None:
    """`headstart new-plugin demo --kind policy` (and a domain plugin), `pip install -e`, listed
    by `headstart plugins`, used by `headstart run`, generated tests pass."""
    policy = new_plugin("demo", "policy", tmp_path / "headstart-demo")
    domain = new_plugin("tabular", "domain", tmp_path / "headstart-tabular")
    env = PluginEnv(tmp_path / "env")  # installs go here, not into the project's environment
    env.install_editable(policy, domain)

    listing = {p["name"]: p for p in json.loads(env.check(["-m", "headstart", "plugins", "--json"]))["plugins"]}
    assert listing["demo"]["distribution"] == "headstart-demo"
    assert listing["demo"]["contributes"]["policies"] == ["demo", "demo-biases", "demo-adapters"]
    assert "headstart_policies" in listing["demo"]["hooks"]
    assert listing["tabular"]["contributes"] == {"sources": ["tabular"], "tasks": ["tabular-classification"]}

    experiment = {
        "name": "demo",
        "output_dir": str(tmp_path / "runs"),
        "source": {"name": "toy:mlp", "in_features": 4, "width": 8, "depth": 4},
        "task": {"name": "vector-classification", "synthetic": {"classes": 2, "per_class": 4, "in_features": 4}},
        "policy": {"name": "demo", "fraction": 0.5},
        "trainer": {"epochs": 1, "batch_size": 4, "progress": False, "device": "cpu"},
    }
    (tmp_path / "exp.yaml").write_text(yaml.safe_dump(experiment), encoding="utf-8")
    experiment["policy"] = {"name": "demo-adapters"}  # the shape that adds modules in prepare()
    (tmp_path / "adapters.yaml").write_text(yaml.safe_dump(experiment), encoding="utf-8")
    runs = [["run", str(tmp_path / f"{e}.yaml"), "--run-dir", str(tmp_path / e)] for e in ("exp", "adapters")]
    env.check(["-c", _RUN_ALL, json.dumps(runs)])  # both `headstart run`s in one interpreter
    summary = json.loads((tmp_path / "exp" / "summary.json").read_text(encoding="utf-8"))
    assert summary["policy"] == "demo"
    assert summary["trainable_params"]["demo"] < summary["total_params"]  # only the top half trains
    summary = json.loads((tmp_path / "adapters" / "summary.json").read_text(encoding="utf-8"))
    assert summary["trainable_params"]["demo-adapters"] == 8 * 5 + 2 * 8 + 2  # a scale per Linear output + head

    for project in (policy, domain):  # as generated, from their own directory and pytest settings
        proc = env.run(["-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=project)
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
        assert " passed" in proc.stdout and "failed" not in proc.stdout
