"""The speech plugin's tiny contract-kit examples, and the label budget of audio-classification."""

from __future__ import annotations

from pathlib import Path

import pytest
import soundfile as sf

from headstart import get_registry
from headstart.options import call_with_options
from headstart.testing import format_example, source_examples
from headstart_speech.classification import AudioClassification
from headstart_speech.contract import write_audio_folder
from headstart_speech.recognition import SpeechRecognition

FORMAT_EXAMPLES = {
    "librispeech": ("FLAC", "transcript", ["YES", "NO", "UP"]),
    "common-voice": ("MP3", "transcript", ["Yes!", 'He said "no".']),
    "audio-folder": ("WAV", "label", ["no", "yes", "yes"]),
    "audio-csv": ("WAV", "transcript", ["yes", "no"]),
}


@pytest.mark.parametrize("name", sorted(FORMAT_EXAMPLES))
def test_format_examples_are_real_audio_in_the_real_layout(name: str, tmp_path: Path) -> None:
    fmt = get_registry().dataset_format(name)
    example = format_example(fmt, tmp_path)
    assert example is not None, f"{name}: read has no contract_example"
    rows = fmt.read(example)
    audio, field, values = FORMAT_EXAMPLES[name]
    assert [r[field] for r in rows] == values
    for row in rows:
        info = sf.info(row["path"])
        assert info.format == audio and info.samplerate == 16_000 and 0.2 < info.duration < 1.0


@pytest.mark.parametrize(("scheme", "count"), [("hf", 2), ("torchaudio", 2)])
def test_source_examples_resolve_offline_to_tiny_speech_sources(scheme: str, count: int, tmp_path: Path) -> None:
    registry = get_registry()
    provider = next(p for plugin, p in registry.providers[scheme] if plugin == "speech")
    sections = source_examples(provider, tmp_path)
    assert len(sections) == count
    for section in sections:
        source = registry.source(**section)
        assert [b.name for b in source.blocks] == ["feature_encoder", "feature_projection", "layer0", "layer1"]
        assert sum(p.numel() for p in source.backbone.parameters()) < 100_000  # tiny: seconds, not minutes
    assert "pretrained" in registry.source(**sections[0]).describe()["weights"]  # the saved weights are loaded


@pytest.mark.parametrize("task_cls", [SpeechRecognition, AudioClassification])
def test_task_examples_prepare_every_split(task_cls: type, tmp_path: Path) -> None:
    example = task_cls.contract_example(tmp_path)
    source = get_registry().source(**example["source"])
    task = task_cls(**example["task"])
    task.prepare(source)
    assert task.splits() == ["train", "val", "test"]
    assert all(1 <= len(task.dataset(s, False)) <= 8 for s in task.splits())
    if task_cls is SpeechRecognition:
        assert task.summary()["too_short_for_transcript"] == {}  # every utterance has frames for its CTC target
    else:
        assert task.labels == ["no", "yes"]


# --- label budget ---------------------------------------------------------------------------------


def _budget_data(root: Path) -> Path:
    write_audio_folder(root / "train", {"yes": 4, "no": 1, "up": 3})
    write_audio_folder(root / "val", {"yes": 3, "no": 2, "up": 2})
    return root


def _names(task: AudioClassification, split: str) -> list[str]:
    return [str(Path(item.path).relative_to(Path(item.path).parents[1])) for item in task.dataset(split, False).items]


def test_max_per_class_draws_n_training_examples_of_each_class_with_the_data_seed(tmp_path: Path, hf_dir: Path) -> None:
    data = _budget_data(tmp_path / "kws")
    task = call_with_options(
        get_registry().task_type("audio-classification").factory,
        {"data": str(data), "max_per_class": 2},
        "task",
    )
    task.prepare(get_registry().source(f"hf:{hf_dir}"))
    assert task.labels == ["no", "up", "yes"]  # every training label stays, even when capped
    names = _names(task, "train")
    assert names[0] == "no/0.wav"  # a class with fewer examples than the budget keeps them all
    assert len(names) == 5 and set(names[1:3]) < {"up/0.wav", "up/1.wav", "up/2.wav"}
    assert set(names[3:]) < {f"yes/{i}.wav" for i in range(4)}
    assert len(task.dataset("val", False)) == 7  # validation is untouched (3 of "yes")
    summary = task.summary()
    assert summary["max_per_class"] == 2
    assert summary["train_class_counts"] == {"no": 1, "up": 2, "yes": 2}
    assert summary["splits"]["train"]["examples"] == 5 and summary["splits"]["train"]["not_selected"] == 3
    assert "not_selected" not in summary["splits"]["val"]

    again = AudioClassification(data=str(data), max_per_class=2)
    again.prepare(get_registry().source(f"hf:{hf_dir}"))
    assert _names(again, "train") == names  # deterministic
    draws = set()
    for seed in range(8):  # the draw follows the seed
        other = AudioClassification(data=str(data), max_per_class=2, data_seed=seed)
        other.prepare(get_registry().source(f"hf:{hf_dir}"))
        draws.add(tuple(_names(other, "train")))
    assert len(draws) > 1

    unlimited = AudioClassification(data=str(data))
    unlimited.prepare(get_registry().source(f"hf:{hf_dir}"))
    assert len(unlimited.dataset("train", False)) == 8 and unlimited.summary()["max_per_class"] is None


def test_max_per_class_counts_usable_files_and_rejects_nonsense(tmp_path: Path, hf_dir: Path) -> None:
    data = _budget_data(tmp_path / "kws")
    (data / "train" / "yes" / "0.wav").write_bytes(b"not audio")  # the first "yes" cannot be read
    task = AudioClassification(data=str(data), max_per_class=2, skip_bad=True)
    task.prepare(get_registry().source(f"hf:{hf_dir}"))
    assert [n for n in _names(task, "train") if n.startswith("yes")] == ["yes/1.wav", "yes/2.wav"]
    assert task.summary()["train_class_counts"]["yes"] == 2

    with pytest.raises(ValueError, match="max_per_class = 0"):
        AudioClassification(data=str(data), max_per_class=0)
