"""rank_sources on the toy plugin: rows, order, JSON/CSV, and one feature pass for rank + train."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

from headstart.experiment import parse_config, run_experiment
from headstart.rank import format_table, rank_sources, task_features, write_ranking
from headstart.rank.ranking import ranking_config

from ..conftest import toy_config

TASK = {"name": "vector-classification", "synthetic": {"classes": 3, "per_class": 20, "in_features": 6, "spread": 0.5}}


def _experiment() -> dict:
    return toy_config(task=TASK, trainer={"epochs": 2, "batch_size": 8, "progress": False, "device": "cpu"})


def test_rows_are_scored_and_sorted(tmp_path: Path) -> None:
    sources = [
        {"name": "toy:mlp", "in_features": 6, "width": 8, "depth": 1},
        {"name": "toy:mlp", "in_features": 6, "width": 32, "depth": 2},
    ]
    rows = rank_sources(_experiment(), sources, tmp_path / "cache")
    assert [r["rank"] for r in rows] == [1, 2]
    assert rows[0]["logme"] >= rows[1]["logme"]
    assert sorted(r["dim"] for r in rows) == [8, 32]
    assert all(r["examples"] == 60 and r["target"] == "classification" and r["h_score"] > 0 for r in rows)
    assert all(r["features"] == "computed" for r in rows)
    table = format_table(rows)
    assert "toy:mlp(in_features=6,width=32,depth=2)" in table and table.count("\n") == 3

    written = write_ranking(rows, tmp_path / "out", {"task": TASK})
    data = json.loads(written[0].read_text())
    assert data["task"] == TASK and [r["source"] for r in data["rows"]] == [r["source"] for r in rows]
    with written[1].open() as f:
        csv_rows = list(csv.DictReader(f))
    assert [float(r["logme"]) for r in csv_rows] == pytest.approx([r["logme"] for r in rows])


def test_features_are_the_backbones_on_the_train_split(tmp_path: Path) -> None:
    source = {"name": "toy:mlp", "in_features": 6, "width": 8, "depth": 1}
    config = ranking_config(_experiment(), source)
    tf = task_features(config, None)
    from headstart.experiment import build

    built = build(config)
    built.model.eval()
    xs = torch.stack([x for x, _ in built.task.examples["train"]])  # type: ignore[attr-defined]
    ys = torch.tensor([y for _, y in built.task.examples["train"]])  # type: ignore[attr-defined]
    with torch.no_grad():
        expected = built.source.backbone(xs)
    assert torch.allclose(tf.features, expected, atol=1e-6)
    assert torch.equal(tf.targets, ys) and not tf.regression and tf.pooling is None


def test_ranking_then_training_computes_features_once(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    source = {"name": "toy:mlp", "in_features": 6, "width": 8, "depth": 1}
    first = rank_sources(_experiment(), [source], cache)
    assert first[0]["features"] == "computed" and len(list(cache.glob("*.safetensors"))) == 1

    data = _experiment()
    data["source"], data["policy"] = source, {"name": "linear-probe"}
    data["trainer"] |= {"feature_cache": "disk", "feature_cache_dir": str(cache)}
    _, summary = run_experiment(parse_config(data), tmp_path / "run")
    # the train split came from the ranking; only val and test were computed by the run
    assert summary["feature_cache"] == {"computed": 2, "reused_from_disk": 1}

    again = rank_sources(_experiment(), [source], cache)
    assert again[0]["features"] == "reused" and again[0]["logme"] == pytest.approx(first[0]["logme"])


def test_no_sources_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one source"):
        rank_sources(_experiment(), [], None)
