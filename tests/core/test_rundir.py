"""RunDir names every file of a run directory; slug is the one rule for names in paths."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from headstart import RunDir, slug
from headstart.experiment.config import parse_config
from headstart.experiment.matrix import load_matrix
from headstart.experiment.run import new_run_dir


def test_file_names_are_the_documented_layout(tmp_path: Path) -> None:
    files = RunDir(tmp_path / "run")
    assert files.path == tmp_path / "run"
    assert files.config == tmp_path / "run" / "config.yaml"
    assert files.metrics == tmp_path / "run" / "metrics.jsonl"
    assert files.metrics_csv == tmp_path / "run" / "metrics.csv"
    assert files.steps == tmp_path / "run" / "steps.jsonl"
    assert files.summary == tmp_path / "run" / "summary.json"
    assert files.cell == tmp_path / "run" / "cell.json"
    assert files.checkpoints == tmp_path / "run" / "checkpoints"
    assert files.last == tmp_path / "run" / "checkpoints" / "last"
    assert files.best == files.checkpoint("best") == tmp_path / "run" / "checkpoints" / "best"
    assert files.feature_cache == tmp_path / "run" / "feature_cache"
    assert files.lock == tmp_path / "run" / ".lock"
    assert files.inference == tmp_path / "run" / "inference.json"
    assert files.inference_source == tmp_path / "run" / "inference" / "source"
    assert RunDir(str(tmp_path)) == RunDir(tmp_path)
    assert str(files) == str(tmp_path / "run")


def test_bad_checkpoint_kind_names_the_choices(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"checkpoint = 'first'; valid: last, best"):
        RunDir(tmp_path).checkpoint("first")  # type: ignore[arg-type]


def test_started_and_finished(tmp_path: Path) -> None:
    files = RunDir(tmp_path)
    assert not files.is_run() and not files.is_finished()
    files.config.write_text("{}\n")
    assert files.is_run() and not files.is_finished()
    files.summary.write_text("{}\n")
    assert files.is_finished()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cifar10", "cifar10"),
        ("timm:resnet18+image-classification", "timm-resnet18-image-classification"),
        ("top-k(k=2)", "top-k-k-2"),
        ("my_task", "my-task"),  # "_" is a separator in run and cell directory names
        ("v1.2", "v1.2"),
        ("--x--", "x"),
        ("", "run"),
        ("///", "run"),
    ],
)
def test_slug(text: str, expected: str) -> None:
    assert slug(text) == expected


def test_run_and_cell_directories_use_the_one_slug(tmp_path: Path) -> None:
    config = parse_config(
        {
            "name": "my_exp",
            "output_dir": str(tmp_path),
            "source": {"name": "toy:mlp"},
            "task": {"name": "vector-classification", "synthetic": {}},
            "policy": {"name": "top-k", "k": 1},
        }
    )
    assert new_run_dir(config).name.endswith("_my-exp_top-k")
    matrix_file = tmp_path / "m.yaml"
    matrix_file.write_text(
        yaml.safe_dump(
            {
                "output_dir": str(tmp_path / "m"),
                "experiments": [
                    {
                        "name": "my_exp",
                        "source": {"name": "toy:mlp"},
                        "task": {"name": "vector-classification", "synthetic": {}},
                    }
                ],
                "policies": [{"name": "top-k", "k": 1}],
            }
        )
    )
    (cell,) = load_matrix(matrix_file).cells
    assert cell.run_dir == tmp_path / "m" / f"{slug('my_exp')}__{slug('top-k(k=1)')}__s0"
    assert cell.run_dir.name == "my-exp__top-k-k-1__s0"
