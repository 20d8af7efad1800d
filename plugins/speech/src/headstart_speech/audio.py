"""Reading audio files and turning waveforms into a model's input batch.

Files are decoded with soundfile (libsndfile: WAV, FLAC, OGG/Vorbis, MP3 …), mixed down to mono,
resampled to the source's rate with torchaudio's sinc resampler, normalised the way the source's
feature extractor prescribes, and padded per batch with an attention mask. Every failure raises
:class:`headstart.DataError` naming the file.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import torch

from headstart import DataError

#: Sample rates the resampler accepts, in Hz; anything outside cannot be turned into speech input.
MIN_RATE, MAX_RATE = 1_000, 384_000


@dataclass(frozen=True)
class AudioInfo:
    """What a file's header says, read without decoding the samples."""

    path: str
    frames: int
    sample_rate: int
    channels: int

    @property
    def seconds(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def probe(path: str | Path) -> AudioInfo:
    """Header facts of ``path``; DataError when the file is missing, unreadable or empty."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: no such audio file")
    try:
        info = sf.info(str(p))
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise DataError(f"{p}: not a readable audio file ({exc}); soundfile reads WAV, FLAC, OGG and MP3") from None
    frames = int(info.frames)
    if frames <= 0 and p.suffix.lower() == ".mp3":  # MP3 headers may not carry a frame count
        frames = len(_decode(p)[0])
    if frames <= 0:
        raise DataError(f"{p}: empty audio file (0 samples)")
    return AudioInfo(str(p), frames, int(info.samplerate), int(info.channels))


def check_rate(path: str | Path, rate: int, target: int) -> None:
    """DataError when ``rate`` cannot be resampled to ``target``."""
    if not MIN_RATE <= rate <= MAX_RATE:
        raise DataError(
            f"{path}: sample rate {rate} Hz can't be resampled to {target} Hz "
            f"(supported rates: {MIN_RATE}–{MAX_RATE} Hz)"
        )


def _decode(path: Path) -> tuple[np.ndarray, int]:
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise DataError(f"{path}: could not decode audio ({exc})") from None
    return data, int(rate)


@functools.lru_cache(maxsize=16)
def _resampler(orig: int, new: int) -> Any:
    import torchaudio

    return torchaudio.transforms.Resample(orig, new)


def resample(wave: torch.Tensor, orig: int, new: int, path: str | Path = "<waveform>") -> torch.Tensor:
    """``wave`` (1-D) from ``orig`` Hz to ``new`` Hz with torchaudio's windowed-sinc resampler."""
    if orig == new:
        return wave
    check_rate(path, orig, new)
    try:
        with torch.no_grad():
            return _resampler(orig, new)(wave.unsqueeze(0)).squeeze(0)  # type: ignore[no-any-return]
    except RuntimeError as exc:
        raise DataError(f"{path}: sample rate {orig} Hz can't be resampled to {new} Hz ({exc})") from None


def load(path: str | Path, sample_rate: int) -> torch.Tensor:
    """A mono float32 waveform of ``path`` at ``sample_rate`` Hz, shape ``[samples]``."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: no such audio file")
    data, rate = _decode(p)
    if data.size == 0:
        raise DataError(f"{p}: empty audio file (0 samples)")
    wave = torch.from_numpy(np.ascontiguousarray(data.mean(axis=1)))  # mono mix-down
    wave = resample(wave, rate, sample_rate, p)
    if not torch.isfinite(wave).all():
        raise DataError(f"{p}: audio contains NaN or infinite samples")
    return wave


@dataclass
class AudioPreprocessor:
    """What a speech source needs from raw audio, taken from its feature extractor / bundle.

    * ``sample_rate``: the rate the model was trained at; files are resampled to it.
    * ``normalize``: zero-mean, unit-variance per utterance (over its real samples) before padding.
    * ``attention_mask``: whether the model takes an attention mask (HF wav2vec2-base style models
      with group-norm feature encoders are trained on zero padding without one).
    * ``padding_value``: the value padded samples get.
    * ``min_samples``: the shortest input the convolutional feature encoder accepts (one frame).
    """

    sample_rate: int = 16_000
    normalize: bool = False
    attention_mask: bool = True
    padding_value: float = 0.0
    min_samples: int = 400
    eps: float = 1e-7

    def load(self, path: str | Path) -> torch.Tensor:
        """Decode, mix down and resample ``path`` (see :func:`load`)."""
        return load(path, self.sample_rate)

    def collate(self, waves: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        """``{"input_values": [B, T], "attention_mask": [B, T] (long), "lengths": [B]}``."""
        if not waves:
            raise ValueError("cannot collate an empty list of waveforms")
        lengths = torch.tensor([max(len(w), self.min_samples) for w in waves], dtype=torch.long)
        batch = torch.full((len(waves), int(lengths.max())), self.padding_value, dtype=torch.float32)
        mask = torch.zeros(batch.shape, dtype=torch.long)
        for i, w in enumerate(waves):
            w = w.float()
            if self.normalize:
                w = (w - w.mean()) / torch.sqrt(w.var(unbiased=False) + self.eps)
            batch[i, : len(w)] = w
            if len(w) < self.min_samples:  # too short for one frame: pad with silence, keep it real
                batch[i, len(w) : self.min_samples] = 0.0
            mask[i, : lengths[i]] = 1
        return {"input_values": batch, "attention_mask": mask, "lengths": lengths}

    def describe(self) -> dict[str, Any]:
        return {
            "sample_rate": self.sample_rate,
            "normalize": self.normalize,
            "attention_mask": self.attention_mask,
            "padding_value": self.padding_value,
        }
