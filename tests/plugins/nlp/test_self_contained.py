"""A run with small (delta) checkpoints needs its source's pretrained weights to load; without
them ``headstart.load`` says so in one line, and ``headstart export RUN_DIR --to full`` makes the
run directory self-contained: it then loads and predicts the same with the source's model folder
and the training data moved away."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

import headstart
from headstart import ConfigError
from headstart.cli import main
from headstart.engine.checkpoint import is_delta

from .conftest import sentiment_files

Run = Callable[..., tuple[Path, dict[str, Any]]]
TEXTS = ["the movie was great", "the plot was awful", "it was fine"]


def test_a_lora_run_needs_its_source_or_a_full_export(
    run_nlp: Run, tiny_bert: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "bert"
    shutil.copytree(tiny_bert, model)
    data = sentiment_files(tmp_path / "data", {"train": 32, "val": 8})
    run_dir, _ = run_nlp(
        {"name": f"hf:{model}"},
        {"name": "text-classification", "data": data, "max_length": 12},
        {"name": "lora", "rank": 4},
        epochs=2,
        lr=1e-2,
    )
    assert is_delta(run_dir / "checkpoints" / "best")
    expected = headstart.load(run_dir, device="cpu").predict(TEXTS, top_k=2)

    shutil.move(model, tmp_path / "away")  # the source's weights are gone: one clear line
    with pytest.raises(ConfigError) as caught:
        headstart.load(run_dir, device="cpu")
    message = str(caught.value)
    assert "\n" not in message and f"source 'hf:{model}'" in message
    assert f"headstart export {run_dir} --to full" in message
    shutil.move(tmp_path / "away", model)

    assert main(["export", str(run_dir), "--to", "full"]) == 0  # where the source is
    assert "max abs difference 0.00e+00" in capsys.readouterr().out
    assert not is_delta(run_dir / "checkpoints" / "best") and not is_delta(run_dir / "checkpoints" / "last")
    shutil.rmtree(model)
    shutil.rmtree(tmp_path / "data")
    predictor = headstart.load(run_dir, device="cpu")
    got = predictor.predict(TEXTS, top_k=2)
    assert [r["label"] for r in got] == [r["label"] for r in expected]
    for a, b in zip(got, expected, strict=True):
        assert a["score"] == pytest.approx(b["score"], abs=1e-6)
    with torch.no_grad():  # the stand-in source from inference/source/ carries every weight now
        assert all(torch.isfinite(p).all() for p in predictor.model.parameters())
