"""Checking a split's audio files and serving them as a dataset.

:func:`check_split` opens every file's header (and, when the split is cached, decodes it), so an
unreadable or empty file, one whose sample rate can't be resampled, or one outside the length
limits is found before training starts: it raises :class:`headstart.DataError` naming the file
and where it was listed, or — with ``skip_bad`` — is left out and counted by reason.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from headstart import DataError

from .audio import AudioPreprocessor, check_rate, probe

#: A split is kept in memory when its audio is shorter than this (``cache_audio: null``).
AUTO_CACHE_SECONDS = 3600.0


@dataclass
class AudioItem:
    """One usable example: its audio file, its target, where it was listed, and its reference."""

    path: str
    target: Any
    where: str
    reference: Any = None
    seconds: float = 0.0


@dataclass
class SplitReport:
    """What checking a split found: how many examples were kept and why others were skipped."""

    kept: int = 0
    seconds: float = 0.0
    skipped: Counter[str] = field(default_factory=Counter)
    skipped_files: list[str] = field(default_factory=list)
    not_selected: int = 0

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"examples": self.kept, "hours": round(self.seconds / 3600, 4)}
        if self.not_selected:
            out["not_selected"] = self.not_selected
        if self.skipped:
            out["skipped"] = dict(self.skipped)
            out["skipped_files"] = self.skipped_files[:20]
        return out


def _reason(message: str) -> str:
    """The part of an error message that says what is wrong, without the file (for counting)."""
    text = message.split(": ", 1)[-1] if ": " in message else message
    return re.sub(r"\(.*\)$", "", re.sub(r"\d+(\.\d+)?", "N", text)).strip()


def check_split(
    items: list[AudioItem],
    preprocessor: AudioPreprocessor,
    *,
    split: str,
    min_seconds: float,
    max_seconds: float | None,
    skip_bad: bool,
    cache: bool | None,
    select: Callable[[list[AudioItem]], list[AudioItem]] | None = None,
) -> tuple[list[AudioItem], SplitReport, dict[int, torch.Tensor] | None]:
    """The usable items of a split, a report, and the decoded waveforms when the split is cached.

    ``select`` picks which of the usable items to keep (a label budget) before any is decoded;
    the ones it leaves out are counted in ``report.not_selected``."""
    report = SplitReport()
    kept: list[AudioItem] = []
    rate = preprocessor.sample_rate

    def bad(item: AudioItem, exc: DataError) -> None:
        message = str(exc)
        if not skip_bad:
            where = item.where if item.where != item.path else ""
            raise DataError(
                f"{message}{f' (listed at {where})' if where else ''}; set skip_bad: true to leave bad files out"
            ) from None
        report.skipped[_reason(message)] += 1
        report.skipped_files.append(item.path)

    for item in items:
        try:
            info = probe(item.path)
            check_rate(item.path, info.sample_rate, rate)
            if info.seconds < min_seconds:
                raise DataError(
                    f"{item.path}: {info.seconds:.3f} s of audio is shorter than min_seconds = {min_seconds}"
                )
            if max_seconds is not None and info.seconds > max_seconds:
                raise DataError(
                    f"{item.path}: {info.seconds:.1f} s of audio is longer than max_seconds = {max_seconds} "
                    "(raise max_seconds, or cut the recording)"
                )
        except DataError as exc:
            bad(item, exc)
            continue
        item.seconds = info.seconds
        kept.append(item)
    if select is not None:
        chosen = select(kept)
        report.not_selected = len(kept) - len(chosen)
        kept = chosen
    report.seconds = sum(item.seconds for item in kept)

    waves: dict[int, torch.Tensor] | None = None
    if cache or (cache is None and report.seconds <= AUTO_CACHE_SECONDS):
        waves = {}
        decoded: list[AudioItem] = []
        for item in kept:
            try:
                waves[len(decoded)] = preprocessor.load(item.path)
            except DataError as exc:
                bad(item, exc)
                report.seconds -= item.seconds
                continue
            decoded.append(item)
        kept = decoded
    report.kept = len(kept)
    if not kept:
        raise DataError(f"split {split!r}: no usable audio ({dict(report.skipped) or 'no examples'})")
    return kept, report, waves


class AudioDataset(torch.utils.data.Dataset[tuple[torch.Tensor, AudioItem]]):
    """``(waveform, item)`` pairs; waveforms from the cache or decoded on access."""

    def __init__(
        self, items: list[AudioItem], preprocessor: AudioPreprocessor, waves: dict[int, torch.Tensor] | None
    ) -> None:
        self.items = items
        self.preprocessor = preprocessor
        self.waves = waves

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, AudioItem]:
        item = self.items[index]
        if self.waves is not None:
            return self.waves[index], item
        return self.preprocessor.load(item.path), item
