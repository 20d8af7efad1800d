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
import torch
import yaml

#: A reduced torchaudio wav2vec 2.0 (the ``architecture`` option of ``torchaudio:WAV2VEC2_BASE``).
TINY_ARCH: dict[str, Any] = {
    "extractor_conv_layer_config": [
        [16, 10, 5],
        [16, 3, 2],
        [16, 3, 2],
        [16, 3, 2],
        [16, 3, 2],
        [16, 2, 2],
        [16, 2, 2],
    ],
    "encoder_embed_dim": 32,
    "encoder_num_layers": 2,
    "encoder_num_heads": 2,
    "encoder_ff_interm_features": 64,
    "encoder_pos_conv_kernel": 16,
    "encoder_pos_conv_groups": 4,
}

#: Words of the small test corpus.
WORDS = ["yes", "no", "up", "down"]


def _tiny_hf_config(kind: str) -> Any:
    from transformers import HubertConfig, Wav2Vec2Config, WavLMConfig

    cls = {"wav2vec2": Wav2Vec2Config, "hubert": HubertConfig, "wavlm": WavLMConfig}[kind]
    return cls(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        conv_dim=(16,) * 7,
        conv_stride=(5, 2, 2, 2, 2, 2, 2),
        conv_kernel=(10, 3, 3, 3, 3, 2, 2),
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=4,
        num_buckets=16,
        max_bucket_distance=64,
    )


@pytest.fixture(scope="session")
def hf_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny wav2vec2 / HuBERT / WavLM saved with ``save_pretrained`` (+ a feature extractor)."""
    from transformers import AutoModel, Wav2Vec2FeatureExtractor

    root = tmp_path_factory.mktemp("hf")
    out = {}
    for kind in ("wav2vec2", "hubert", "wavlm"):
        torch.manual_seed(0)
        model = AutoModel.from_config(_tiny_hf_config(kind))
        model.save_pretrained(root / kind)
        Wav2Vec2FeatureExtractor(do_normalize=True, return_attention_mask=kind != "wav2vec2").save_pretrained(
            root / kind
        )
        out[kind] = root / kind
    return out


@pytest.fixture(scope="session")
def hf_dir(hf_dirs: dict[str, Path]) -> Path:
    return hf_dirs["wav2vec2"]


@pytest.fixture(scope="session")
def ta_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A torchaudio state dict of ``WAV2VEC2_BASE`` reduced to :data:`TINY_ARCH`."""
    import torchaudio.pipelines as pipelines
    from torchaudio.models import wav2vec2_model

    params = {**pipelines.WAV2VEC2_BASE._params, **TINY_ARCH}
    torch.manual_seed(1)
    path = tmp_path_factory.mktemp("torchaudio") / "wav2vec2_tiny.pth"
    torch.save(wav2vec2_model(**params).state_dict(), path)
    return path


def ta_source(checkpoint: Path, **extra: Any) -> dict[str, Any]:
    """Source section for the tiny torchaudio checkpoint."""
    return {"name": "torchaudio:WAV2VEC2_BASE", "checkpoint": str(checkpoint), "architecture": TINY_ARCH, **extra}


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
