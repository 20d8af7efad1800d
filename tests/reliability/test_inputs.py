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
