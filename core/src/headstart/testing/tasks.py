"""Contract checks for target tasks, run on the task's own tiny example with a real source.

:func:`check_task` prepares the task and walks the path the engine takes: datasets, collate,
head built from the source's output spec, a forward / backward step, the frozen prefix under a
real freeze plan, predictions and metrics, a checkpoint round trip, and pickling (what
``DataLoader`` workers need). :func:`check_training_run` trains one short epoch end to end.
"""

from __future__ import annotations

import json
import math
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..data.splits import SPLITS
from ..engine.checkpoint import load_weights, save_checkpoint
from ..freeze.apply import Freezer
from ..interfaces import HEAD, Batch, Features, FeatureSpec, Phase, SourceModel, TargetTask
from ..model import TransferModel
from ..registry import UnknownNameError, get_registry
from ..rundir import RunDir
from .errors import ContractError
from .sources import _tmpdir, check_forward


def _params(module: nn.Module) -> list[tuple[str, nn.Parameter]]:
    return list(module.named_parameters())


def _compare(a: Any, b: Any, where: str) -> None:
    if isinstance(a, torch.Tensor):
        if not isinstance(b, torch.Tensor) or a.shape != b.shape or not torch.allclose(a.float(), b.float(), atol=1e-5):
            raise ContractError(f"{where}: outputs differ after a checkpoint round trip")
    elif isinstance(a, Mapping):
        for k in a:
            _compare(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, list | tuple):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _compare(x, y, f"{where}[{i}]")
    elif isinstance(a, Features):
        _compare(a.values, b.values, where)


def _check_static(task: object) -> TargetTask:
    if not isinstance(task, TargetTask):
        raise ContractError(
            f"{type(task).__name__} is not a TargetTask: it needs name, metrics, prepare, splits, dataset, "
            "collate, build_head, loss, predictions and summary"
        )
    registry = get_registry()
    for m in task.metrics:
        try:
            registry.metric(m)
        except UnknownNameError as exc:
            raise ContractError(f"task {task.name!r}: metrics names {m!r}: {exc}") from None
    return task


def check_data(task: TargetTask) -> Batch:
    """After ``prepare``: known splits including ``train``, non-empty datasets, and a collated
    batch with ``inputs`` and ``targets``. Returns the batch (up to 4 training examples)."""
    splits = list(task.splits())
    if "train" not in splits or not set(splits) <= set(SPLITS):
        raise ContractError(f"task {task.name!r}: splits() must include 'train' and only {SPLITS}, got {splits}")
    for split in splits:
        ds = task.dataset(split, train=split == "train")
        if len(ds) == 0:  # type: ignore[arg-type]
            raise ContractError(f"task {task.name!r}: the {split!r} split of the example is empty")
    ds = task.dataset("train", train=True)
    batch = task.collate([ds[i] for i in range(min(4, len(ds)))])  # type: ignore[arg-type]
    if not isinstance(batch, dict) or "inputs" not in batch or "targets" not in batch:
        raise ContractError(f"task {task.name!r}: collate() must return a dict with 'inputs' and 'targets'")
    return batch


def check_head(task: TargetTask, source: SourceModel, features: Features) -> nn.Module:
    """``build_head(spec)`` returns a fresh module each call, built from ``spec`` (a head for a
    wider spec accepts wider features)."""
    spec = source.output_spec
    head = task.build_head(spec)
    if not isinstance(head, nn.Module):
        raise ContractError(f"task {task.name!r}: build_head() must return an nn.Module, got {type(head).__name__}")
    other = task.build_head(spec)
    shared = {id(p) for p in head.parameters()} & {id(p) for p in other.parameters()}
    if other is head or shared:
        raise ContractError(f"task {task.name!r}: build_head() must build a new head each call")
    wider = FeatureSpec(spec.kind, spec.dim + 8, spec.extras)
    values = torch.randn(*features.values.shape[:-1], wider.dim)
    try:
        task.build_head(wider)(Features(values, features.mask))
    except Exception as exc:
        raise ContractError(
            f"task {task.name!r}: a head built for dim {wider.dim} fails on features of that dim ({exc}); "
            "build the head from the spec it is given"
        ) from exc
    return head


