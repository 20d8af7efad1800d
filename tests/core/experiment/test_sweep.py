"""Sweeps in a matrix: every configuration is a set of cells; the report chooses on validation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from headstart import ConfigError
from headstart.experiment.lr import AUTO_FACTORS
from headstart.experiment.matrix import dry_run, load_matrix, run_matrix
from headstart.experiment.records import RunRecord
from headstart.experiment.report import aggregate, find_runs, markdown_table

from ..conftest import TOY_EXPERIMENT, toy_matrix


def _matrix(tmp_path: Path, **extra: Any) -> Path:
    """The toy matrix with the ``full`` policy."""
    return toy_matrix(tmp_path, **{"policies": ["full"], **extra})


def test_a_sweep_expands_into_configurations_globally_and_per_policy(tmp_path: Path) -> None:
    path = _matrix(
        tmp_path,
        policies=["full", {"name": "discriminative", "sweep": {"policy.decay": [0.5, 0.9]}}],
        sweep={"trainer.lr": [0.001, 0.01]},
        seeds=[0, 1],
    )
    matrix = load_matrix(path)
    full = [c for c in matrix.cells if c.policy == "full"]
    disc = [c for c in matrix.cells if c.policy == "discriminative"]
    assert len(full) == 2 * 2 and len(disc) == 2 * 2 * 2
    cell = next(c for c in disc if dict(c.sweep) == {"policy.decay": 0.5, "trainer.lr": 0.01} and c.seed == 1)
    assert cell.config["policy"] == {"name": "discriminative", "decay": 0.5}
    assert cell.config["trainer"]["lr"] == 0.01
    assert cell.meta()["sweep"] == {"policy.decay": 0.5, "trainer.lr": 0.01}
    assert cell.run_dir.name == "a__discriminative__policy.decay-0.5-trainer.lr-0.01__s1"
    lines: list[str] = []
    dry_run(matrix, echo=lines.append)
    assert any("discriminative × policy.decay=0.5 × trainer.lr=0.01 × seed 1" in line for line in lines)


def test_the_dry_run_plans_each_configuration_of_a_sweep_with_its_own_values(tmp_path: Path) -> None:
    from headstart.experiment.build import build
    from headstart.experiment.config import parse_config

    path = _matrix(
        tmp_path,
        trainer={"epochs": 4},
        policies=[{"name": "gradual-unfreeze", "every": 1, "sweep": {"policy.every": [1, 2]}}],
        seeds=[0, 1],
    )
    matrix = load_matrix(path)
    # the entry's `every: 1` is swept: the label does not claim it (a report row chosen at every=2 would)
    assert {c.policy for c in matrix.cells} == {"gradual-unfreeze"}
    rows = dry_run(matrix, echo=lambda line: None)
    assert len(rows) == len(matrix.cells) == 4
    for cell, row in zip(matrix.cells, rows, strict=True):
        own = build(parse_config(cell.config)).plans()  # what the cell itself will train
        assert row["trainable"] == {p.phase.name: p.trainable_numel for p in own}, cell.label
    every = {row["sweep"]["policy.every"]: tuple(row["trainable"]) for row in rows}
    assert len(every[1]) > len(every[2])  # unfreezing every 2 epochs makes fewer phases in 4 epochs


def test_a_bad_sweep_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"sweep: 'lr' must be a dotted key"):
        load_matrix(_matrix(tmp_path, sweep={"lr": [1]}))
    with pytest.raises(ConfigError, match=r"sweep.trainer.lr: expected a non-empty list"):
        load_matrix(_matrix(tmp_path, sweep={"trainer.lr": 0.1}))
    with pytest.raises(ConfigError, match=r"full × trainer.lr=-1: trainer"):
        load_matrix(_matrix(tmp_path, sweep={"trainer.lr": [-1]}))


def test_a_misspelt_policy_or_task_key_stops_the_matrix_before_its_first_cell(tmp_path: Path) -> None:
    """Policy and task options are checked for every cell when the matrix is read, not when the
    cell comes up (after the cells before it have trained)."""
    policies = ["full", {"name": "gradual-unfreeze", "sweep": {"policy.evry": [1, 2]}}]
    with pytest.raises(
        ConfigError, match=r"gradual-unfreeze × policy.evry=1: policy.evry: unknown key \(did you mean 'every'"
    ):
        load_matrix(_matrix(tmp_path, policies=policies))
    with pytest.raises(ConfigError, match=r"policy.name: unknown policy 'gradual-unfrez'"):
        load_matrix(_matrix(tmp_path, policies=["full", "gradual-unfrez"]))
    with pytest.raises(ConfigError, match=r"policy: .*decay"):  # a value the policy refuses
        load_matrix(_matrix(tmp_path, policies=[{"name": "discriminative", "decay": -1}]))
    experiment = {**TOY_EXPERIMENT, "task": {**TOY_EXPERIMENT["task"], "max_per_clas": 3}}
    with pytest.raises(ConfigError, match=r"task.max_per_clas: unknown key \(did you mean 'max_per_class'"):
        load_matrix(_matrix(tmp_path, experiments=[experiment]))
    assert not (tmp_path / "out").exists()  # nothing ran


def _record(sweep: dict[str, Any], seed: int, val: float, test: float) -> RunRecord:
    summary = {
        "best": {"value": val},
        "final": {"val_accuracy": val},
        "test": {"accuracy": test},
        "trainable_params_max": 1,
        "total_params": 1,
        "wall_time_s": 1.0,
        "peak_memory_mb": 1.0,
    }
    return RunRecord(Path(f"r{seed}{sweep}"), "a", "full", seed, None, "accuracy", summary, [], sweep)


def test_the_report_chooses_on_validation_not_on_test() -> None:
    records = [
        _record({"trainer.lr": 0.1}, 0, val=0.90, test=0.50),
        _record({"trainer.lr": 0.1}, 1, val=0.80, test=0.52),
        _record({"trainer.lr": 0.01}, 0, val=0.70, test=0.95),
        _record({"trainer.lr": 0.01}, 1, val=0.80, test=0.97),
    ]
    (row,) = aggregate(records)
    assert row["chosen"] == {"trainer.lr": 0.1} and row["configs"] == 2 and row["seeds"] == 2
    assert row["test_mean"] == pytest.approx(0.51)
    assert "| a | all | full | trainer.lr=0.1 (of 2) | accuracy | 2 |" in markdown_table([row])


def test_a_swept_matrix_runs_resumes_and_reports_the_chosen_configuration(tmp_path: Path) -> None:
    path = _matrix(
        tmp_path,
        sweep={"trainer.lr": [1e-7, 0.05]},
        base={"trainer": {"epochs": 2, "batch_size": 8, "progress": False, "monitor": "loss"}},
    )
    results = run_matrix(load_matrix(path), echo=lambda *_: None)
    assert len(results) == 2
    losses = {dict(c.sweep)["trainer.lr"]: s["best"]["value"] for c, s in results}
    lines: list[str] = []
    run_matrix(load_matrix(path), echo=lines.append)  # finished cells are not run again
    assert sum("finished earlier" in line for line in lines) == 2
    (row,) = aggregate(find_runs([tmp_path / "out"]))
    assert row["chosen"] == {"trainer.lr": min(losses, key=lambda lr: losses[lr])}


def test_the_trial_runs_of_lr_auto_are_not_reported_as_runs(tmp_path: Path) -> None:
    """A cell at ``trainer.lr: auto`` keeps its trial runs under ``lr-trials/``: they are part of
    the cell, not one more configuration of its group (nor runs of a report on one run)."""
    path = _matrix(tmp_path, sweep={"trainer.lr": ["auto", 0.01]}, seeds=[0, 1])
    results = run_matrix(load_matrix(path), echo=lambda *_: None)
    auto = next(c.run_dir for c, _ in results if dict(c.sweep)["trainer.lr"] == "auto")
    assert len(list((auto / "lr-trials").iterdir())) == len(AUTO_FACTORS)  # the trials ran, as runs of their own
    records = find_runs([tmp_path / "out"])
    assert sorted(r.run_dir for r in records) == sorted(c.run_dir for c, _ in results)
    (row,) = aggregate(records)
    assert row["configs"] == 2 and row["seeds"] == 2
    assert [r.run_dir for r in find_runs([auto])] == [auto]


def test_the_cells_of_a_matrix_share_one_feature_cache(tmp_path: Path) -> None:
    path = _matrix(
        tmp_path, policies=[{"name": "linear-probe", "solver": "sgd"}], sweep={"trainer.lr": [0.01, 0.1]}, seeds=[0, 1]
    )
    matrix = load_matrix(path)
    assert {c.config["trainer"]["feature_cache_dir"] for c in matrix.cells} == {str(tmp_path / "out" / "feature_cache")}
    results = run_matrix(matrix, echo=lambda *_: None)
    # the toy source's random weights depend on the seed (pretrained ones would not): once per seed
    for seed in (0, 1):
        caches = [s["feature_cache"] for c, s in results if c.seed == seed]
        assert caches == [{"computed": 3, "reused_from_disk": 0}, {"computed": 0, "reused_from_disk": 3}]
