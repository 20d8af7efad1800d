"""``headstart rank`` as docs/choosing-a-source.md shows it: real ImageNet weights against a random
initialisation of the same network, on scikit-learn's digits."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from headstart.cli import main

ROOT = Path(__file__).resolve().parents[3]
PRETRAINED = "{name: timm:tf_efficientnet_lite0, pretrained: true}"
RANDOM = "{name: timm:tf_efficientnet_lite0, pretrained: false}"


@pytest.mark.slow
def test_rank_prefers_imagenet_weights_to_a_random_init(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(ROOT / "examples" / "vision-efficientnet-digits.yaml", tmp_path)
    monkeypatch.chdir(tmp_path)
    argv = [
        "rank",
        "vision-efficientnet-digits.yaml",
        "--set",
        "task.max_per_class=20",
        "--sources",
        PRETRAINED,
        RANDOM,
    ]
    assert main(argv) == 0
    assert "| 1 | timm:tf_efficientnet_lite0(pretrained=True) | 1280 | 200 |" in capsys.readouterr().out
    rows = json.loads(Path("runs/rank/rank.json").read_text())["rows"]
    assert rows[0]["logme"] > rows[1]["logme"] and rows[0]["h_score"] > rows[1]["h_score"]
    assert len(list(Path("runs/feature_cache").glob("*.safetensors"))) == 2

    # the docs' next command: a linear probe on the ranked source reads the ranking's train features
    run = ["run", "vision-efficientnet-digits.yaml", "--set", "task.max_per_class=20"]
    assert main([*run, "--set", "trainer.feature_cache_dir=runs/feature_cache", "--run-dir", "runs/probe"]) == 0
    summary = json.loads(Path("runs/probe/summary.json").read_text())
    assert summary["feature_cache"]["reused_from_disk"] == 1
