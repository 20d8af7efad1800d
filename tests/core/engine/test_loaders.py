"""Loaders over cached features (engine/loaders.py): evaluation batches on cached vector features."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from headstart import parse_config
from headstart.engine.evaluate import evaluate
from headstart.engine.feature_cache import CachedSplit, FeatureCache, compute_features
from headstart.engine.loaders import CACHED_EVAL_ROWS, CachedBatches, make_loader
from headstart.engine.run_state import RunContext
from headstart.experiment.build import build

from ..conftest import toy_config


def _cached_run(tmp_path: Path, split: str) -> tuple[RunContext, CachedSplit]:
    built = build(parse_config(toy_config(policy={"name": "linear-probe"})))
    run = built.run_context(tmp_path, device=torch.device("cpu"))
    data = built.task.dataset(split, train=False)
    batches = [built.task.collate(data[i : i + 5]) for i in range(0, len(data), 5)]
    computed = compute_features(built.model, batches, torch.device("cpu"), "fp32")
    return run, FeatureCache("memory", tmp_path / "cache", 1.0).get(split, lambda: computed)


def test_evaluation_on_cached_vector_features_is_one_batch(tmp_path: Path) -> None:
    run, cached = _cached_run(tmp_path, "train")  # the largest toy split: 48 examples, batch size 8
    loader = make_loader(run, "train", train=False, cached=cached)
    batches = list(loader)
    assert len(loader) == len(batches) == 1
    (batch,) = batches
    assert cached.extras is not None
    assert torch.equal(batch["_features"].values, cached.matrix())
    assert torch.equal(batch["targets"], cached.extras["targets"])
    assert batch["_index"].tolist() == list(range(len(cached)))
    # training batches keep the batch size
    assert [len(b["_index"]) for b in make_loader(run, "train", train=True, cached=cached)] == [8] * 6


def test_a_batch_changed_in_place_leaves_the_cache_as_it_was(tmp_path: Path) -> None:
    run, cached = _cached_run(tmp_path, "val")
    assert cached.extras is not None
    features, targets = cached.matrix().clone(), cached.extras["targets"].clone()
    for train in (False, True):  # a head or a task that writes into its inputs
        for batch in make_loader(run, "val", train=train, cached=cached):
            batch["_features"].values.add_(1.0)
            batch["targets"].zero_()
    assert torch.equal(cached.matrix(), features) and torch.equal(cached.extras["targets"], targets)


def test_one_batch_gives_the_metrics_of_eval_batch_size_batches(tmp_path: Path) -> None:
    run, cached = _cached_run(tmp_path, "train")
    whole = evaluate(run, make_loader(run, "train", train=False, cached=cached), cached)
    size = len(cached)
    in_threes = evaluate(run, CachedBatches(cached, range(size), 3, size, run.device), cached)
    assert whole.keys() == in_threes.keys() and "accuracy" in whole
    # the head's outputs per example do not depend on the batch: every metric is the same
    assert {k: v for k, v in whole.items() if k != "loss"} == {k: v for k, v in in_threes.items() if k != "loss"}
    assert whole["loss"] == pytest.approx(in_threes["loss"], rel=1e-6)


def test_cached_evaluation_batches_are_capped(tmp_path: Path) -> None:
    run, cached = _cached_run(tmp_path, "val")
    n = 3 * CACHED_EVAL_ROWS // 2
    big = CachedSplit(
        cached.matrix()[torch.arange(n) % len(cached)], False, {"targets": torch.zeros(n, dtype=torch.long)}
    )
    loader = make_loader(run, "val", train=False, cached=big)
    assert [len(b["_index"]) for b in loader] == [CACHED_EVAL_ROWS, n - CACHED_EVAL_ROWS]
