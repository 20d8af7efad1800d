"""Speech recognition and audio classification tasks: vocabulary, decoding, metrics, data checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from headstart import ConfigError, DataError, UnknownNameError, get_registry, load_config
from headstart.experiment import build
from headstart_speech.classification import AudioClassification
from headstart_speech.metrics import cer, wer
from headstart_speech.recognition import SpeechRecognition
from headstart_speech.vocab import CharVocabulary, normalize_text

from .conftest import ta_source


def test_wer_and_cer_are_registered_lower_is_better() -> None:
    registry = get_registry()
    assert registry.metric("wer").higher_is_better is False and registry.metric("cer").higher_is_better is False
    assert wer(["the cat sat"], ["the cat sat down"]) == pytest.approx(1 / 4)
    assert wer(["a b", "c"], ["a x", "c"]) == pytest.approx(1 / 3)
    assert cer(["kitten"], ["sitting"]) == pytest.approx(3 / 7)


def test_vocabulary_and_greedy_ctc_decoding() -> None:
    assert normalize_text("  Hello, World!  It's ") == "hello world it's"
    vocab = CharVocabulary.from_texts(["ab a", "ba"])
    assert vocab.chars == [" ", "a", "b"] and len(vocab) == 4
    ids, unknown = vocab.encode("abz a")
    assert vocab.decode(ids) == "ab a" and unknown == {"z": 1}
    path = [0, 2, 2, 0, 2, 3, 3, 1, 1, 2, 0, 0]  # blank a a blank a b b ' ' ' ' a blank blank
    logits = torch.nn.functional.one_hot(torch.tensor([path]), 4).float()
    assert vocab.greedy(logits, torch.tensor([len(path)])) == ["aab a"]
    assert vocab.greedy(logits, torch.tensor([4])) == ["a"]  # only real frames are decoded


def _csv_corpus(root: Path, spoken: dict[str, np.ndarray], splits: dict[str, list[str]]) -> dict[str, str]:
    out = {}
    for split, words in splits.items():
        lines = ["path,transcript"]
        for i, word in enumerate(words):
            sf.write(root / f"{split}{i}.wav", spoken.get(word, spoken["yes"]), 16_000)
            lines.append(f"{split}{i}.wav,{word}")
        (root / f"{split}.csv").write_text("\n".join(lines) + "\n")
        out[split] = str(root / f"{split}.csv")
    return out


def test_unknown_characters_in_val_are_reported_not_fatal(
    tmp_path: Path, spoken: dict[str, np.ndarray], ta_checkpoint: Path
) -> None:
    data = _csv_corpus(tmp_path, spoken, {"train": ["yes", "no", "up"], "val": ["down", "Zoë"]})
    task = SpeechRecognition(data=data, format="audio-csv")
    source = get_registry().source(**ta_source(ta_checkpoint))
    task.prepare(source)
    assert "".join(task.vocab.chars) == "enopsuy"  # type: ignore[union-attr]
    summary = task.summary()
    assert summary["unknown_characters"]["val"] == {"d": 1, "w": 1, "z": 1, "ë": 1}
    batch = task.collate([task.dataset("val", False)[i] for i in range(2)])
    assert batch["references"] == ["down", "zoë"]  # references keep every character: WER / CER count them
    assert batch["target_lengths"].tolist() == [2, 1]  # "on" of down, "o" of zoë
    head = task.build_head(source.output_spec)
    outputs = head(source.forward(batch["inputs"]))
    loss = task.loss(outputs, batch)
    assert torch.isfinite(loss)
    preds, _ = task.predictions(outputs, batch)
    assert len(preds) == 2 and all(isinstance(p, str) for p in preds)


def test_given_vocabulary_and_errors(tmp_path: Path, spoken: dict[str, np.ndarray], ta_checkpoint: Path) -> None:
    data = _csv_corpus(tmp_path, spoken, {"train": ["yes", "no"]})
    task = SpeechRecognition(data=data, vocabulary="abcdefghijklmnopqrstuvwxyz' ")
    task.prepare(get_registry().source(**ta_source(ta_checkpoint)))
    assert len(task.vocab) == 29  # type: ignore[arg-type]
    with pytest.raises(UnknownNameError, match="librispeech"):
        SpeechRecognition(data=data, format="librispeach")
    with pytest.raises(ValueError, match="not both"):
        SpeechRecognition(data=data, synthesize={"words": ["a"]})
    with pytest.raises(ConfigError, match=r"task\.synthesize\.engine"):
        SpeechRecognition(synthesize={"engine": "festival"})


def test_audio_classification_reads_an_audio_folder(keyword_folder: Path, hf_dir: Path) -> None:
    task = AudioClassification(data=str(keyword_folder))
    source = get_registry().source(f"hf:{hf_dir}")
    task.prepare(source)
    assert task.labels == ["down", "no", "up", "yes"] and task.splits() == ["train", "val", "test"]
    assert task.summary()["splits"]["train"]["examples"] == 16
    batch = task.collate([task.dataset("train", True)[i] for i in range(3)])
    logits = task.build_head(source.output_spec)(source.forward(batch["inputs"]))
    assert logits.shape == (3, 4) and torch.isfinite(task.loss(logits, batch))

    stray = keyword_folder.parent / "stray"
    (stray / "train" / "yes").mkdir(parents=True, exist_ok=True)
    (stray / "val" / "maybe").mkdir(parents=True, exist_ok=True)
    first = next((keyword_folder / "train" / "yes").iterdir())
    sf.write(stray / "train" / "yes" / "a.wav", sf.read(first)[0], 16_000)
    sf.write(stray / "val" / "maybe" / "b.wav", sf.read(first)[0], 16_000)
    with pytest.raises(DataError, match=r"maybe/b\.wav: label 'maybe' is not among the training labels \(yes\)"):
        AudioClassification(data=str(stray)).prepare(source)


def test_speech_task_refuses_a_non_speech_source(write_config, keyword_folder: Path) -> None:  # type: ignore[no-untyped-def]
    config = {
        "source": {"name": "toy:mlp"},
        "task": {"name": "audio-classification", "data": str(keyword_folder)},
        "policy": {"name": "linear-probe"},
    }
    with pytest.raises(ConfigError, match="task audio-classification needs a speech source"):
        build(load_config(write_config(config)))
