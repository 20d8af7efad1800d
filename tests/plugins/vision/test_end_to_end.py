"""End to end on real pretrained weights: EfficientNet-Lite0 (ImageNet) on scikit-learn's digits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from headstart import parse_config, run_experiment
from headstart.cli import main

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "vision-efficientnet-digits.yaml"

# Measured on CPU with the converged probe (L-BFGS, L2 by 5-fold cross-validation on train: the
# task has no val split), 5 training images per class, 48 px, test 359 images. ImageNet weights vs
# a random initialisation, seeds 0 / 1 / 2: 0.772 vs 0.685, 0.783 vs 0.646, 0.825 vs 0.755 (gaps
# 0.087 / 0.137 / 0.070). The digits are easy for a converged probe even on random convolutional
# features, and the gap closes as labels grow (10 per class, seed 0: 0.850 vs 0.808; 20 per class,
# before cross-validation: 0.88 vs 0.84), so the test compares at 5 per class, where the gap is
# real; the bounds keep headroom under the smallest measured values. (These figures are from the
# cross-validation on held-out accuracy; the test passes as well with the held-out loss it uses now.)
MIN_PRETRAINED_ACCURACY = 0.70
MIN_MARGIN = 0.05
PER_CLASS = 5


def digits_probe(digits: Path, tmp_path: Path, pretrained: bool) -> dict[str, Any]:
    config = parse_config(
        {
            "name": f"digits-{'pretrained' if pretrained else 'random'}",
            "seed": 0,
            "output_dir": str(tmp_path / "runs"),
            "source": {"name": "timm:tf_efficientnet_lite0", "pretrained": pretrained},
            "task": {
                "name": "image-classification",
                "data": str(digits),
                "split": {"val": 0.0, "test": 0.2},
                "max_per_class": PER_CLASS,
                "image_size": 48,
                "augment": False,
            },
            "policy": {"name": "linear-probe"},
            "trainer": {"epochs": 3, "batch_size": 32, "lr": 3e-3, "weight_decay": 0.0, "device": "cpu"},
        }
    )
    return run_experiment(config)[1]


@pytest.mark.slow
def test_imagenet_weights_beat_a_random_initialisation_under_the_same_budget(digits_tree: Path, tmp_path: Path) -> None:
    pretrained = digits_probe(digits_tree, tmp_path, pretrained=True)
    random = digits_probe(digits_tree, tmp_path, pretrained=False)
    assert pretrained["source"]["weights"]["source"] == "local"
    assert random["source"]["weights"]["source"] == "random"
    assert pretrained["task"]["examples"] == {"train": 10 * PER_CLASS, "test": 359}
    assert pretrained["trainable_params_max"] == 1280 * 10 + 10  # linear probe: the head only
    assert pretrained["probe"]["linear-probe"]["chosen_by"].startswith("5-fold cross-validation")
    acc_pretrained, acc_random = pretrained["test"]["accuracy"], random["test"]["accuracy"]
    assert acc_pretrained >= MIN_PRETRAINED_ACCURACY, (acc_pretrained, acc_random)
    assert acc_pretrained - acc_random >= MIN_MARGIN, (acc_pretrained, acc_random)


@pytest.mark.slow
def test_example_config_plans_and_runs_offline(
    headstart_cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plan", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert "timm:tf_efficientnet_lite0" in out and "stage7" in out and "linear-probe" in out
    overrides = [
        "trainer.epochs=1",
        "trainer.max_steps_per_epoch=3",
        "task.split={val: 0.03, test: 0.03}",  # a smoke run: the full example takes a minute or two
        "task.max_per_class=10",
        f"output_dir={tmp_path / 'runs'}",
    ]
    assert main(["run", str(EXAMPLE), *[a for o in overrides for a in ("--set", o)]]) == 0
    assert "test:" in capsys.readouterr().out
    assert (headstart_cache / "datasets" / "digits-32px" / ".complete").is_file()  # builtin:digits, no prep step
