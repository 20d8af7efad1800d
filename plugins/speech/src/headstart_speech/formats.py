"""Dataset formats for speech: LibriSpeech, Common Voice, a folder of labelled audio, CSV.

Each reader takes one split's location and returns examples ``{"path": <absolute audio path>,
…, "_where": "<file>:<line>"}``; audio is not opened here (tasks check and decode it, so a bad
file can be skipped and counted). :func:`split_locations` finds the splits under a dataset root.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from headstart import DataError, DatasetFormat, read_csv, require_columns

from . import contract

#: File endings read as audio (anything soundfile decodes).
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".mp3", ".opus", ".aiff", ".aif", ".au")

Example = dict[str, Any]


def _dir(path: str | Path, what: str) -> Path:
    p = Path(path).expanduser()
    if not p.is_dir():
        raise DataError(f"{p}: no such directory (expected {what})")
    return p


def read_librispeech(path: str | Path) -> list[Example]:
    """One LibriSpeech split, ``<split>/<speaker>/<chapter>/<speaker>-<chapter>-<utt>.flac`` with
    ``<speaker>-<chapter>.trans.txt`` (lines ``<speaker>-<chapter>-<utt> TRANSCRIPT``) beside them."""
    root = _dir(path, "a LibriSpeech split directory such as LibriSpeech/train-clean-100")
    transcripts = sorted(root.glob("*/*/*.trans.txt"))
    if not transcripts:
        nested = sorted(p.name for p in root.iterdir() if p.is_dir() and any(p.glob("*/*/*.trans.txt")))
        hint = f"; it holds the splits {', '.join(nested)}: name one of them" if nested else ""
        raise DataError(f"{root}: no <speaker>/<chapter>/<speaker>-<chapter>.trans.txt files{hint}")
    out: list[Example] = []
    for trans in transcripts:
        speaker, chapter = trans.parent.parent.name, trans.parent.name
        expected = f"{speaker}-{chapter}"
        if trans.name != f"{expected}.trans.txt":
            raise DataError(f"{trans}: expected the name {expected}.trans.txt in {speaker}/{chapter}/")
        for i, line in enumerate(trans.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            utt, _, text = line.strip().partition(" ")
            where = f"{trans}:{i}"
            if not utt.startswith(expected + "-"):
                raise DataError(f"{where}: utterance id {utt!r} should start with {expected}-")
            audio = next(
                (trans.parent / f"{utt}{s}" for s in (".flac", ".wav") if (trans.parent / f"{utt}{s}").exists()), None
            )
            out.append(
                {
                    "path": str(audio or trans.parent / f"{utt}.flac"),
                    "transcript": text.strip(),
                    "speaker": speaker,
                    "chapter": chapter,
                    "id": utt,
                    "_where": where,
                }
            )
    return out


def read_common_voice(path: str | Path) -> list[Example]:
    """One Common Voice split file (``<root>/<lang>/train.tsv``, ``dev.tsv``, ``test.tsv`` …) with
    ``path`` and ``sentence`` columns; audio in ``clips/`` beside it. Quotes are literal text."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise DataError(f"{p}: no such file (expected a Common Voice split such as <root>/en/train.tsv)")
    clips = p.parent / "clips"
    out: list[Example] = []
    with p.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        for row in reader:
            where = f"{p}:{reader.line_num}"
            if None in row or any(v is None for v in row.values()):
                raise DataError(f"{where}: expected {len(reader.fieldnames or [])} tab-separated fields")
            row["_where"] = where
            out.append(row)
    if not out:
        raise DataError(f"{p}: no examples")
    require_columns(out, ["path", "sentence"], p)
    for row in out:
        row["path"] = str(clips / row["path"])
        row["transcript"] = row["sentence"]
        row.setdefault("speaker", row.get("client_id", ""))
    return out


def read_audio_folder(path: str | Path) -> list[Example]:
    """``<dir>/<label>/**/<file>.wav|flac|ogg|mp3``: one label per sub-directory (ImageFolder-style)."""
    root = _dir(path, "a directory with one sub-directory of audio files per label")
    out: list[Example] = []
    for label_dir in sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")):
        files = sorted(f for f in label_dir.rglob("*") if f.is_file() and f.suffix.lower() in AUDIO_SUFFIXES)
        if not files:
            raise DataError(
                f"{label_dir}: class folder {label_dir.name!r} has no audio files ({', '.join(AUDIO_SUFFIXES)}); "
                "add recordings or remove the folder"
            )
        out.extend({"path": str(f), "label": label_dir.name, "_where": str(f)} for f in files)
    if not out:
        raise DataError(
            f"{root}: no audio files ({', '.join(AUDIO_SUFFIXES)}) in its label sub-directories "
            "(expected <dir>/<label>/<file>)"
        )
    return out


