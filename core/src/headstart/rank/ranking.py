"""Rank candidate sources for one target task: features once per source, then LogME and H-score.

``rank_sources(experiment, sources)`` takes an experiment mapping (its ``task`` and ``trainer``
sections matter; its ``source`` is replaced by each candidate) and returns one row per source,
best first by LogME. ``headstart rank`` prints them; ``write_ranking`` saves JSON and CSV.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..engine.atomic import atomic_write_csv, atomic_write_json
from ..experiment.config import ExperimentConfig, parse_config
from ..options import ConfigError
from ..registry import get_registry
from .features import TaskFeatures, task_features
from .logme import logme
from .scores import h_score

#: Columns of the ranking table, in order (JSON rows carry a few more facts).
COLUMNS = ("rank", "source", "dim", "examples", "logme", "h_score", "seconds", "features")


def source_label(source: dict[str, Any]) -> str:
    """``name`` alone, or ``name(key=value, …)`` when the source has options."""
    opts = ",".join(f"{k}={v}" for k, v in source.items() if k != "name")
    return f"{source['name']}({opts})" if opts else str(source["name"])


def ranking_config(experiment: dict[str, Any], source: dict[str, Any]) -> ExperimentConfig:
    """``experiment`` with ``source`` as its source and the linear-probe policy (the features of
    the pretrained weights are what is ranked, whatever policy later trains them)."""
    data = copy.deepcopy(experiment)
    data["source"] = copy.deepcopy(source)
    data["policy"] = {"name": "linear-probe"}
    return parse_config(data)


def score(tf: TaskFeatures) -> dict[str, Any]:
    """LogME (classification or regression form) and, for classes, the H-score."""
    started = time.perf_counter()
    row: dict[str, Any] = {
        "logme": logme(tf.features, tf.targets, regression=tf.regression),
        "h_score": None if tf.regression else h_score(tf.features, tf.targets),
    }
    row["score_seconds"] = time.perf_counter() - started
    return row


def rank_sources(
    experiment: dict[str, Any],
    sources: Sequence[dict[str, Any]],
    cache_dir: Path | None,
    *,
    labels: Sequence[str] | None = None,
    echo: Callable[[str], Any] = lambda _: None,
) -> list[dict[str, Any]]:
    """Score every source on the experiment's task (train split); rows sorted best first."""
    if not sources:
        raise ValueError("rank: give at least one source")
    get_registry()  # load the plugins before the first source's clock starts
    rows = []
    for i, source in enumerate(sources):
        label = labels[i] if labels is not None else source_label(source)
        echo(f"[{i + 1}/{len(sources)}] {label}")
        config = ranking_config(experiment, source)
        tf = task_features(config, cache_dir)
        try:
            scores = score(tf)
        except ValueError as exc:
            raise ConfigError(f"source {label}: {exc}") from None
        row: dict[str, Any] = {
            "source": label,
            "source_config": dict(config.source),
            "dim": int(tf.features.shape[1]),
            "examples": int(tf.features.shape[0]),
            "target": "regression" if tf.regression else "classification",
            "pooling": tf.pooling,
            "features": tf.cache,
            "feature_seconds": tf.seconds,
            **scores,
        }
        row["seconds"] = row["feature_seconds"] + row["score_seconds"]
        rows.append(row)
    rows.sort(key=lambda r: -r["logme"])
    for i, row in enumerate(rows, 1):
        row["rank"] = i
    return rows


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1e4 else f"{value:.4g}"
    return str(value)


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """A Markdown table of the ranking."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + " --- |" * len(COLUMNS)]
    for row in rows:
        shown = {**row, "seconds": f"{row['seconds']:.1f}"}
        lines.append("| " + " | ".join(_cell(shown.get(c)) for c in COLUMNS) + " |")
    return "\n".join(lines)


def write_ranking(rows: Sequence[dict[str, Any]], out: Path, meta: dict[str, Any] | None = None) -> list[Path]:
    """``rank.json`` (every fact, plus ``meta``) and ``rank.csv`` (the table's columns) in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    json_path, csv_path = out / "rank.json", out / "rank.csv"
    atomic_write_json(json_path, {**(meta or {}), "rows": list(rows)})
    columns = [*COLUMNS, "target", "pooling"]
    atomic_write_csv(csv_path, [{c: row.get(c) for c in columns} for row in rows], columns)
    return [json_path, csv_path]
