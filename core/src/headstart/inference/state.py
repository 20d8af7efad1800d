"""What a run directory stores so that it is a self-contained model: ``inference.json``.

Written when a run starts (after the task has read its data), read by :func:`headstart.load`::

    inference.json            {"format": "headstart-inference", "version": 1,
                               "task": <task.inference_state()>, "source": <section or null>}
    inference/source/         what the source saved to rebuild itself (config, tokenizer …)

The ``source`` section, when the source implements ``save_for_inference``, rebuilds the source's
architecture and preprocessor from ``inference/source/`` without pretrained weights (the run's
checkpoint supplies every weight); ``{files}`` in it stands for that folder, so the run directory
can be moved or copied to another machine.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..engine.atomic import atomic_write_json
from ..interfaces import PredictingTask, SourceModel, TargetTask
from ..options import ConfigError
from ..rundir import RunDir

FORMAT = "headstart-inference"
VERSION = 1
INFERENCE_FILE = RunDir.inference
FILES_MARK = "{files}"


def save_inference_files(run_dir: Path, source: SourceModel, task: TargetTask) -> Path | None:
    """Write ``inference.json`` (and the source's files); None when the task cannot predict."""
    if not isinstance(task, PredictingTask):
        return None
    section = None
    save = getattr(source, "save_for_inference", None)
    if callable(save):
        folder = RunDir(run_dir).inference_source
        folder.mkdir(parents=True, exist_ok=True)
        section = save(folder)
    data = {"format": FORMAT, "version": VERSION, "task": task.inference_state(), "source": section}
    file = RunDir(run_dir).inference
    atomic_write_json(file, data)
    return file


def read_inference_file(run_dir: Path) -> dict[str, Any]:
    """The content of ``inference.json``, checked; ConfigError naming the file otherwise."""
    file = RunDir(run_dir).inference
    if not file.is_file():
        raise ConfigError(
            f"{run_dir}: no {INFERENCE_FILE}; the run was made by an older Headstart or its task "
            "does not implement PredictingTask (inference_state, restore, predict_example …)"
        )
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ConfigError(f"{file}: not valid JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ConfigError(f"{file}: not a Headstart inference file (no {FORMAT!r} format marker)")
    if data.get("version") != VERSION:
        raise ConfigError(f"{file}: version {data.get('version')} is not supported (expected {VERSION})")
    return data


def source_section(run_dir: Path, saved: Mapping[str, Any] | None, config_source: Mapping[str, Any]) -> dict[str, Any]:
    """The source section to rebuild: the saved one with ``{files}`` resolved, else the config's."""
    if not saved:
        return dict(config_source)
    folder = str(RunDir(run_dir).inference_source.resolve())

    def fill(value: Any) -> Any:
        if isinstance(value, str):
            return value.replace(FILES_MARK, folder)
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fill(v) for v in value]
        return value

    return {k: fill(v) for k, v in saved.items()}
