"""Audio input: decoding, mono mix-down, resampling, normalisation, padding, bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from headstart import DataError
from headstart_speech.audio import AudioPreprocessor, load, probe
from headstart_speech.data import AudioItem, check_split


def _tone(seconds: float, rate: int, hz: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


@pytest.mark.parametrize("fmt", ["WAV", "FLAC", "OGG", "MP3"])
def test_formats_are_decoded_mixed_down_and_resampled(tmp_path: Path, fmt: str) -> None:
    stereo = np.stack([_tone(0.5, 8_000), -_tone(0.5, 8_000) * 0.5], axis=1)  # left + right = half the left
    path = tmp_path / f"a.{fmt.lower()}"
    sf.write(path, stereo, 8_000, format=fmt)
    wave = load(path, 16_000)
    assert wave.ndim == 1 and wave.dtype == torch.float32
    assert abs(len(wave) - 8_000) <= 1200  # 0.5 s at 16 kHz (MP3 adds encoder padding)
    peak = float(wave.abs().max())
    assert 0.1 < peak < 0.16, peak  # (0.5 - 0.25) / 2: the mean of the channels, not one of them


def test_preprocessor_normalises_pads_and_masks() -> None:
    pre = AudioPreprocessor(16_000, normalize=True, min_samples=400)
    batch = pre.collate([torch.full((1000,), 3.0) + torch.randn(1000), torch.randn(600) * 5, torch.randn(100)])
    assert batch["input_values"].shape == (3, 1000)
    assert batch["lengths"].tolist() == [1000, 600, 400]  # too short for one frame: padded to 400
    assert batch["attention_mask"].sum(1).tolist() == [1000, 600, 400]
    first = batch["input_values"][0]
    assert abs(float(first.mean())) < 1e-4 and abs(float(first.std()) - 1) < 1e-2
    assert (batch["input_values"][1, 600:] == 0).all()


def _items(paths: list[Path]) -> list[AudioItem]:
    return [AudioItem(str(p), 0, f"list.csv:{i + 2}") for i, p in enumerate(paths)]


def test_bad_files_raise_naming_the_file_or_are_skipped_and_counted(tmp_path: Path) -> None:
    good = tmp_path / "good.wav"
    sf.write(good, _tone(0.5, 16_000), 16_000)
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, dtype=np.float32), 16_000)
    garbage = tmp_path / "garbage.flac"
    garbage.write_bytes(b"this is not audio at all")
    slow = tmp_path / "slow.wav"
    sf.write(slow, _tone(2.0, 500, 50), 500)  # 500 Hz: can't be resampled to speech rate
    missing = tmp_path / "missing.wav"
    pre = AudioPreprocessor(16_000)
    for bad, message in [
        (empty, "empty audio file"),
        (garbage, "not a readable audio file"),
        (slow, "sample rate 500 Hz can't be resampled to 16000 Hz"),
        (missing, "no such audio file"),
    ]:
        with pytest.raises(DataError, match=message) as err:
            check_split(
                _items([good, bad]), pre, split="train", min_seconds=0.0, max_seconds=10, skip_bad=False, cache=True
            )
        assert str(bad) in str(err.value) and "list.csv:3" in str(err.value) and "skip_bad" in str(err.value)

    kept, report, waves = check_split(
        _items([good, empty, garbage, slow, missing]), pre, split="train", min_seconds=0.0, max_seconds=10,
        skip_bad=True, cache=True,
    )  # fmt: skip
    assert [k.path for k in kept] == [str(good)]
    assert sum(report.skipped.values()) == 4 and len(report.skipped) == 4
    assert report.as_dict()["skipped_files"] == [str(empty), str(garbage), str(slow), str(missing)]
    assert waves is not None and len(waves[0]) == 8000


def test_length_limits_have_a_clear_message(tmp_path: Path) -> None:
    long = tmp_path / "long.wav"
    sf.write(long, _tone(3.0, 16_000), 16_000)
    pre = AudioPreprocessor(16_000)
    with pytest.raises(DataError, match=r"long\.wav: 3\.0 s of audio is longer than max_seconds = 2\.0"):
        check_split(_items([long]), pre, split="train", min_seconds=0.0, max_seconds=2.0, skip_bad=False, cache=None)
    with pytest.raises(DataError, match=r"shorter than min_seconds = 5\.0"):
        check_split(_items([long]), pre, split="train", min_seconds=5.0, max_seconds=None, skip_bad=False, cache=None)
    assert probe(long).seconds == pytest.approx(3.0)
