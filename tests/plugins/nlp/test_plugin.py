"""The plugin as users meet it: ``headstart plugins`` lists it, the example config plans offline."""

from __future__ import annotations

from pathlib import Path

from headstart import build, format_plan, load_config
from headstart.testing import check_plugin_listed

ROOT = Path(__file__).resolve().parents[3]


def test_headstart_plugins_lists_the_nlp_plugin_with_its_sources_and_tasks() -> None:
    entry = check_plugin_listed(
        "nlp",
        {
            "sources": ["hf"],
            "tasks": ["text-classification", "text-regression", "token-classification"],
            "formats": ["glue-tsv", "conll"],
            "metrics": ["entity-f1", "entity-precision", "entity-recall"],
        },
    )
    assert entry["distribution"] == "headstart-nlp"


def test_the_example_builds_offline_from_packaged_weights_and_data(tmp_path: Path) -> None:
    (example,) = sorted(ROOT.glob("examples/nlp-minilm-*.yaml"))
    config = load_config(example, [f"output_dir={tmp_path}"])
    built = build(config)
    info = built.source.describe()
    assert info["origin"].startswith("local stand-in") and info["parameters"] > 22_000_000
    summary = built.task.summary()
    assert summary["examples"] == {"train": 200, "val": 200, "test": 500}
    assert summary["class_counts"]["train"] == {"fresh": 100, "rotten": 100}
    assert summary["skipped"]["train"] == 156  # the 'plot' summaries
    plan = format_plan(built)
    assert "'lp'" in plan and "'ft'" in plan and "layer5" in plan