def check_step(task: TargetTask, source: SourceModel, batch: Batch, head: nn.Module) -> TransferModel:
    """One forward / backward step with every block trainable: a finite scalar loss, gradients
    in the head and in every block, and predictions the task's metrics accept."""
    model = TransferModel(source, head)
    model.train()
    for p in model.parameters():
        p.requires_grad_(True)
        p.grad = None
    features = check_forward(source, batch["inputs"])
    outputs = head(features)
    loss = task.loss(outputs, batch)
    if not isinstance(loss, torch.Tensor) or loss.ndim != 0 or not torch.isfinite(loss):
        raise ContractError(f"task {task.name!r}: loss() must return a finite scalar tensor, got {loss!r}")
    loss.backward()  # type: ignore[no-untyped-call]
    if not any(p.grad is not None for _, p in _params(head)):
        raise ContractError(f"task {task.name!r}: the loss does not depend on the head's parameters")
    params = dict(source.backbone.named_parameters())
    from ..freeze.blockmap import resolve_blocks

    for info in resolve_blocks(source.backbone, source.blocks):
        if not any(params[n].grad is not None for n in info.params):
            raise ContractError(
                f"source {source.name!r} with task {task.name!r}: no parameter of block {info.name!r} gets a "
                "gradient; every block must take part in forward()"
            )
    with torch.no_grad():
        preds, refs = task.predictions(outputs, batch)
    if not isinstance(preds, list) or not isinstance(refs, list) or len(preds) != len(refs) or not preds:
        raise ContractError(f"task {task.name!r}: predictions() must return two non-empty lists of equal length")
    for m in task.metrics:
        value = get_registry().metric(m).fn(preds, refs)
        if not isinstance(value, int | float):
            raise ContractError(f"task {task.name!r}: metric {m!r} returned {value!r}, expected a number")
    for p in model.parameters():
        p.grad = None
    return model


def check_frozen_prefix(task: TargetTask, source: SourceModel, batch: Batch) -> None:
    """Under the engine's freeze plan "last source block + head", the frozen prefix runs under
    ``no_grad`` and the trainable blocks still get gradients (block order is what makes it work)."""
    model = TransferModel(source, task.build_head(source.output_spec))
    freezer = Freezer(model, lr=0.1)
    names = freezer.block_names
    top = names[-2]
    try:
        freezer.apply(Phase("contract-top-1", 0, frozenset({top, HEAD})), 0)
        model.train()
        loss = task.loss(model(batch["inputs"]), batch)
        if not loss.requires_grad:
            raise ContractError(
                f"source {source.name!r}: with only {top!r} and the head trainable the loss needs no gradient; "
                "block members are probably not called in block order"
            )
        loss.backward()  # type: ignore[no-untyped-call]
        blocks = {b.name: b for b in freezer.blocks}
        params = dict(model.named_parameters())
        if not any(params[n].grad is not None for n in blocks[top].params):
            raise ContractError(f"source {source.name!r}: block {top!r} is trainable but got no gradient")
    finally:
        freezer.remove_hooks()
        model.lock_eval([])
        for p in model.parameters():
            p.requires_grad_(True)
            p.grad = None


def check_round_trip(task: TargetTask, source: SourceModel, batch: Batch, tmp_path: Path | None = None) -> None:
    """Backbone and head survive Headstart's checkpoint format: outputs (in eval mode) match
    after saving, re-initialising source and head, and loading."""
    model = TransferModel(source, task.build_head(source.output_spec)).eval()
    with torch.no_grad():
        before = model(batch["inputs"])
    with _tmpdir(tmp_path) as d:
        path = save_checkpoint(RunDir(d).checkpoints, "contract", model, {})
        source.reinitialize(3)
        fresh = TransferModel(source, task.build_head(source.output_spec)).eval()
        load_weights(path, fresh)
    with torch.no_grad():
        after = fresh(batch["inputs"])
    _compare(before, after, f"task {task.name!r} on {source.name!r}")


