"""Tiny offline examples for Headstart's contract kit (``headstart.testing``, docs/testing-plugins.md).

The kit calls ``contract_example`` on the source providers, on the task
classes and ``read.contract_example`` on the dataset formats' readers; the engine never does. Each
writes what it needs under the ``tmp_path`` it is given, in the real on-disk formats: a reduced
wav2vec 2.0 saved with ``save_pretrained`` (Hugging Face) or as a torchaudio state dict, and short
tones written as LibriSpeech / Common Voice / audio-folder / CSV datasets. The speech tests use
the same tiny models (:data:`TINY_ARCH`, :func:`tiny_hf_config`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import torch

#: Sample rate of the example audio (that of every wav2vec 2.0-family model).
RATE = 16_000

#: A reduced torchaudio wav2vec 2.0 (the ``architecture`` option of ``torchaudio:WAV2VEC2_BASE``):
#: the base model's strides (50 frames a second) with 16 channels and 2 layers of width 32.
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

#: Words of the example transcripts and labels, each spoken as its own tone (Hz).
TONES = {"yes": 220.0, "no": 330.0, "up": 495.0, "down": 660.0}


def tiny_hf_config(kind: str = "wav2vec2") -> Any:
    """A transformers config of ``kind`` (wav2vec2, hubert, wavlm) as small as the architecture allows."""
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


def save_tiny_hf(directory: Path, kind: str = "wav2vec2", *, weights: bool = True, seed: int = 0) -> Path:
    """A tiny model directory as ``save_pretrained`` writes it (``config.json``, the weights unless
    ``weights`` is false, and ``preprocessor_config.json``)."""
    from transformers import AutoModel, Wav2Vec2FeatureExtractor

    cfg = tiny_hf_config(kind)
    if weights:
        torch.manual_seed(seed)
        AutoModel.from_config(cfg).save_pretrained(directory)
    else:
        cfg.save_pretrained(directory)
    Wav2Vec2FeatureExtractor(do_normalize=True, return_attention_mask=kind != "wav2vec2").save_pretrained(directory)
    return directory


def save_tiny_torchaudio(path: Path, *, seed: int = 1) -> Path:
    """A torchaudio state-dict file of ``WAV2VEC2_BASE`` reduced to :data:`TINY_ARCH`."""
    import torchaudio.pipelines as pipelines
    from torchaudio.models import wav2vec2_model

    torch.manual_seed(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(wav2vec2_model(**{**pipelines.WAV2VEC2_BASE._params, **TINY_ARCH}).state_dict(), path)
    return path


def torchaudio_section(checkpoint: Path, **extra: Any) -> dict[str, Any]:
    """The ``source`` section of the tiny torchaudio checkpoint."""
    return {"name": "torchaudio:WAV2VEC2_BASE", "checkpoint": str(checkpoint), "architecture": TINY_ARCH, **extra}


def tone(word: str, n: int = 0, seconds: float = 0.4) -> np.ndarray:
    """``seconds`` of the word's tone with a little seeded noise (``n`` varies it), float32 at 16 kHz."""
    t = np.arange(int(seconds * RATE)) / RATE
    rng = np.random.default_rng(n * 31 + len(word))
    wave = 0.5 * np.sin(2 * np.pi * TONES[word] * (1 + 0.02 * n) * t) + 0.02 * rng.standard_normal(t.size)
    return wave.astype(np.float32)


# --- datasets in their real layouts -------------------------------------------------------------


