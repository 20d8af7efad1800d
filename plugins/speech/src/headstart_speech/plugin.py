"""Hook implementations of the speech plugin (the only module with ``@hookimpl``)."""

from __future__ import annotations

from headstart import DatasetFormat, Metric, SourceProvider, TaskType, hookimpl

from .classification import AudioClassification
from .formats import FORMATS
from .hf_source import HFSpeechProvider
from .metrics import cer, wer
from .recognition import SpeechRecognition
from .torchaudio_source import TorchaudioProvider


@hookimpl
def headstart_source_providers() -> list[SourceProvider]:
    return [HFSpeechProvider(), TorchaudioProvider()]


@hookimpl
def headstart_task_types() -> list[TaskType]:
    return [
        TaskType(
            SpeechRecognition.name,
            SpeechRecognition,
            "speech to text with a CTC head over characters; greedy decoding, WER and CER",
        ),
        TaskType(
            AudioClassification.name,
            AudioClassification,
            "one label per recording (keywords, speakers, emotions): pooled features -> head",
        ),
    ]


@hookimpl
def headstart_dataset_formats() -> list[DatasetFormat]:
    return list(FORMATS)


@hookimpl
def headstart_metrics() -> list[Metric]:
    return [
        Metric("wer", wer, False, "word error rate: word edits / reference words"),
        Metric("cer", cer, False, "character error rate: character edits / reference characters"),
    ]
