"""Spoken words made offline with Debian's espeak-ng or flite, written in real dataset layouts.

:func:`synthesize` writes a corpus once into a cache directory keyed by its options and returns
``(format, root)``: a LibriSpeech tree (``kind="transcripts"``: ``train-synth/``,
``dev-synth/``, ``test-synth/`` with FLAC files and ``.trans.txt``) or a labelled audio folder
(``kind="labels"``: ``train/``, ``val/``, ``test/`` with ``<word>/*.wav``). Every utterance gets
its own voice, variant, speed and pitch drawn from ``seed``, so splits differ in delivery but
share the words. Two engines give a natural domain shift. The tasks' ``synthesize`` option and
the cross-domain demo call this function; so can anyone who wants the data on disk.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

import numpy as np
import soundfile as sf
import torch

from .audio import resample

VERSION = 2

#: Ten keywords (as in Speech Commands), the default word list for ``kind="labels"``.
KEYWORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")

#: Common English words (none of the keywords), the default word list for ``kind="transcripts"``.
COMMON_WORDS = tuple(
    """the of and to in is you that it he was for are as with his they at be this have from or one
    had by word but not what all were we when your can said there use an each which she do how their
    if will other about out many then them these so some her would make like him into time has look
    two more write see number way could people my than first water been call who oil its now find long
    day did get come made may part over new sound take only little work know place year live me back
    give most very after thing our just name good sentence man think say great where help through much
    before line too mean old any same tell boy follow came want show also around form three small set
    put end does another well large must big even such because turn here why ask went men read need land
    different home us move try kind hand picture again change play spell air away animal house point
    page letter mother answer found study still learn should world high every near add food between own
    below country plant last school father keep tree never start city earth eye light thought head under
    story saw far sea draw late run while press close night real life few north open seem together next
    white children begin got walk example ease paper group always music those both mark often until mile
    river car feet care second book carry took science eat room friend began idea fish mountain once base
    hear horse cut sure watch color face wood main enough plain girl usual young ready above ever red list
    though feel talk bird soon body dog family direct pose leave song measure door product black short""".split()
)

ESPEAK_VOICES = ("en-us", "en-gb", "en-gb-scotland", "en-029", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd")
ESPEAK_VARIANTS = ("", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5", "klatt", "klatt2")
FLITE_VOICES = ("kal", "kal16", "awb", "rms", "slt")

DEFAULT_SPLITS = {"train": 6, "val": 1, "test": 1}
_DIRS = {
    "transcripts": {"train": "train-synth", "val": "dev-synth", "test": "test-synth"},
    "labels": {"train": "train", "val": "val", "test": "test"},
}


def synth_options(
    words: list[str] | Literal["common", "keywords"] | None = None,
    engine: Literal["espeak-ng", "flite"] = "espeak-ng",
    per_word: dict[str, int] | None = None,
    voices: list[str] | None = None,
    seed: int = 0,
    sample_rate: int = 16_000,
    cache_dir: str | None = None,
) -> dict[str, Any]:
    """Options of :func:`synthesize` (and of the tasks' ``synthesize`` section).

    * ``words``: a list, ``common`` (about 300 common English words) or ``keywords`` (ten commands);
      default ``common`` for transcripts, ``keywords`` for labels.
    * ``engine``: ``espeak-ng`` or ``flite``; ``voices``: the engine's voices to draw from.
    * ``per_word``: utterances of each word per split (default ``{train: 6, val: 1, test: 1}``).
    * ``cache_dir``: where corpora live (default ``$HEADSTART_CACHE/speech`` or
      ``~/.cache/headstart/speech``).
    """
    return dict(locals())


def cache_root(cache_dir: str | None = None) -> Path:
    if cache_dir:
        return Path(cache_dir).expanduser()
    base = os.environ.get("HEADSTART_CACHE") or Path.home() / ".cache" / "headstart"
    return Path(base) / "speech"


def _engine_command(engine: str, voice: str, rng: random.Random, word: str, out: Path) -> tuple[list[str], str]:
    if engine == "espeak-ng":
        variant = rng.choice(ESPEAK_VARIANTS)
        name = f"{voice}+{variant}" if variant else voice
        speed, pitch = rng.randint(120, 200), rng.randint(25, 75)
        cmd = ["espeak-ng", "-v", name, "-s", str(speed), "-p", str(pitch), "-w", str(out), word]
        return cmd, f"{name} s{speed} p{pitch}"
    stretch, f0 = round(rng.uniform(0.8, 1.3), 2), rng.randint(90, 180)
    cmd = ["flite", "-voice", voice, "--setf", f"duration_stretch={stretch}", "--setf", f"int_f0_target_mean={f0}"]
    return [*cmd, "-t", word, "-o", str(out)], f"{voice} x{stretch} f{f0}"


def speak(engine: str, voice: str, word: str, rng: random.Random, sample_rate: int) -> tuple[np.ndarray, str]:
    """One spoken ``word`` as a float32 waveform at ``sample_rate``, and a description of the voice."""
    if shutil.which(engine) is None:
        raise RuntimeError(
            f"{engine} is not installed; `make install` installs it (Debian: apt-get install espeak-ng flite)"
        )
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "word.wav"
        cmd, described = _engine_command(engine, voice, rng, word, out)
        subprocess.run(cmd, check=True, capture_output=True, timeout=60)
        data, rate = sf.read(io.BytesIO(out.read_bytes()), dtype="float32", always_2d=True)
    wave = trim(resample(torch.from_numpy(data.mean(axis=1)), rate, sample_rate, out).numpy(), sample_rate)
    peak = float(np.abs(wave).max()) or 1.0
    return (0.9 * wave / peak).astype(np.float32), described


def trim(wave: np.ndarray, sample_rate: int, margin_s: float = 0.05, threshold: float = 0.02) -> np.ndarray:
    """``wave`` without the leading and trailing silence synthesizers add (``margin_s`` kept)."""
    loud = np.flatnonzero(np.abs(wave) > threshold * (float(np.abs(wave).max()) or 1.0))
    if loud.size == 0:
        return wave
    margin = int(margin_s * sample_rate)
    return wave[max(0, loud[0] - margin) : loud[-1] + margin + 1]


def _plan(
    kind: str, words: list[str], engine: str, voices: list[str], per_word: dict[str, int], seed: int
) -> list[dict[str, Any]]:
    jobs: list[dict[str, Any]] = []
    for split, count in per_word.items():
        rng = random.Random(f"{seed}-{split}")
        for w_index, word in enumerate(words):
            for n in range(count):
                v_index = rng.randrange(len(voices))
                jobs.append(
                    {
                        "split": split,
                        "word": word,
                        "w": w_index,
                        "n": n,
                        "voice": voices[v_index],
                        "v": v_index,
                        "seed": rng.randrange(2**31),
                    }
                )
    return jobs


def synthesize(kind: Literal["transcripts", "labels"], **options: Any) -> tuple[str, str]:
    """Write (once) and return ``(format, root)`` of a synthesized corpus; see :func:`synth_options`."""
    opts = synth_options(**options)
    engine = opts["engine"]
    words_opt = opts["words"] or ("common" if kind == "transcripts" else "keywords")
    words = list(COMMON_WORDS if words_opt == "common" else KEYWORDS if words_opt == "keywords" else words_opt)
    voices = list(opts["voices"] or (ESPEAK_VOICES if engine == "espeak-ng" else FLITE_VOICES))
    per_word = dict(opts["per_word"] or DEFAULT_SPLITS)
    bad = sorted(set(per_word) - set(DEFAULT_SPLITS))
    if bad or "train" not in per_word:
        raise ValueError(
            f"synthesize.per_word: splits are train, val, test (train required); got {', '.join(per_word)}"
        )
    spec = {"v": VERSION, "kind": kind, "engine": engine, "words": words, "voices": voices, "per_word": per_word,
            "seed": opts["seed"], "sample_rate": opts["sample_rate"]}  # fmt: skip
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]
    root = cache_root(opts["cache_dir"]) / f"{kind}-{engine}-{digest}"
    fmt = "librispeech" if kind == "transcripts" else "audio-folder"
    if (root / "corpus.json").is_file():
        return fmt, str(root)

    jobs = _plan(kind, words, engine, voices, per_word, opts["seed"])

    def run(job: dict[str, Any]) -> tuple[dict[str, Any], np.ndarray, str]:
        wave, described = speak(engine, job["voice"], job["word"], random.Random(job["seed"]), opts["sample_rate"])
        return job, wave, described

    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}-", dir=root.parent))
    try:
        transcripts: dict[Path, list[str]] = {}
        with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
            for job, wave, described in pool.map(run, jobs):
                split_dir = tmp / _DIRS[kind][job["split"]]
                if kind == "transcripts":  # speaker = voice, chapter = word, utterance = repetition
                    speaker, chapter = 100 + job["v"], 1000 + job["w"]
                    folder = split_dir / str(speaker) / str(chapter)
                    utt = f"{speaker}-{chapter}-{job['n']:04d}"
                    folder.mkdir(parents=True, exist_ok=True)
                    sf.write(folder / f"{utt}.flac", wave, opts["sample_rate"])
                    transcripts.setdefault(folder / f"{speaker}-{chapter}.trans.txt", []).append(
                        f"{utt} {job['word'].upper()}"
                    )
                else:
                    folder = split_dir / job["word"]
                    folder.mkdir(parents=True, exist_ok=True)
                    sf.write(
                        folder / f"{job['n']:04d}-{described.replace(' ', '_').replace('+', '-')}.wav",
                        wave,
                        opts["sample_rate"],
                    )
        for path, lines in transcripts.items():
            path.write_text("\n".join(sorted(lines)) + "\n", encoding="utf-8")
        (tmp / "corpus.json").write_text(json.dumps({**spec, "utterances": len(jobs)}, indent=1), encoding="utf-8")
        tmp.chmod(0o755)  # mkdtemp makes it private; the corpus is ordinary data
        try:
            tmp.rename(root)
        except OSError:  # another process finished the same corpus first
            if not (root / "corpus.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return fmt, str(root)