def check_picklable(task: TargetTask) -> None:
    """Datasets and ``collate`` pickle (``DataLoader`` workers need them), and ``summary()`` is JSON."""
    for split in task.splits():
        try:
            pickle.loads(pickle.dumps(task.dataset(split, train=split == "train")))
        except Exception as exc:
            raise ContractError(f"task {task.name!r}: the {split!r} dataset does not pickle ({exc})") from exc
    try:
        pickle.loads(pickle.dumps(task.collate))
    except Exception as exc:
        raise ContractError(f"task {task.name!r}: collate does not pickle ({exc})") from exc
    summary = task.summary()
    try:
        json.dumps(summary)
    except (TypeError, ValueError) as exc:
        raise ContractError(f"task {task.name!r}: summary() is not JSON-serialisable ({exc})") from None


def check_task(task: object, source: SourceModel, tmp_path: Path | None = None) -> None:
    """Every check of a :class:`~headstart.TargetTask` on ``source``: prepare, data, head, step,
    frozen prefix, checkpoint round trip, pickling. ``source``'s weights change (it is
    re-initialised by the round trip): pass a fresh one and do not reuse it."""
    t = _check_static(task)
    t.prepare(source)
    batch = check_data(t)
    head = t.build_head(source.output_spec)
    source.backbone.train()
    features = check_forward(source, batch["inputs"])
    check_head(t, source, features)
    check_step(t, source, batch, head)
    check_frozen_prefix(t, source, batch)
    check_picklable(t)
    check_round_trip(t, source, batch, tmp_path)


def check_predict(run_dir: Path, inputs: list[Any], task_name: str) -> list[dict[str, Any]]:
    """A finished run of a :class:`~headstart.PredictingTask` loads (``headstart.load``) and
    predicts ``inputs``: one JSON-serialisable result per input, naming it, without errors."""
    from ..inference import load

    if not inputs:
        raise ContractError(
            f"task {task_name!r} implements PredictingTask but its contract_example() gives no 'inputs' to predict"
        )
    predictor = load(run_dir, device="cpu")
    out = predictor.predict(list(inputs), batch_size=2, top_k=2)
    if not isinstance(out, list) or len(out) != len(inputs):
        raise ContractError(f"task {task_name!r}: predict() of {len(inputs)} inputs gave {out!r}")
    for raw, result in zip(inputs, out, strict=True):
        if not isinstance(result, dict) or len(result) < 2:
            raise ContractError(
                f"task {task_name!r}: decode() must give a dict per example, got {result!r} for {raw!r}"
            )
        try:
            json.dumps(result)
        except (TypeError, ValueError) as exc:
            raise ContractError(
                f"task {task_name!r}: the prediction for {raw!r} is not JSON-serialisable ({exc})"
            ) from None
    return out


def check_training_run(
    source: Mapping[str, Any],
    task: Mapping[str, Any],
    tmp_path: Path,
    policy: Mapping[str, Any] | None = None,
    steps: int = 2,
) -> dict[str, Any]:
    """Train one short epoch through ``run_experiment`` (the engine's real path) on CPU.

    ``source`` and ``task`` are experiment sections with ``name``. Returns the run's summary.
    """
    from ..experiment import parse_config, run_experiment

    config = parse_config(
        {
            "name": "contract",
            "output_dir": str(tmp_path / "runs"),
            "source": dict(source),
            "task": dict(task),
            "policy": dict(policy or {"name": "full"}),
            "trainer": {
                "epochs": 1,
                "batch_size": 2,
                "max_steps_per_epoch": steps,
                "device": "cpu",
                "progress": False,
                "log_every": 1,
                "feature_cache": "off",
            },
        }
    )
    run_dir, summary = run_experiment(config, tmp_path / "run")
    if summary.get("epochs_run") != 1 or not RunDir(run_dir).last.exists():
        raise ContractError(f"a one-epoch run of task {task['name']!r} did not finish: {summary}")
    loss = summary["final"].get("train_loss")
    if not isinstance(loss, float) or not math.isfinite(loss):
        raise ContractError(f"a one-epoch run of task {task['name']!r} has train_loss {loss!r}")
    return summary
