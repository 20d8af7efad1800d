"""Fixtures for the speech plugin: tiny wav2vec 2.0-family models saved in the real on-disk
formats (a Hugging Face directory, a torchaudio state dict), spoken words made with espeak-ng,
and writers of LibriSpeech / Common Voice trees in their real layouts."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import yaml

from headstart_speech.contract import TINY_ARCH, save_tiny_hf, save_tiny_torchaudio, torchaudio_section

__all__ = ["TINY_ARCH", "WORDS", "ta_source", "write_common_voice", "write_librispeech"]

#: Words of the small test corpus.
WORDS = ["yes", "no", "up", "down"]


@pytest.fixture(scope="session")
def hf_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny wav2vec2 / HuBERT / WavLM saved with ``save_pretrained`` (+ a feature extractor)."""
    root = tmp_path_factory.mktemp("hf")
    return {kind: save_tiny_hf(root / kind, kind) for kind in ("wav2vec2", "hubert", "wavlm")}


@pytest.fixture(scope="session")
def hf_dir(hf_dirs: dict[str, Path]) -> Path:
    return hf_dirs["wav2vec2"]


@pytest.fixture(scope="session")
def ta_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A torchaudio state dict of ``WAV2VEC2_BASE`` reduced to :data:`TINY_ARCH`."""
    return save_tiny_torchaudio(tmp_path_factory.mktemp("torchaudio") / "wav2vec2_tiny.pth")


#: Source section for the tiny torchaudio checkpoint.
ta_source = torchaudio_section


@pytest.fixture(scope="session")
def speech_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is not installed; `make install` installs plugins/speech/apt-packages.txt")
    return tmp_path_factory.mktemp("speech-cache")


@pytest.fixture(scope="session")
def word_corpus(speech_cache: Path) -> Path:
    """A LibriSpeech tree of :data:`WORDS` spoken by espeak-ng (made by the plugin's synthesizer)."""
    from headstart_speech.synth import synthesize

    fmt, root = synthesize(
        "transcripts", words=WORDS, per_word={"train": 10, "val": 3, "test": 3}, seed=0, cache_dir=str(speech_cache)
    )
    assert fmt == "librispeech"
    return Path(root)


@pytest.fixture(scope="session")
def keyword_folder(speech_cache: Path) -> Path:
    """An audio folder (``train/val/test/<word>/*.wav``) of :data:`WORDS` spoken by flite."""
    from headstart_speech.synth import synthesize

    fmt, root = synthesize(
        "labels",
        engine="flite",
        words=WORDS,
        per_word={"train": 4, "val": 2, "test": 2},
        seed=3,
        cache_dir=str(speech_cache),
    )
    assert fmt == "audio-folder"
    return Path(root)


@pytest.fixture(scope="session")
def spoken(word_corpus: Path) -> dict[str, np.ndarray]:
    """One 16 kHz waveform per word, taken from the corpus."""
    out = {}
    for trans in sorted((word_corpus / "train-synth").glob("*/*/*.trans.txt")):
        for line in trans.read_text().splitlines():
            utt, word = line.split(" ", 1)
            out.setdefault(word.lower(), sf.read(trans.parent / f"{utt}.flac", dtype="float32")[0])
    return out


def write_librispeech(root: Path, split: str, utterances: list[tuple[int, int, str, np.ndarray]]) -> Path:
    """``<root>/<split>/<speaker>/<chapter>/<speaker>-<chapter>-<utt>.flac`` + ``.trans.txt``."""
    lines: dict[Path, list[str]] = {}
    for n, (speaker, chapter, text, wave) in enumerate(utterances):
        folder = root / split / str(speaker) / str(chapter)
        folder.mkdir(parents=True, exist_ok=True)
        utt = f"{speaker}-{chapter}-{n:04d}"
        sf.write(folder / f"{utt}.flac", wave, 16_000)
        lines.setdefault(folder / f"{speaker}-{chapter}.trans.txt", []).append(f"{utt} {text.upper()}")
    for path, content in lines.items():
        path.write_text("\n".join(content) + "\n", encoding="utf-8")
    return root / split


def write_common_voice(root: Path, lang: str, splits: dict[str, list[tuple[str, np.ndarray, int]]]) -> Path:
    """``<root>/<lang>/{train,dev,test}.tsv`` (client_id, path, sentence, …) + ``clips/*.mp3``."""
    base = root / lang
    (base / "clips").mkdir(parents=True, exist_ok=True)
    n = 0
    for split, rows in splits.items():
        lines = ["client_id\tpath\tsentence\tup_votes\tdown_votes\tage\tgender\taccent"]
        for sentence, wave, rate in rows:
            name = f"common_voice_{lang}_{n:06d}.mp3"
            sf.write(base / "clips" / name, wave, rate, format="MP3")
            lines.append(f"speaker{n % 3}\t{name}\t{sentence}\t2\t0\ttwenties\t\t")
            n += 1
        (base / f"{split}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return base


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[[dict[str, Any], str], Path]:
    def write(config: dict[str, Any], name: str = "exp.yaml") -> Path:
        path = tmp_path / name
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        return path

    return write
