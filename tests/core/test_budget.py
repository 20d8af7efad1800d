"""One label-budget sampler for every domain: stratified, seeded, and seeded by the run by default."""

from __future__ import annotations

import copy
from collections import Counter
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from headstart import parse_config, sample_per_class
from headstart.experiment import build, load_run_config, run_experiment
from headstart.experiment.features import cached_features
from headstart.experiment.matrix import load_matrix, run_matrix
from headstart.experiment.records import RunRecord
from headstart.experiment.report import aggregate, find_runs, markdown_table

from .conftest import toy_config


def test_it_keeps_n_per_class_in_the_original_order() -> None:
    labels = ["a"] * 10 + ["b"] * 3 + ["c"] * 7
    keep = sample_per_class(labels, 4, seed=0)
    assert keep == sorted(keep)
    assert Counter(labels[i] for i in keep) == {"a": 4, "b": 3, "c": 4}
    assert sample_per_class(labels, None, seed=0) == list(range(20))
    with pytest.raises(ValueError, match=">= 1"):
        sample_per_class(labels, 0, seed=0)


def test_the_draw_depends_on_the_seed_only() -> None:
    labels = [i % 3 for i in range(60)]
    assert sample_per_class(labels, 5, seed=1) == sample_per_class(labels, 5, seed=1)
    assert len({tuple(sample_per_class(labels, 5, seed=s)) for s in range(5)}) == 5
    # every example is drawn about equally often over seeds (uniform, not the first n)
    counts = Counter(i for s in range(400) for i in sample_per_class(labels, 5, seed=s))
    assert min(counts.values()) > 400 * 5 / 20 * 0.6


def _train_set(seed: int, **task_options: object) -> tuple[list[float], dict[str, object]]:
    task = {"name": "vector-classification", "synthetic": {"classes": 3, "per_class": 16}} | task_options
    config = parse_config(toy_config(seed=seed, task=task))
    built = build(config)
    return [float(x.sum()) for x, _ in built.task.dataset("train", train=False)], config.task


def test_a_budget_follows_the_run_seed_unless_data_seed_pins_it() -> None:
    a, task_a = _train_set(0, max_per_class=4)
    b, task_b = _train_set(1, max_per_class=4)
    assert len(a) == len(b) == 12 and a != b
    assert task_a["data_seed"] == 0 and task_b["data_seed"] == 1  # saved with the run, part of the cache key
    assert _train_set(0, max_per_class=4, data_seed=7)[0] == _train_set(1, max_per_class=4, data_seed=7)[0]
    # without a budget nothing is written (the seeds of a matrix then share the feature cache)
    full, task = _train_set(3)
    assert len(full) == 48 and "data_seed" not in task


def test_the_run_directory_records_the_draw_of_its_label_budget(tmp_path: Path) -> None:
    """config.yaml names the data_seed the run drew its budget with, so the run can be rebuilt
    from its directory alone, with the same labelled examples, even when the seed differs."""
    synthetic = {"classes": 3, "per_class": 16, "in_features": 6}
    task = {"name": "vector-classification", "synthetic": synthetic, "max_per_class": 4}
    run_dir, _ = run_experiment(
        parse_config(toy_config(seed=5, task=task, policy={"name": "linear-probe"})), tmp_path / "r"
    )
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert saved["task"]["data_seed"] == 5
    assert find_runs([run_dir])[0].data_seed == 5  # what the report reads to say what its interval covers
    again = load_run_config(run_dir, ["seed=6"])  # another seed: the draw stays the recorded one
    drawn = [float(x.sum()) for x, _ in build(again).task.dataset("train", train=False)]
    assert drawn == _train_set(5, max_per_class=4, synthetic=synthetic)[0]
    # a resume of the run reads the same config: nothing to refuse
    run_experiment(load_run_config(run_dir), run_dir, resume=True)


