"""Bad or surprising input becomes the value the user meant, or one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from headstart.cli import main
from headstart.experiment.config import load_config

from .conftest import tiny_config


def test_yes_and_no_stay_labels_in_files_and_overrides(tmp_path: Path) -> None:
    """YAML 1.1 reads ``yes`` / ``no`` / ``on`` / ``off`` as booleans; labels must stay strings."""
    config = tiny_config()
    text = yaml.safe_dump(config) + "\n"
    path = tmp_path / "exp.yaml"
    path.write_text(text.replace("task:\n", "task:\n  labels: [yes, no, maybe]\n", 1), encoding="utf-8")
    assert load_config(path).task["labels"] == ["yes", "no", "maybe"]
    overridden = load_config(path, ["task.labels=[yes,no,on,off]", "trainer.progress=false"])
    assert overridden.task["labels"] == ["yes", "no", "on", "off"]
    assert overridden.trainer.progress is False  # true / false are still booleans


def test_an_unknown_policy_lists_the_valid_policies(experiment: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", str(experiment), "--set", "policy.name=lora-ish"]) == 2
    err = capsys.readouterr().err
    assert "unknown policy 'lora-ish'" in err and "Valid policies: " in err and "policys" not in err


def test_a_class_without_training_examples_is_refused(
    tiny_bert: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``labels: [yes, no, maybe]`` with no ``maybe`` row would train a class it never sees."""
    train = tmp_path / "train.csv"
    rows = [f"{'good fun' if i % 2 else 'awful dull'},{'yes' if i % 2 else 'no'}" for i in range(8)]
    train.write_text("text,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    config = {
        "source": {"name": f"hf:{tiny_bert}"},
        "task": {"name": "text-classification", "data": {"train": str(train)}, "labels": ["yes", "no", "maybe"]},
        "policy": "linear-probe",
        "trainer": {"epochs": 1, "batch_size": 4, "progress": False, "device": "cpu"},
    }
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    assert main(["run", str(path), "--run-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert f"{train}: no training examples of class 'maybe'" in err and "remove it from task.labels" in err
