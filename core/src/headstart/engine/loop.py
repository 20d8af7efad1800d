"""The training loop. It reads top to bottom; plugins extend it through ``headstart_on_*`` events.

Exactness of resume: the data order of epoch ``e`` is a permutation seeded with ``(seed, e)``
(the same for one process and for N, so a global batch holds the same examples either way), every
RNG state is saved with each end-of-epoch checkpoint, the learning rate is a pure function of the
step, and the optimizer keeps one fixed group layout across phases. A run resumed from ``last``
therefore ends with the same weights as one that was never interrupted.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler
from tqdm.auto import tqdm

from ..freeze.apply import scale_lr
from ..freeze.plan import FreezePlan, phase_at
from ..registry import get_registry
from . import checkpoint as ckpt
from . import distributed as ddp
from .device import autocast, peak_memory_mb, reset_peak_memory, to_device
from .evaluate import evaluate
from .feature_cache import CachedSplit, FeatureCache, cache_key, compute_features, weights_hash
from .metrics_log import MetricsLog
from .run_state import RunContext
from .schedule import lr_factor


class _Indexed(Dataset[tuple[int, Any]]):
    """Examples with their index, so cached features can be looked up per example."""

    def __init__(self, data: Any) -> None:
        self.data = data

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int) -> tuple[int, Any]:
        return i, self.data[i]


class _Collate:
    def __init__(self, collate: Any) -> None:
        self.collate = collate

    def __call__(self, items: list[tuple[int, Any]]) -> dict[str, Any]:
        batch: dict[str, Any] = self.collate([example for _, example in items])
        batch["_index"] = torch.tensor([i for i, _ in items])
        return batch


def _loader(run: RunContext, split: str, train: bool, epoch: int = 0, augment: bool = True) -> DataLoader[Any]:
    """Training: this rank's share of a permutation seeded by (seed, epoch). Evaluation: this
    rank's strided shard, in order."""
    s, d = run.settings, run.dist
    data = _Indexed(run.task.dataset(split, train=train and augment))
    if train:
        sampler: Any = DistributedSampler(
            data, num_replicas=d.world, rank=d.rank, shuffle=True, seed=run.seed * 100_003
        )
        sampler.set_epoch(epoch)
        batch_size = s.batch_size // d.world
    else:
        sampler = list(range(d.rank, len(data), d.world))
        batch_size = max(1, (s.eval_batch_size or s.batch_size) // d.world)
    return DataLoader(
        data,
        batch_size=batch_size,
        sampler=sampler,
        collate_fn=_Collate(run.task.collate),
        num_workers=s.num_workers,
        pin_memory=run.device.type == "cuda",
        generator=torch.Generator().manual_seed(run.seed * 100_003 + epoch),
    )


def _make_optimizer(run: RunContext) -> torch.optim.Optimizer:
    groups = run.freezer.param_groups()
    if run.settings.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=0.0, momentum=run.settings.momentum)
    return torch.optim.AdamW(groups, lr=0.0)


def _monitor(run: RunContext) -> tuple[str, bool]:
    """The metric that picks ``best`` and whether higher is better."""
    name = run.settings.monitor or (run.task.metrics[0] if run.task.metrics else "loss")
    metrics = get_registry().metrics
    return name, (name != "loss" and (metrics[name][1].higher_is_better if name in metrics else True))


def _improved(run: RunContext, value: float, higher: bool) -> bool:
    if math.isnan(value):
        return False
    if run.best_value is None:
        return True
    delta = value - run.best_value if higher else run.best_value - value
    return delta > run.settings.min_delta


def _channels_last(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor) and obj.ndim == 4 and obj.is_floating_point():
        return obj.contiguous(memory_format=torch.channels_last)
    if isinstance(obj, dict):
        return {k: _channels_last(v) for k, v in obj.items()}
    return obj


def _cached_split(run: RunContext, cache: FeatureCache, plan: FreezePlan, split: str) -> CachedSplit | None:
    """Cached features of ``split`` when ``plan`` trains only the head (else None)."""
    head_only = plan.frozen_prefix == len(run.freezer.blocks) - 1 and plan.rows[-1].trainable
    if not head_only or run.settings.feature_cache == "off" or run.dist.enabled or split not in run.task.splits():
        return None
    if run.settings.feature_cache == "auto" and run.settings.max_steps_per_epoch is not None:
        return None  # a capped (smoke) epoch uses a few examples: computing them all would cost more
    loader = _loader(run, split, train=False)
    key = cache_key(
        run.config["source"],
        run.config["task"],
        split,
        len(loader.dataset),  # type: ignore[arg-type]
        weights_hash(run.model.backbone),
    )
    return cache.get(key, lambda: compute_features(run.model, loader, run.device, run.precision))


