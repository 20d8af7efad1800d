"""One label-budget sampler for every domain: stratified, seeded, and seeded by the run by default."""

from __future__ import annotations

from collections import Counter

import pytest

from headstart import parse_config, sample_per_class
from headstart.experiment import build

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
    task = {"name": "vector-classification", "synthetic": {"classes": 3, "per_class": 16}, **task_options}
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
