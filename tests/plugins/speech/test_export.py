"""Speech runs exported to transformers (AutoModelForCTC + processor + pipeline,
AutoModelForAudioClassification) and ONNX, compared with Headstart's outputs."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

import headstart
from headstart import parse_config, run_experiment
from headstart.export import export

from .conftest import ta_source

#: each test trains a speech run and exports it (~40 s on 2 cores): in the full suite, not the quick tier
pytestmark = pytest.mark.slow

TOL = 1e-4
TRAINER = {"batch_size": 8, "progress": False, "log_every": 1, "device": "cpu", "epochs": 1}


def _run(tmp_path: Path, source: dict[str, object], task: dict[str, object]) -> Path:
    config = {"seed": 0, "source": source, "task": task, "policy": {"name": "full"}, "trainer": TRAINER}
    return run_experiment(parse_config(config), tmp_path / "run")[0]


def test_ctc_to_hf_with_a_processor_and_an_asr_pipeline(tmp_path: Path, hf_dir: Path, word_corpus: Path) -> None:
    from transformers import AutoModelForCTC, AutoProcessor, pipeline

    run_dir = _run(
        tmp_path,
        {"name": f"hf:{hf_dir}"},
        {"name": "speech-recognition", "format": "librispeech", "data": str(word_corpus)},
    )
    folder = export(run_dir, "hf")
    model = AutoModelForCTC.from_pretrained(folder).eval()
    processor = AutoProcessor.from_pretrained(folder)
    predictor = headstart.load(run_dir, device="cpu")
    file = sorted((word_corpus / "test-synth").rglob("*.flac"))[0]
    wave = predictor.task.predict_example(file)
    batch = predictor.task.predict_collate([wave])
    features = processor(wave.numpy(), sampling_rate=processor.feature_extractor.sampling_rate, return_tensors="pt")
    assert torch.allclose(features["input_values"], batch["inputs"]["input_values"], atol=1e-5)
    with torch.no_grad():
        theirs = model(features["input_values"]).logits
        ours, _ = predictor.model(batch["inputs"])
    assert float((theirs - ours).abs().max()) <= TOL
    ids = theirs.argmax(-1)[0].tolist()
    expected = predictor.predict(file)["transcript"]
    assert " ".join(processor.decode(ids).split()) == expected
    asr = pipeline("automatic-speech-recognition", model=str(folder))
    audio, rate = sf.read(file, dtype="float32")
    assert " ".join(asr({"raw": audio, "sampling_rate": rate})["text"].split()) == expected


def test_audio_classification_to_hf(tmp_path: Path, hf_dir: Path, keyword_folder: Path) -> None:
    from transformers import AutoFeatureExtractor, AutoModelForAudioClassification

    run_dir = _run(tmp_path, {"name": f"hf:{hf_dir}"}, {"name": "audio-classification", "data": str(keyword_folder)})
    folder = export(run_dir, "hf")
    model = AutoModelForAudioClassification.from_pretrained(folder).eval()
    extractor = AutoFeatureExtractor.from_pretrained(folder)
    predictor = headstart.load(run_dir, device="cpu")
    assert list(model.config.id2label.values()) == predictor.labels
    for file in sorted((keyword_folder / "test").rglob("*.wav"))[:3]:
        wave = predictor.task.predict_example(file)
        features = extractor(wave.numpy(), sampling_rate=extractor.sampling_rate, return_tensors="pt")
        with torch.no_grad():
            probs = model(**features).logits.softmax(-1)[0]
        got = predictor.predict(file)
        assert model.config.id2label[int(probs.argmax())] == got["label"]
        assert float(probs.max()) == pytest.approx(got["score"], abs=TOL)


def test_torchaudio_ctc_to_onnx_with_dynamic_length(tmp_path: Path, ta_checkpoint: Path, word_corpus: Path) -> None:
    import onnxruntime as ort

    source = ta_source(ta_checkpoint, pretrained=True, mask_time_prob=0.0)
    run_dir = _run(tmp_path, source, {"name": "speech-recognition", "format": "librispeech", "data": str(word_corpus)})
    shutil.rmtree(run_dir / "export", ignore_errors=True)
    folder = export(run_dir, "onnx")
    session = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    predictor = headstart.load(run_dir, device="cpu")
    files = sorted((word_corpus / "test-synth").rglob("*.flac"))[:3]
    batch = predictor.task.predict_collate([predictor.task.predict_example(f) for f in files])
    names = [i.name for i in session.get_inputs()]
    logits, lengths = session.run(None, {n: batch["inputs"][n].numpy() for n in names})
    with torch.no_grad():
        ours, our_lengths = predictor.model(batch["inputs"])
    assert np.abs(logits - ours.numpy()).max() <= TOL and (lengths == our_lengths.numpy()).all()