def _state(run: RunContext) -> dict[str, Any]:
    assert run.optimizer is not None
    return {
        "epoch": run.epoch,
        "step": run.step,
        "best_value": run.best_value,
        "best_epoch": run.best_epoch,
        "bad_epochs": run.bad_epochs,
        "elapsed_s": run.elapsed_s,
        "trainable_params": dict(run.trainable_params),
        "optimizer": run.optimizer.state_dict(),
        "freeze": run.freezer.state_dict(),
        "rng": ckpt.rng_state(),
    }


def _restore(run: RunContext, path: Path) -> None:
    assert run.optimizer is not None
    state = ckpt.load_state(path)
    run.freezer.check_state(state["freeze"])
    ckpt.load_weights(path, run.model)
    run.optimizer.load_state_dict(state["optimizer"])
    run.epoch, run.step = int(state["epoch"]), int(state["step"])
    run.best_value, run.best_epoch = state["best_value"], state["best_epoch"]
    run.bad_epochs, run.elapsed_s = int(state["bad_epochs"]), float(state["elapsed_s"])
    run.trainable_params = dict(state["trainable_params"])
    ckpt.set_rng_state(state["rng"])


def train(run: RunContext, resume_from: Path | None = None) -> dict[str, Any]:
    """Train ``run`` to the end (or until early stopping); return the content of summary.json."""
    s, hook, model, task, d = run.settings, run.hook, run.model, run.task, run.dist
    if s.batch_size % d.world:
        raise ValueError(
            f"trainer.batch_size = {s.batch_size} (the global batch) must divide evenly across {d.world} processes"
        )
    started = time.perf_counter()
    reset_peak_memory(run.device)
    model.to(run.device)
    if s.channels_last:
        model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    run.optimizer = _make_optimizer(run)
    has_val = "val" in task.splits()
    monitor, higher = _monitor(run)
    log = MetricsLog(run.run_dir, write=d.main)
    cache = FeatureCache(
        s.feature_cache, Path(s.feature_cache_dir or run.run_dir / "feature_cache"), s.feature_cache_max_mb
    )

    if resume_from is not None:
        _restore(run, resume_from)
    log.load(before_epoch=run.epoch)

    batches = len(_loader(run, "train", train=True))
    if s.max_steps_per_epoch is not None:
        batches = min(batches, s.max_steps_per_epoch * s.grad_accum)
    steps_per_epoch = math.ceil(batches / s.grad_accum)
    total_steps = steps_per_epoch * s.epochs
    factor = lr_factor(s.schedule, total_steps, s.warmup_steps or math.ceil(s.warmup_ratio * total_steps))
    net: Any = model
    regularizer = getattr(run.policy, "regularizer", None)
    cached_train: CachedSplit | None = None
    cached_val: CachedSplit | None = None

    hook.headstart_on_run_start(run=run)
    for epoch in range(run.epoch, s.epochs):
        run.epoch = epoch
        index = phase_at(run.phases, epoch)
        if index != run.freezer.phase_index:
            applied = run.freezer.apply(run.phases[index], index, run.optimizer)
            run.trainable_params[applied.phase.name] = applied.trainable_numel
            net = ddp.wrap(model, d, run.device)  # DDP sees exactly the parameters that train now
            net = torch.compile(net) if s.compile else net
            # features of a head-only phase are computed once, when the phase starts
            cached_train = _cached_split(run, cache, applied, "train")
            cached_val = _cached_split(run, cache, applied, "val")
            hook.headstart_on_phase_start(run=run, phase=applied.phase)
        plan = run.freezer.plan
        assert plan is not None
        hook.headstart_on_epoch_start(run=run, epoch=epoch)

        # --- train one epoch --------------------------------------------------------------
        model.train()
        trainable = [p for p in model.parameters() if p.requires_grad]
        loader = _loader(run, "train", train=True, epoch=epoch, augment=cached_train is None)
        loss_sum, seen = torch.zeros((), device=run.device), 0
        bar = tqdm(
            total=steps_per_epoch,
            desc=f"epoch {epoch + 1}/{s.epochs} [{plan.phase.name}]",
            disable=None if s.progress and d.main else True,  # None: no bar when not a terminal
            leave=False,
            dynamic_ncols=True,
        )
        run.optimizer.zero_grad(set_to_none=True)
        for i, batch in enumerate(loader):
            if i >= batches:
                break
            batch = to_device(batch, run.device)
            with autocast(run.device, run.precision):
                if cached_train is not None:  # only the head trains: read the source's features
                    outputs = model.head(cached_train.lookup(batch["_index"], run.device))
                else:
                    outputs = net(_channels_last(batch["inputs"]) if s.channels_last else batch["inputs"])
                loss = task.loss(outputs, batch)
                if regularizer is not None and (penalty := regularizer(model)) is not None:
                    loss = loss + penalty
            (loss / s.grad_accum).backward()  # type: ignore[no-untyped-call]
            loss_sum += loss.detach().float()
            seen += 1
            if (i + 1) % s.grad_accum != 0 and i + 1 != batches:
                continue
            if s.clip_grad_norm is not None:
                torch.nn.utils.clip_grad_norm_(trainable, s.clip_grad_norm)
            scale_lr(run.optimizer, factor(run.step))
            run.optimizer.step()
            run.optimizer.zero_grad(set_to_none=True)
            run.step += 1
            step_metrics: dict[str, Any] = {"lr": run.optimizer.param_groups[-1]["lr"]}
            if run.step % s.log_every == 0:  # the only host-device sync of the hot loop
                step_metrics["loss"] = loss.item()
                bar.set_postfix(loss=f"{step_metrics['loss']:.4f}")
            bar.update(1)
            hook.headstart_on_step_end(run=run, step=run.step, metrics=step_metrics)
        bar.close()

        # --- evaluate, log, checkpoint ----------------------------------------------------
        train_loss = ddp.sum_scalar(loss_sum.item(), d, run.device) / max(ddp.sum_scalar(seen, d, run.device), 1)
        row: dict[str, Any] = {"epoch": epoch, "step": run.step, "phase": plan.phase.name, "train_loss": train_loss}
        if has_val:
            val = evaluate(run, _loader(run, "val", train=False), cached_val)
            hook.headstart_on_evaluate(run=run, epoch=epoch, split="val", metrics=val)
            row.update({f"val_{k}": v for k, v in val.items()})
        value = row.get(f"val_{monitor}", row["train_loss"] if monitor == "loss" and not has_val else math.nan)
        improved = _improved(run, value, higher) or (not has_val and epoch == s.epochs - 1)
        if improved:
            run.best_value, run.best_epoch, run.bad_epochs = value, epoch, 0
        else:
            run.bad_epochs += 1
        row["elapsed_s"] = run.elapsed_s + time.perf_counter() - started
        if s.progress and d.main:
            shown = ", ".join(f"{k}={v:.4f}" for k, v in row.items() if isinstance(v, float) and k != "elapsed_s")
            tqdm.write(f"epoch {epoch + 1}/{s.epochs} [{row['phase']}] {shown}")
        log.append(row)
        hook.headstart_on_epoch_end(run=run, epoch=epoch, metrics=row)

        stop = run.should_stop or (s.patience is not None and run.bad_epochs >= s.patience)
        run.epoch = epoch + 1
        run.elapsed_s += time.perf_counter() - started
        started = time.perf_counter()
        links = ("last", "best") if improved else ("last",)
        if d.main:
            path = ckpt.save_checkpoint(run.run_dir / "checkpoints", f"epoch-{epoch:04d}", model, _state(run), links)
            for kind in links:
                hook.headstart_on_checkpoint(run=run, path=str(path), kind=kind)
        ddp.barrier(d)
        if stop:
            break

    run.freezer.remove_hooks()
    # --- final evaluation with the best weights -----------------------------------------------
    final = log.rows[-1] if log.rows else {}
    best_row = next((r for r in log.rows if r["epoch"] == run.best_epoch), final)
    test = None
    if "test" in task.splits():
        best_dir = run.run_dir / "checkpoints" / "best"
        if best_dir.exists():
            ckpt.load_weights(best_dir.resolve(), model)
        test = evaluate(run, _loader(run, "test", train=False), None)
        hook.headstart_on_evaluate(
            run=run, epoch=run.best_epoch if run.best_epoch is not None else -1, split="test", metrics=test
        )
    run.elapsed_s += time.perf_counter() - started
    peak, peak_kind = peak_memory_mb(run.device)
    summary = {
        "epochs_run": run.epoch,
        "stopped_early": run.epoch < s.epochs,
        "monitor": monitor,
        "final": final,
        "best": {"epoch": run.best_epoch, "value": run.best_value, "metrics": best_row},
        "test": test,
        "trainable_params": run.trainable_params,
        "trainable_params_max": max(run.trainable_params.values(), default=0),
        "total_params": sum(p.numel() for p in model.parameters()),
        "wall_time_s": run.elapsed_s,
        "peak_memory_mb": peak,
        "peak_memory_kind": peak_kind,
        "device": str(run.device),
        "precision": run.precision,
        "processes": d.world,
        "feature_cache": cache.stats,
        "task": task.summary(),
    }
    hook.headstart_on_run_end(run=run, summary=summary)
    return summary
