"""Bad or surprising input becomes the value the user meant, or one clear line."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from headstart import get_registry
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


def _example(name: str, tmp_path: Path) -> dict[str, Any]:
    """Task ``name``'s contract example (its tiny data written under ``tmp_path``) as an experiment."""
    config = get_registry().task_type(name).factory.contract_example(tmp_path)
    return {**config, "task": {**config["task"], "name": name}}


def _refused(config: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str], **task: Any) -> str:
    """Run ``config`` with ``task`` options added, expect exit 2 and return the one error line."""
    config = {k: v for k, v in config.items() if k != "inputs"}
    config.update(
        task={**config["task"], **task},
        policy="linear-probe",
        trainer={"epochs": 1, "batch_size": 2, "progress": False, "device": "cpu"},
    )
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    capsys.readouterr()
    assert main(["run", str(path), "--run-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("headstart: error: "), err
    assert not (tmp_path / "run" / "checkpoints" / "last").exists()
    return err


@pytest.mark.parametrize(
    ("name", "empty", "expected", "fix"),
    [
        ("image-classification", "blue", "class folder 'blue' has no images", "remove it or add images"),
        ("audio-classification", "maybe", "class folder 'maybe' has no audio files", "add recordings or remove"),
    ],
)
def test_an_empty_class_folder_is_refused(
    name: str, empty: str, expected: str, fix: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _example(name, tmp_path)
    folder = Path(config["task"]["data"]) / "train" / empty  # a class of the example (emptied) or a new one
    if folder.is_dir():
        shutil.rmtree(folder)
    folder.mkdir()
    err = _refused(config, tmp_path, capsys)
    assert f"{folder}: {expected}" in err and fix in err


def test_an_image_class_whose_every_training_image_is_unreadable_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``skip_bad`` leaves unreadable images out; a class it empties is refused, not dropped."""
    config = _example("image-classification", tmp_path)
    for image in (Path(config["task"]["data"]) / "train" / "blue").iterdir():
        image.write_bytes(b"not a png")
    err = _refused(config, tmp_path, capsys, skip_bad=True)
    assert f"{config['task']['data']}: no training examples of class 'blue'" in err
    assert "every training image of it is unreadable" in err


def test_an_audio_label_without_training_recordings_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _example("audio-classification", tmp_path)
    err = _refused(config, tmp_path, capsys, labels=["yes", "no", "maybe"])
    train = Path(config["task"]["data"]) / "train"
    assert f"{train}: no training examples of class 'maybe'" in err and "remove it from task.labels" in err


def test_a_tag_type_without_training_words_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _example("token-classification", tmp_path)
    labels = ["O", "B-PER", "I-PER", "B-LOC", "B-ORG", "I-ORG", "B-MISC", "I-MISC"]  # I-LOC unused: fine
    err = _refused(config, tmp_path, capsys, labels=labels)
    assert f"{config['task']['data']['train']}: no training examples of tag 'MISC' (tags: PER, LOC, ORG, MISC)" in err
