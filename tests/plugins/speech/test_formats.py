"""LibriSpeech, Common Voice, audio-folder and audio-csv readers on trees in their real layouts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from headstart import DataError, get_registry
from headstart_speech.formats import split_locations

from .conftest import write_common_voice, write_librispeech


def test_librispeech_tree_is_read_with_transcripts_and_speakers(tmp_path: Path, spoken: dict[str, np.ndarray]) -> None:
    split = write_librispeech(
        tmp_path / "LibriSpeech",
        "train-clean-100",
        [(19, 198, "yes", spoken["yes"]), (19, 198, "no", spoken["no"]), (26, 495, "up down", spoken["up"])],
    )
    rows = get_registry().dataset_format("librispeech").read(str(split))
    assert [(r["speaker"], r["chapter"], r["transcript"]) for r in rows] == [
        ("19", "198", "YES"),
        ("19", "198", "NO"),
        ("26", "495", "UP DOWN"),
    ]
    assert rows[0]["path"].endswith("train-clean-100/19/198/19-198-0000.flac") and Path(rows[0]["path"]).is_file()
    assert rows[2]["_where"].endswith("26/495/26-495.trans.txt:1")
    assert sf.info(rows[0]["path"]).format == "FLAC"


def test_librispeech_errors_name_the_file_and_line(tmp_path: Path, spoken: dict[str, np.ndarray]) -> None:
    split = write_librispeech(tmp_path, "dev-clean", [(19, 198, "yes", spoken["yes"])])
    trans = split / "19" / "198" / "19-198.trans.txt"
    trans.write_text("19-198-0000 YES\n20-1-0001 WRONG SPEAKER\n")
    with pytest.raises(DataError, match=r"19-198\.trans\.txt:2: utterance id '20-1-0001' should start with 19-198-"):
        get_registry().dataset_format("librispeech").read(str(split))
    with pytest.raises(DataError, match="holds the splits dev-clean: name one of them"):
        get_registry().dataset_format("librispeech").read(str(tmp_path))


def test_common_voice_release_with_mp3_clips(tmp_path: Path, spoken: dict[str, np.ndarray]) -> None:
    base = write_common_voice(
        tmp_path / "cv-corpus-17.0",
        "en",
        {
            "train": [("Yes!", spoken["yes"], 16_000), ('He said "no".', spoken["no"], 16_000)],
            "dev": [("Up.", spoken["up"], 16_000)],
            "test": [("Down?", spoken["down"], 16_000)],
        },
    )
    rows = get_registry().dataset_format("common-voice").read(str(base / "train.tsv"))
    assert [r["transcript"] for r in rows] == ["Yes!", 'He said "no".']  # quotes are text in Common Voice
    assert (
        rows[0]["path"] == str(base / "clips" / "common_voice_en_000000.mp3")
        and sf.info(rows[0]["path"]).format == "MP3"
    )
    assert rows[1]["_where"] == f"{base / 'train.tsv'}:3" and rows[1]["speaker"] == "speaker1"
    assert split_locations("common-voice", base) == {
        "train": str(base / "train.tsv"),
        "val": str(base / "dev.tsv"),
        "test": str(base / "test.tsv"),
    }
    (base / "bad.tsv").write_text("client_id\tfile\tsentence\nx\ta.mp3\thi\n")
    with pytest.raises(DataError, match=r"bad\.tsv: missing column\(s\) path"):
        get_registry().dataset_format("common-voice").read(str(base / "bad.tsv"))


def test_audio_folder_and_csv(tmp_path: Path, spoken: dict[str, np.ndarray]) -> None:
    for split in ("train", "val"):
        for word in ("yes", "no"):
            (tmp_path / "kws" / split / word).mkdir(parents=True)
            sf.write(tmp_path / "kws" / split / word / "a.wav", spoken[word], 16_000)
            sf.write(tmp_path / "kws" / split / word / "b.ogg", spoken[word], 16_000)
    rows = get_registry().dataset_format("audio-folder").read(str(tmp_path / "kws" / "train"))
    assert sorted((Path(r["path"]).name, r["label"]) for r in rows) == [
        ("a.wav", "no"), ("a.wav", "yes"), ("b.ogg", "no"), ("b.ogg", "yes"),
    ]  # fmt: skip
    assert set(split_locations("audio-folder", tmp_path / "kws")) == {"train", "val"}

    (tmp_path / "train.csv").write_text("path,transcript\nkws/train/yes/a.wav,yes\nkws/train/no/b.ogg,no\n")
    rows = get_registry().dataset_format("audio-csv").read(str(tmp_path / "train.csv"))
    assert rows[1]["path"] == str(tmp_path / "kws/train/no/b.ogg") and rows[1]["transcript"] == "no"
    assert rows[1]["_where"] == f"{tmp_path / 'train.csv'}:3"
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no audio files"):
        get_registry().dataset_format("audio-folder").read(str(tmp_path / "empty"))
