"""Trained speech runs (CTC and audio classification, hf: and torchaudio: sources) predict and
evaluate on their own, after their data and source files are moved away."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import torch

import headstart
from headstart import DataError, parse_config, run_experiment

from .conftest import ta_source

TRAINER = {"batch_size": 8, "progress": False, "log_every": 1, "device": "cpu", "epochs": 1}


def _run(tmp_path: Path, source: dict[str, Any], task: dict[str, Any]) -> Path:
    config = {"name": "p", "seed": 0, "source": source, "task": task, "policy": {"name": "full"}, "trainer": TRAINER}
    return run_experiment(parse_config(config), tmp_path / "run")[0]


def test_audio_classification_from_an_hf_source(tmp_path: Path, hf_dir: Path, keyword_folder: Path) -> None:
    model = tmp_path / "model"
    shutil.copytree(hf_dir, model)
    data = tmp_path / "data"
    shutil.copytree(keyword_folder, data)
    run_dir = _run(tmp_path, {"name": f"hf:{model}"}, {"name": "audio-classification", "data": str(data)})
    test = tmp_path / "kept"
    shutil.copytree(data / "test", test)
    shutil.rmtree(data)
    shutil.rmtree(model)
    predictor = headstart.load(run_dir, device="cpu")
    assert predictor.labels == ["down", "no", "up", "yes"]
    files = sorted(test.rglob("*.wav"))
    out = predictor.predict(files, top_k=4, batch_size=3)
    assert len(out) == len(files) and all(r["label"] in predictor.labels and len(r["top_k"]) == 4 for r in out)
    wave = predictor.task.predict_example(files[0])
    with torch.no_grad():
        probs = predictor.model(predictor.task.predict_collate([wave])["inputs"]).softmax(-1)[0]
    # (batched with padding, a wav2vec2-base-style model without attention mask sees the padding)
    alone = predictor.predict(files[0])
    assert alone["score"] == pytest.approx(float(probs.max()), abs=1e-5)
    assert predictor.predict(wave)["score"] == pytest.approx(alone["score"], abs=1e-6)  # a waveform
    metrics = predictor.evaluate(test)
    assert metrics["examples"] == len(files) and {"accuracy", "macro-f1"} <= set(metrics)
    with pytest.raises(DataError, match=r"nothing\.wav"):
        predictor.predict([tmp_path / "nothing.wav"])


def test_speech_recognition_from_a_torchaudio_source(tmp_path: Path, ta_checkpoint: Path, word_corpus: Path) -> None:
    run_dir = _run(
        tmp_path,
        ta_source(ta_checkpoint, pretrained=True, mask_time_prob=0.0),
        {"name": "speech-recognition", "format": "librispeech", "data": str(word_corpus)},
    )
    predictor = headstart.load(run_dir, device="cpu")
    assert "".join(predictor.task.vocab.chars) == "denopsuwy"
    files = sorted((word_corpus / "test-synth").rglob("*.flac"))[:3]
    out = predictor.predict(files)
    assert all(isinstance(r["transcript"], str) and set(r["transcript"]) <= set(" denopsuwy") for r in out)
    metrics = predictor.evaluate(word_corpus / "test-synth")
    assert {"cer", "wer"} <= set(metrics) and metrics["examples"] == 12
