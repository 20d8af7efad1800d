"""Matrices: expansion into cells, dry runs, and resuming a killed matrix with the missing cells only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from headstart import ConfigError, hookimpl
from headstart.experiment.matrix import dry_run, load_matrix, run_matrix
from headstart.plugins import get_plugin_system

from ..conftest import toy_matrix


def _matrix(tmp_path: Path, **extra: Any) -> Path:
    """Two policies and two seeds of the toy matrix."""
    return toy_matrix(tmp_path, **{"policies": ["linear-probe", {"name": "top-k", "k": 1}], "seeds": [0, 1], **extra})


def test_cells_are_experiments_times_policies_budgets_and_seeds(tmp_path: Path) -> None:
    matrix = load_matrix(_matrix(tmp_path, label_budgets=[4, 8], budget_key="max_per_class"))
    assert len(matrix.cells) == 1 * 2 * 2 * 2
    first = matrix.cells[0]
    assert (first.experiment, first.policy, first.budget, first.seed) == ("a", "linear-probe", 4, 0)
    assert first.run_dir == tmp_path / "out" / "a__linear-probe__b4__s0"
    assert first.config["task"]["max_per_class"] == 4
    assert first.config["trainer"]["epochs"] == 2  # from base
    assert {c.policy for c in matrix.cells} == {"linear-probe", "top-k(k=1)"}


def test_sources_times_tasks_grid(tmp_path: Path) -> None:
    task = {"name": "vector-classification", "synthetic": {"classes": 2, "per_class": 8, "in_features": 4}}
    path = _matrix(
        tmp_path,
        experiments=[],
        sources=[{"name": "toy:mlp", "in_features": 4, "width": 8}, {"name": "toy:mlp", "in_features": 4, "width": 4}],
        tasks=[task],
    )
    assert len(load_matrix(path).cells) == 2 * 1 * 2 * 2


def test_every_cell_is_validated_before_anything_runs(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"trainer\.epocs: unknown key"):
        load_matrix(_matrix(tmp_path, base={"trainer": {"epocs": 2}}))
    with pytest.raises(ConfigError, match="seed: unknown matrix key"):
        load_matrix(_matrix(tmp_path, seed=[0]))


def test_dry_run_prints_planned_trainable_parameters(tmp_path: Path) -> None:
    lines: list[str] = []
    rows = dry_run(load_matrix(_matrix(tmp_path)), echo=lines.append)
    assert rows[0]["trainable"] == {"linear-probe": 8 * 2 + 2}
    assert rows[2]["trainable"] == {"top-1": 8 * 8 + 8 + 2 * 8 + 8 * 2 + 2}
    assert "trainable: linear-probe 18" in lines[0]
    assert not (tmp_path / "out").exists()  # nothing trained, nothing written


def test_dry_run_shows_each_cells_learning_rate_and_where_it_comes_from(tmp_path: Path) -> None:
    """A policy's default, an explicit rate and ``auto`` each show as what the cell will train at."""
    path = _matrix(tmp_path, policies=["linear-probe", {"name": "full"}], sweep={"trainer.lr": [0.02, "auto"]})
    lines: list[str] = []
    rows = dry_run(load_matrix(path), echo=lines.append)
    shown = [line for line in lines if "trainable:" in line]
    assert any("lr 0.02 (head ×1, config)" in line for line in shown)
    assert any(", auto: the centre of its grid)" in line for line in shown)
    assert {row["lr"]["origin"] for row in rows} == {"config", "auto"}
    (tmp_path / "d").mkdir()
    default = _matrix(tmp_path / "d", policies=["linear-probe"])
    rows = dry_run(load_matrix(default), echo=lambda _: None)
    assert rows[0]["lr"]["origin"] == "default" and rows[0]["lr"]["lr"] == 5e-3  # the probe's default


def test_dry_run_before_a_prerequisite_ran_names_the_prerequisite(tmp_path: Path) -> None:
    task = {"name": "vector-classification", "synthetic": {"classes": 2, "per_class": 8, "in_features": 4}}
    source_cfg = tmp_path / "source.yaml"
    source_cfg.write_text(yaml.safe_dump({"source": {"name": "toy:mlp", "in_features": 4, "width": 8}, "task": task}))
    pre_dir = tmp_path / "out" / "pre"
    path = _matrix(
        tmp_path,
        prerequisites=[{"name": "pre", "config": str(source_cfg), "run_dir": str(pre_dir)}],
        experiments=[{"name": "b", "source": {"name": f"run:{pre_dir}"}, "task": task}],
    )
    lines: list[str] = []
    matrix = load_matrix(path)
    rows = dry_run(matrix, echo=lines.append)
    waiting = [line for line in lines if "cannot plan" in line]
    assert waiting and all("prerequisite 'pre'" in line and "has not run yet" in line for line in waiting)
    # every cell still gets its line and its row, with what cannot be known yet left out
    assert len(rows) == len(matrix.cells) == sum("trainable: ?" in line for line in lines)
    assert all(row["trainable"] == {} and "lr" not in row for row in rows)
    assert not any("Valid sources" in line for line in lines)


