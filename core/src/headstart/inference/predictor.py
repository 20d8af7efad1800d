"""A finished run as a model: :func:`load` a run directory, then ``predict`` raw inputs.

The run directory is all it needs: ``config.yaml`` (which task, which source), ``inference.json``
(the task's label set / vocabulary / preprocessing, and how to rebuild the source offline) and the
``best`` (or ``last``) checkpoint. The training data is never read.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import torch
from tqdm.auto import tqdm

from ..data.formats import DataError
from ..engine import checkpoint as ckpt
from ..engine.delta import seeded
from ..engine.device import autocast, select_device, select_precision, to_device
from ..engine.evaluate import compute_metrics
from ..experiment.build import build_policy, build_task
from ..experiment.config import ExperimentConfig
from ..experiment.run import load_run_config
from ..interfaces import PredictingTask, SourceModel
from ..model import TransferModel
from ..options import ConfigError
from ..policies.base import prepare_model
from ..registry import UnknownNameError, get_registry
from ..rundir import CHECKPOINT_KINDS, CheckpointKind, RunDir
from .state import read_inference_file, source_section

Errors = Literal["raise", "skip"]


def input_name(raw: Any) -> Any:
    """How a raw input is named in results and errors: a path or text as is, a row by its
    ``file:line`` when it has one, a pair as a list."""
    if isinstance(raw, Path):
        return str(raw)
    if isinstance(raw, Mapping):
        if "_where" in raw:
            return raw["_where"]
        return {k: v for k, v in raw.items() if isinstance(v, str | int | float | bool) or v is None}
    if isinstance(raw, tuple):
        return [input_name(x) for x in raw]
    if isinstance(raw, str | int | float):
        return raw
    return type(raw).__name__


def as_list(inputs: Any) -> tuple[list[Any], bool]:
    """``(inputs as a list, whether one input was given)``: a str / Path / tuple / dict / tensor
    is one input; a pandas DataFrame gives its rows as dicts; any other iterable is many inputs."""
    if isinstance(inputs, str | Path | tuple | Mapping | torch.Tensor):
        return [inputs], True
    if hasattr(inputs, "to_dict") and hasattr(inputs, "columns"):  # a pandas DataFrame
        return list(inputs.to_dict(orient="records")), False
    if isinstance(inputs, Iterable):
        return list(inputs), False
    return [inputs], True


class Predictor:
    """A trained model with its task: ``predict`` raw inputs, ``evaluate`` a labelled set.

    Attributes: ``run_dir``, ``config`` (the run's :class:`ExperimentConfig`), ``source``,
    ``task``, ``model`` (a :class:`TransferModel` in eval mode), ``device``, ``precision``.
    """

    def __init__(
        self,
        run_dir: Path,
        config: ExperimentConfig,
        source: SourceModel,
        task: PredictingTask,
        model: TransferModel,
        device: torch.device,
        precision: str,
        checkpoint: Path,
    ) -> None:
        self.run_dir, self.config, self.source, self.task = run_dir, config, source, task
        self.model, self.device, self.precision, self.checkpoint = model, device, precision, checkpoint

    @property
    def labels(self) -> list[str] | None:
        """The label (or tag) names of a classification task, in head order; None otherwise."""
        labels = getattr(self.task, "labels", None)
        return list(labels) if labels else None

    def _batches(self, items: list[tuple[int, Any]], batch_size: int) -> Iterator[list[tuple[int, Any]]]:
        for start in range(0, len(items), batch_size):
            yield items[start : start + batch_size]

    @torch.no_grad()
    def forward(self, batch: dict[str, Any]) -> Any:
        """The model's raw outputs on a collated batch (moved to the device)."""
        batch = to_device(batch, self.device)
        with autocast(self.device, self.precision):
            return self.model(batch["inputs"])

    def predict(
        self,
        inputs: Any,
        *,
        batch_size: int = 32,
        top_k: int = 1,
        errors: Errors = "raise",
        progress: bool | None = False,
    ) -> Any:
        """Predictions for raw inputs: file paths (images, audio), texts, ``(text, pair)`` tuples,
        dicts of columns, or a pandas DataFrame. One input gives one dict; a list gives a list.

        Each result has ``input`` (the path, text or ``file:line``) and what the task decodes
        (``label`` and ``score`` with ``top_k`` alternatives, ``transcript``, ``entities`` …).
        A bad input raises :class:`DataError` naming it, or with ``errors="skip"`` gives
        ``{"input": …, "error": …}`` in its place.
        """
        if errors not in ("raise", "skip"):
            raise ValueError(f"errors = {errors!r}; valid: raise, skip")
        if batch_size < 1 or top_k < 1:
            raise ValueError(f"batch_size = {batch_size}, top_k = {top_k}: both must be >= 1")
        raws, single = as_list(inputs)
        results: list[dict[str, Any] | None] = [None] * len(raws)
        good: list[tuple[int, Any]] = []
        for i, raw in enumerate(raws):
            try:
                good.append((i, self.task.predict_example(raw)))
            except (DataError, ValueError, OSError) as exc:
                if errors == "raise":
                    raise DataError(f"input {i + 1} ({input_name(raw)}): {exc}") from None
                results[i] = {"input": input_name(raw), "error": str(exc)}
        # progress None: a bar when stderr is a terminal
        bar = tqdm(
            total=len(good),
            desc="predict",
            unit="input",
            disable=None if progress is None else not progress,
            leave=False,
        )
        for chunk in self._batches(good, batch_size):
            batch = self.task.predict_collate([ex for _, ex in chunk])
            outputs = self.forward(batch)
            decoded = self.task.decode(outputs, batch, top_k)
            for (i, _), out in zip(chunk, decoded, strict=True):
                results[i] = {"input": input_name(raws[i]), **out}
            bar.update(len(chunk))
        bar.close()
        done = [r for r in results if r is not None]
        return done[0] if single else done

    @torch.no_grad()
    def evaluate(self, data: Any, *, batch_size: int = 32, progress: bool | None = False) -> dict[str, float]:
        """The task's metrics (and mean loss) on a labelled set given as a task's ``data`` split
        (a folder, a CSV / JSONL / CoNLL file, a dataset root …)."""
        dataset = self.task.labelled_dataset(data)
        loader: torch.utils.data.DataLoader[Any] = torch.utils.data.DataLoader(
            dataset,  # type: ignore[arg-type]  # any len + getitem works (a list)
            batch_size=batch_size,
            collate_fn=self.task.collate,  # type: ignore[attr-defined]
        )
        total, count = 0.0, 0
        preds: list[Any] = []
        refs: list[Any] = []
        task: Any = self.task
        for batch in tqdm(loader, desc="evaluate", disable=None if progress is None else not progress, leave=False):
            outputs = self.forward(batch)
            batch = to_device(batch, self.device)
            n = len(batch["targets"])
            total += float(task.loss(outputs, batch)) * n
            count += n
            p, r = task.predictions(outputs, batch)
            preds.extend(p)
            refs.extend(r)
        metrics = {"loss": total / count if count else math.nan, "examples": float(count)}
        metrics.update(compute_metrics(task.metrics, preds, refs))
        return metrics


def _checkpoint(run_dir: Path, which: CheckpointKind) -> Path:
    link = RunDir(run_dir).checkpoint(which)
    if not link.exists():
        raise ckpt.CheckpointError(f"{run_dir}: the run has no {which!r} checkpoint (is it a finished run?)")
    return ckpt.resolve(link)


def _unreachable_source(run_dir: Path, checkpoint: str, name: str, exc: Exception) -> str:
    reason = (str(exc).strip().splitlines() or [""])[0]
    return (
        f"{run_dir}: its {checkpoint!r} checkpoint stores only the weights that trained; the rest are "
        f"the pretrained weights of source {name!r}, which cannot be loaded here ({type(exc).__name__}: "
        f"{reason}). Make that source reachable under the same name, or where it is, run "
        f"`headstart export {run_dir} --to full` to store every weight in the run directory"
    )


def load(
    run_dir: str | Path,
    *,
    checkpoint: Literal["best", "last"] = "best",
    device: str = "auto",
    precision: str = "fp32",
) -> Predictor:
    """A run directory as a :class:`Predictor` (weights of its ``best`` checkpoint by default),
    on ``device`` (``auto``: CUDA when available). Reads no training data."""
    run_dir = Path(run_dir).expanduser()
    if checkpoint not in CHECKPOINT_KINDS:
        raise ConfigError(f"checkpoint = {checkpoint!r}; valid: best, last")
    config = load_run_config(run_dir)
    info = read_inference_file(run_dir)
    path = _checkpoint(run_dir, checkpoint)
    # a full checkpoint supplies every weight: the weight-less stand-in in inference/source/ will do;
    # a delta checkpoint stores only what trained, over the source's own (pretrained) weights
    saved = None if ckpt.is_delta(path) else info.get("source")
    section = source_section(run_dir, saved, config.source)
    name = section.pop("name")
    try:
        with seeded(config.seed):  # as build() made it: a delta checkpoint checks the frozen weights
            source = get_registry().source(name, **section)
    except Exception as exc:
        if saved is None and info.get("source") is not None:  # a delta; a full checkpoint would not need it
            raise ConfigError(_unreachable_source(run_dir, checkpoint, name, exc)) from None
        if isinstance(exc, UnknownNameError):
            raise ConfigError(f"{run_dir}: cannot rebuild the source: {exc}") from None
        raise
    task = build_task(config)
    if not isinstance(task, PredictingTask):
        raise ConfigError(f"task {config.task['name']!r} does not implement PredictingTask; it cannot predict")
    task.restore(info["task"], source)
    model = TransferModel(source, task.build_head(source.output_spec))
    if not info.get("merged"):  # `headstart merge` folded the adapters into the weights already
        prepare_model(build_policy(config), model, config.seed)  # adapters a policy adds (LoRA …)
    ckpt.load_weights(path, model)
    dev = select_device(device)
    model.to(dev).eval()
    return Predictor(run_dir, config, source, task, model, dev, select_precision(precision, dev), path)


def write_predictions(results: Sequence[dict[str, Any]], path: Path) -> None:
    """Results as JSONL (``.jsonl``/``.json``) or CSV (else; nested values as JSON text), written
    atomically (non-finite numbers as ``null`` in JSON)."""
    import csv

    from ..engine.atomic import json_safe, replacing

    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() in (".jsonl", ".json"):
        with replacing(path) as tmp, tmp.open("w", encoding="utf-8") as f:
            for r in results:
                f.write(json.dumps(json_safe(r), ensure_ascii=False, allow_nan=False) + "\n")
        return
    columns: list[str] = []
    for r in results:
        columns.extend(k for k in r if k not in columns)
    with replacing(path) as tmp, tmp.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for r in results:
            writer.writerow(
                {k: v if isinstance(v, str | int | float) or v is None else json.dumps(v) for k, v in r.items()}
            )