def test_label_budgets_take_their_rows_of_the_full_splits_cached_features(tmp_path: Path) -> None:
    """In a matrix, the full split's features are computed once; each budget's cell takes the rows
    of its drawn examples (the same draw: core's sampler, the run's data_seed) and trains exactly as
    the same budgeted run does without any cache."""
    synthetic = {"classes": 3, "per_class": 12, "in_features": 6}
    matrix = {
        "output_dir": str(tmp_path / "out"),
        "base": {"trainer": {"epochs": 3, "batch_size": 8, "lr": 0.05, "progress": False}},
        "experiments": [
            {"name": "toy", "source": toy_config()["source"], "task": {**toy_config()["task"], "synthetic": synthetic}}
        ],
        "policies": [{"name": "linear-probe", "solver": "sgd"}],
        "label_budgets": [4, 2, None],
        "seeds": [0],
    }
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(matrix))
    results = run_matrix(load_matrix(path), echo=lambda *_: None)
    caches = {cell.budget: summary["feature_cache"] for cell, summary in results}
    # the first cell computes the full train split (not its 12 examples), val and test; no other computes
    assert caches[4] == {"computed": 3, "reused_from_disk": 0}
    assert caches[2] == caches[None] == {"computed": 0, "reused_from_disk": 3}
    entries = sorted((tmp_path / "out" / "feature_cache").glob("*.safetensors"))
    assert len(entries) == 3
    assert [s["task"]["examples"]["train"] for _, s in results] == [12, 6, 36]
    for cell, cached in results[:2]:
        config = copy.deepcopy(cell.config)
        config["trainer"] = {**config["trainer"], "feature_cache": "off", "feature_cache_dir": None}
        run_dir, plain = run_experiment(parse_config(config), tmp_path / f"plain-{cell.budget}")
        assert plain["feature_cache"]["computed"] == 0
        assert cached["final"]["val_loss"] == pytest.approx(plain["final"]["val_loss"], rel=1e-5)
        assert cached["test"]["accuracy"] == plain["test"]["accuracy"]
        a, b = (load_file(str(d / "checkpoints" / "last" / "model.safetensors")) for d in (cell.run_dir, run_dir))
        for key in a:
            torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6)
    # a tool outside the runs (cached_features) reads the same entries: the same rows, nothing new
    cell = results[1][0]
    features = cached_features(parse_config(cell.config), "train", tmp_path / "out" / "feature_cache")
    assert sorted((tmp_path / "out" / "feature_cache").glob("*.safetensors")) == entries
    drawn = build(parse_config(cell.config)).task.dataset("train", train=False)
    assert features.extras is not None and features.extras["targets"].tolist() == [y for _, y in drawn]


def _record(seed: int, budget: int | None, data_seed: int | None) -> RunRecord:
    summary = {"best": {"value": 0.5 + seed / 100}, "final": {}, "test": {"accuracy": 0.5}}
    summary |= {"trainable_params_max": 1, "total_params": 2, "wall_time_s": 1.0, "peak_memory_mb": 1.0}
    return RunRecord(Path(f"r{seed}"), "a", "full", seed, budget, "accuracy", summary, data_seed=data_seed)


def test_the_report_says_which_variance_each_interval_covers() -> None:
    rows = {
        name: aggregate(records)[0]
        for name, records in {
            "drawn per seed": [_record(s, 4, s) for s in range(3)],
            "pinned": [_record(s, 4, 7) for s in range(3)],
            "no budget": [_record(s, None, None) for s in range(3)],
            "one seed": [_record(0, 4, 0)],
        }.items()
    }
    assert rows["drawn per seed"]["interval_covers"] == "init + data order + labelled draw"
    assert rows["pinned"]["interval_covers"] == "init + data order; one draw (data_seed 7)"
    assert rows["no budget"]["interval_covers"] == "init + data order"
    assert rows["one seed"]["interval_covers"] == "one seed: no interval"
    assert markdown_table([rows["pinned"]]).splitlines()[2].endswith("| init + data order; one draw (data_seed 7) |")