class _KillAtCell:
    def __init__(self, cell_dir: Path) -> None:
        self.cell_dir = cell_dir

    @hookimpl
    def headstart_on_epoch_start(self, run: Any, epoch: int) -> None:
        if run.run_dir == self.cell_dir and epoch == 1:  # after the first epoch's checkpoint
            raise KeyboardInterrupt


class _CountStarts:
    def __init__(self) -> None:
        self.started: list[tuple[str, int]] = []

    @hookimpl
    def headstart_on_run_start(self, run: Any) -> None:
        self.started.append((run.run_dir.name, run.epoch))


def test_a_killed_matrix_continues_with_the_missing_cells_only(tmp_path: Path, extra_plugin: Any) -> None:
    matrix = load_matrix(_matrix(tmp_path))
    third = matrix.cells[2].run_dir
    extra_plugin(_KillAtCell(third), "kill")
    with pytest.raises(KeyboardInterrupt):
        run_matrix(matrix, echo=lambda *_: None)
    get_plugin_system().pm.unregister(name="kill")
    assert [(c.run_dir / "summary.json").exists() for c in matrix.cells] == [True, True, False, False]

    counter = _CountStarts()
    extra_plugin(counter, "count")
    results = run_matrix(load_matrix(_matrix(tmp_path)), echo=lambda *_: None)
    # cells 1-2 are not re-run; cell 3 resumes after its first epoch; cell 4 runs from the start
    assert counter.started == [(third.name, 1), (matrix.cells[3].run_dir.name, 0)]
    assert len(results) == 4
    rows = [json.loads(x) for x in (third / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [0, 1]
    assert json.loads((third / "cell.json").read_text()) == {
        "experiment": "a",
        "policy": "top-k(k=1)",
        "seed": 0,
        "budget": None,
    }


def test_an_experiment_may_run_fewer_seeds(tmp_path: Path) -> None:
    task = {"name": "vector-classification", "synthetic": {"classes": 2, "per_class": 8, "in_features": 4}}
    experiments = [
        {"name": "cheap", "source": {"name": "toy:mlp", "in_features": 4}, "task": task},
        {"name": "costly", "source": {"name": "toy:mlp", "in_features": 4}, "task": task, "seeds": [0]},
    ]
    cells = load_matrix(_matrix(tmp_path, experiments=experiments, seeds=[0, 1, 2])).cells
    assert [(c.experiment, c.seed) for c in cells if c.policy == "linear-probe"] == [
        ("cheap", 0),
        ("cheap", 1),
        ("cheap", 2),
        ("costly", 0),
    ]


def test_an_experiment_may_use_its_own_label_budgets(tmp_path: Path) -> None:
    task = {"name": "vector-classification", "synthetic": {"classes": 2, "per_class": 8, "in_features": 4}}
    experiments = [
        {"name": "a", "source": {"name": "toy:mlp", "in_features": 4}, "task": task},
        {"name": "b", "source": {"name": "toy:mlp", "in_features": 4}, "task": task, "label_budgets": [6]},
    ]
    cells = load_matrix(_matrix(tmp_path, experiments=experiments, seeds=[0], label_budgets=[2, 4])).cells
    assert [(c.experiment, c.budget) for c in cells if c.policy == "linear-probe"] == [("a", 2), ("a", 4), ("b", 6)]


def test_objects_from_before_the_cells_are_left_out_of_full_collections_while_they_run(
    tmp_path: Path, extra_plugin: Any
) -> None:
    import gc

    class Frozen:
        def __init__(self) -> None:
            self.counts: list[int] = []

        @hookimpl
        def headstart_on_run_start(self, run: Any) -> None:
            self.counts.append(gc.get_freeze_count())

    frozen = Frozen()
    extra_plugin(frozen, "frozen")
    run_matrix(load_matrix(toy_matrix(tmp_path, seeds=[0, 1])), echo=lambda *_: None)
    assert len(frozen.counts) == 2 and all(n > 1000 for n in frozen.counts)  # what existed before
    assert gc.get_freeze_count() == 0  # all back afterwards
    (tmp_path / "again").mkdir()
    gc.freeze()  # a caller that froze objects itself keeps them frozen
    try:
        count = gc.get_freeze_count()
        run_matrix(load_matrix(toy_matrix(tmp_path / "again")), echo=lambda *_: None)
        assert gc.get_freeze_count() > count // 2  # not unfrozen by the matrix (some were freed since)
    finally:
        gc.unfreeze()