def write_librispeech(split_dir: Path, words: list[str]) -> Path:
    """One LibriSpeech split: ``<speaker>/<chapter>/<speaker>-<chapter>-<utt>.flac`` + ``.trans.txt``."""
    folder = split_dir / "19" / "198"
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for n, word in enumerate(words):
        utt = f"19-198-{n:04d}"
        sf.write(folder / f"{utt}.flac", tone(word, n), RATE)
        lines.append(f"{utt} {word.upper()}")
    (folder / "19-198.trans.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return split_dir


def write_audio_folder(root: Path, per_label: dict[str, int]) -> Path:
    """``<root>/<label>/<n>.wav``: ``per_label[label]`` recordings of each label's tone."""
    for word, count in per_label.items():
        (root / word).mkdir(parents=True, exist_ok=True)
        for n in range(count):
            sf.write(root / word / f"{n}.wav", tone(word, n), RATE)
    return root


def example_librispeech(tmp_path: Path) -> Path:
    return write_librispeech(tmp_path / "LibriSpeech" / "dev-clean", ["yes", "no", "up"])


def example_common_voice(tmp_path: Path) -> Path:
    base = tmp_path / "cv-corpus" / "en"
    (base / "clips").mkdir(parents=True, exist_ok=True)
    lines = ["client_id\tpath\tsentence\tup_votes\tdown_votes\tage\tgender\taccent"]
    for n, (word, sentence) in enumerate([("yes", "Yes!"), ("no", 'He said "no".')]):
        name = f"common_voice_en_{n:06d}.mp3"
        sf.write(base / "clips" / name, tone(word, n), RATE, format="MP3")
        lines.append(f"speaker{n}\t{name}\t{sentence}\t2\t0\ttwenties\t\t")
    (base / "train.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return base / "train.tsv"


def example_audio_folder(tmp_path: Path) -> Path:
    return write_audio_folder(tmp_path / "keywords" / "train", {"yes": 2, "no": 1})


def example_audio_csv(tmp_path: Path) -> Path:
    (tmp_path / "clips").mkdir(parents=True, exist_ok=True)
    lines = ["path,transcript"]
    for n, word in enumerate(["yes", "no"]):
        sf.write(tmp_path / "clips" / f"{n}.wav", tone(word, n), RATE)
        lines.append(f"clips/{n}.wav,{word}")
    (tmp_path / "train.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tmp_path / "train.csv"


# --- sources and tasks --------------------------------------------------------------------------


def hf_examples(tmp_path: Path) -> list[dict[str, Any]]:
    """A tiny wav2vec 2.0 with weights, and a tiny WavLM configuration with random weights."""
    return [
        {"name": f"hf:{save_tiny_hf(tmp_path / 'wav2vec2-tiny')}"},
        {"name": f"hf:{save_tiny_hf(tmp_path / 'wavlm-tiny', 'wavlm', weights=False)}", "pretrained": False},
    ]


def torchaudio_examples(tmp_path: Path) -> list[dict[str, Any]]:
    """The tiny checkpoint file, and the same architecture with random weights."""
    return [
        torchaudio_section(save_tiny_torchaudio(tmp_path / "wav2vec2_tiny.pth")),
        {"name": "torchaudio:WAV2VEC2_BASE", "pretrained": False, "architecture": TINY_ARCH},
    ]


def speech_recognition_example(tmp_path: Path) -> dict[str, Any]:
    """A LibriSpeech tree (4 / 2 / 2 utterances of one-word tones) and the tiny torchaudio model."""
    root = tmp_path / "LibriSpeech"
    write_librispeech(root / "train-clean-5", ["yes", "no", "up", "down"])
    write_librispeech(root / "dev-clean-2", ["up", "no"])
    write_librispeech(root / "test-clean-2", ["down", "yes"])
    return {
        "source": torchaudio_section(save_tiny_torchaudio(tmp_path / "wav2vec2_tiny.pth")),
        "task": {"data": str(root), "format": "librispeech"},
        "inputs": [str(p) for p in sorted((root / "test-clean-2").rglob("*.flac"))],
    }


def audio_classification_example(tmp_path: Path) -> dict[str, Any]:
    """An audio folder of two tones (3 / 2 / 2 each per split) and the tiny Hugging Face wav2vec 2.0."""
    root = tmp_path / "keywords"
    for split, n in (("train", 3), ("val", 2), ("test", 2)):
        write_audio_folder(root / split, {"yes": n, "no": n})
    return {
        "source": {"name": f"hf:{save_tiny_hf(tmp_path / 'wav2vec2-tiny')}"},
        "task": {"data": str(root), "format": "audio-folder"},
        "inputs": [str(p) for p in sorted((root / "test").rglob("*.wav"))],
    }