def read_audio_csv(path: str | Path) -> list[Example]:
    """A CSV file with a ``path`` column (relative to the CSV's directory, or absolute) and
    ``transcript`` or ``label`` (any other columns are kept)."""
    rows = read_csv(path)
    require_columns(rows, ["path"], path)
    base = Path(path).expanduser().parent
    for row in rows:
        row["path"] = str(base / row["path"].strip())
    return rows


# Tiny example datasets for Headstart's contract kit (docs/testing-plugins.md); the engine never calls them.
read_librispeech.contract_example = contract.example_librispeech  # type: ignore[attr-defined]
read_common_voice.contract_example = contract.example_common_voice  # type: ignore[attr-defined]
read_audio_folder.contract_example = contract.example_audio_folder  # type: ignore[attr-defined]
read_audio_csv.contract_example = contract.example_audio_csv  # type: ignore[attr-defined]

FORMATS = (
    DatasetFormat("librispeech", read_librispeech, "LibriSpeech: <split>/<speaker>/<chapter>/*.flac + *.trans.txt"),
    DatasetFormat(
        "common-voice", read_common_voice, "Common Voice: <lang>/{train,dev,test}.tsv (path, sentence) + clips/"
    ),
    DatasetFormat("audio-folder", read_audio_folder, "labelled audio: <split>/<label>/<file> (ImageFolder-style)"),
    DatasetFormat("audio-csv", read_audio_csv, "CSV with path,transcript or path,label (paths relative to the CSV)"),
)

_SPLIT_ALIASES = {"train": ("train",), "val": ("val", "valid", "validation", "dev"), "test": ("test",)}


def _pick(root: Path, split: str, candidates: list[Path], fmt: str) -> Path | None:
    if len(candidates) > 1:
        names = ", ".join(c.name for c in candidates)
        raise DataError(f"{root}: several {split} candidates for {fmt} ({names}); give data as {{{split}: <path>}}")
    return candidates[0] if candidates else None


def split_locations(fmt: str, root: str | Path) -> dict[str, str]:
    """Where each split of a dataset root is, for the formats of this module.

    librispeech: sub-directories named ``train*``, ``dev*`` (val), ``test*``; common-voice:
    ``train.tsv``, ``dev.tsv``, ``test.tsv``; audio-folder: ``train/``, ``val/`` (or ``dev/``,
    ``valid/``), ``test/``; audio-csv: ``train.csv``, ``val.csv`` (or ``dev.csv``), ``test.csv``.
    """
    r = _dir(root, f"a {fmt} dataset root")
    found: dict[str, Path | None] = {}
    for split, names in _SPLIT_ALIASES.items():
        if fmt == "librispeech":
            prefix = "dev" if split == "val" else split
            cands = [d for d in sorted(r.iterdir()) if d.is_dir() and re.match(rf"{prefix}([-_].*)?$", d.name)]
        elif fmt == "common-voice":
            cands = [r / f"{n}.tsv" for n in names if (r / f"{n}.tsv").is_file()]
        elif fmt == "audio-folder":
            cands = [r / n for n in names if (r / n).is_dir()]
        elif fmt == "audio-csv":
            cands = [r / f"{n}.csv" for n in names if (r / f"{n}.csv").is_file()]
        else:
            raise DataError(f"data = {r}: a dataset root is only understood for {', '.join(f.name for f in FORMATS)}")
        found[split] = _pick(r, split, cands, fmt)
    out = {s: str(p) for s, p in found.items() if p is not None}
    if "train" not in out:
        raise DataError(f"{r}: no train split found for format {fmt} (see the guide for each format's split names)")
    return out


def reader(fmt: str) -> Callable[[str], list[Example]]:
    """The ``read`` function of a registered dataset format (this plugin's or another's)."""
    from headstart import get_registry

    return get_registry().dataset_format(fmt).read  # type: ignore[no-any-return]
