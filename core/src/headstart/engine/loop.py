"""The training loop, in named steps that read top to bottom; plugins extend it through
``headstart_on_*`` events.

``train`` is the whole story::

    state = setup(run, resume_from)              # device, optimizer, schedule, resume
    on_run_start
    for each epoch:
        start_phase(run, state, epoch)           # on_phase_start when the freeze phase changes
        on_epoch_start
        train_loss = train_epoch(run, state, epoch)   # loss_step per batch; on_step_end per step
        stop = evaluate_and_checkpoint(...)      # on_evaluate, on_epoch_end, on_checkpoint
    summary = summarize(run, state)              # test split with the best weights
    on_run_end

Exactness of resume: the data order of epoch ``e`` is a permutation seeded with ``(seed, e)``
(the same for one process and for N, so a global batch holds the same examples either way), every
RNG state is saved with each end-of-epoch checkpoint, the learning rate is a pure function of the
step, the optimizer keeps one fixed group layout across phases, and under fp16 the loss scaler's
state is saved too. A run resumed from ``last`` therefore ends with the same weights as one that
was never interrupted.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from ..freeze.apply import scale_lr
from ..freeze.plan import FreezePlan, phase_at
from ..plugins import LOGGING_STEPS_ONLY, tracing
from ..registry import get_registry
from . import checkpoint as ckpt
from . import delta, fsdp, probe, run_state
from . import distributed as ddp
from .cached import cached_split
from .delta import Delta
from .device import autocast, peak_memory_mb, reset_peak_memory, to_device
from .evaluate import compute_metrics, evaluate
from .feature_cache import CachedSplit, FeatureCache
from .loaders import CachedBatches, channels_last, make_loader
from .loss_scale import LossScaler
from .metrics_log import MetricsLog
from .nonfinite import NonFiniteWatch, diverged, grad_norm, norm_read, weights_finite
from .optim import make_optimizer, stepping_only
from .run_state import RunContext
from .schedule import lr_factor

#: In a head-only phase on cached features, the most seconds of training between two checkpoints
#: (an epoch that stops the run or ends the phase is always written; one that improves ``best``
#: is held in memory and written with the next).
CACHED_CHECKPOINT_S = 2.0


def train(run: RunContext, resume_from: Path | None = None) -> dict[str, Any]:
    """Train ``run`` to the end (or until early stopping); return the content of summary.json."""
    state = setup(run, resume_from)
    run.hook.headstart_on_run_start(run=run)
    for epoch in range(run.epoch, run.settings.epochs):
        if epoch < run.epoch:
            continue  # a converged probe (fit_head) stands for the rest of its phase
        run.epoch = epoch
        start_phase(run, state, epoch)
        run.hook.headstart_on_epoch_start(run=run, epoch=epoch)
        train_loss = fit_head(run, state, epoch) if state.fit_head else train_epoch(run, state, epoch)
        if evaluate_and_checkpoint(run, state, epoch, train_loss):
            break
    run.freezer.remove_hooks()
    summary = summarize(run, state)
    run.hook.headstart_on_run_end(run=run, summary=summary)
    return summary


@dataclass
class LoopState:
    """What the steps share besides the ``RunContext``: fixed by ``setup``, except the network
    and cached features of the current phase (set by ``start_phase``) and the wall-clock mark."""

    monitor: str  # the metric that picks ``best``
    higher: bool  # whether a higher ``monitor`` is better
    has_val: bool
    log: MetricsLog
    cache: FeatureCache
    batches: int  # training batches per epoch (capped by ``max_steps_per_epoch``)
    steps_per_epoch: int  # optimizer steps per epoch
    lr_factor: Callable[[int], float]  # of the optimizer step
    started: float  # time.perf_counter() when the current stretch of wall time began
    net: Any  # what the training forward calls: the model, DDP-wrapped and compiled as asked
    watch: NonFiniteWatch  # the first optimizer step with a non-finite loss or gradient
    cached_train: CachedSplit | None = None
    cached_val: CachedSplit | None = None
    skipped_steps: int = 0  # optimizer steps of the current epoch skipped as non-finite
    delta: Delta | None = None  # what checkpoints store when most of the model stays frozen
    fit_head: bool = False  # this phase's linear head is fit by L-BFGS (the policy's solver)
    skip_to: int = 0  # the first epoch after a fitted phase
    row_extra: dict[str, Any] = field(default_factory=dict)  # added to the epoch's metrics row
    probe: dict[str, Any] = field(default_factory=dict)  # each fitted phase's probe result
    saved_at: float = field(default_factory=time.perf_counter)  # when the last checkpoint was written
    held_best: tuple[int, dict[str, torch.Tensor], dict[str, Any]] | None = None  # not written yet: _checkpoint_due


# --- setup ------------------------------------------------------------------------------------


def setup(run: RunContext, resume_from: Path | None = None) -> LoopState:
    """Model on its device, the optimizer, the monitor, the logs, the schedule; resume if asked."""
    s, d = run.settings, run.dist
    if s.batch_size % d.world:
        raise ValueError(
            f"trainer.batch_size = {s.batch_size} (the global batch) must divide evenly across {d.world} processes"
        )
    started = time.perf_counter()
    small = delta.for_run(
        run.model,
        [run.freezer.compute(p).trainable_names for p in run.phases],
        run.source.describe(),
        run.freezer.moving_buffers(run.phases),
    )
    reset_peak_memory(run.device)
    if any(t.device != run.device for t in (*run.model.parameters(), *run.model.buffers())):
        run.model.to(run.device)  # a walk over every module even when nothing moves: only when needed
    if s.channels_last:
        run.model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    fsdp.shard(run)  # trainer.strategy: fsdp on several processes: the parameters become shards
    run.optimizer = _make_optimizer(run)
    run.loss_scaler = LossScaler(run.device, enabled=run.precision == "fp16")
    monitor, higher = _monitor(run)
    log = MetricsLog(run.run_dir, write=d.main)
    cache = FeatureCache(
        s.feature_cache,
        Path(s.feature_cache_dir or run.files.feature_cache),
        s.feature_cache_max_mb,
        shared=s.feature_cache_dir is not None,
    )
    if resume_from is not None:
        run_state.restore(run, resume_from)
    log.load(before_epoch=run.epoch)

    batches = len(make_loader(run, "train", train=True))
    if s.max_steps_per_epoch is not None:
        batches = min(batches, s.max_steps_per_epoch * s.grad_accum)
    steps_per_epoch = math.ceil(batches / s.grad_accum)
    total_steps = steps_per_epoch * s.epochs
    return LoopState(
        monitor=monitor,
        higher=higher,
        has_val="val" in run.task.splits(),
        log=log,
        cache=cache,
        batches=batches,
        steps_per_epoch=steps_per_epoch,
        lr_factor=lr_factor(s.schedule, total_steps, s.warmup_steps or math.ceil(s.warmup_ratio * total_steps)),
        started=started,
        net=run.model,
        watch=NonFiniteWatch(run.device),
        delta=small,
    )


def _make_optimizer(run: RunContext) -> torch.optim.Optimizer:
    return make_optimizer(run.freezer.param_groups(), run.settings.optimizer, run.device, run.settings.momentum)


def _monitor(run: RunContext) -> tuple[str, bool]:
    """The metric that picks ``best`` and whether higher is better."""
    name = run.settings.monitor or (run.task.metrics[0] if run.task.metrics else "loss")
    metrics = get_registry().metrics
    return name, (name != "loss" and (metrics[name][1].higher_is_better if name in metrics else True))


def start_phase(run: RunContext, state: LoopState, epoch: int) -> None:
    """Apply the freeze phase of ``epoch`` when it differs from the current one."""
    index = phase_at(run.phases, epoch)
    if index == run.freezer.phase_index:
        return
    applied = run.freezer.apply(run.phases[index], index, run.optimizer)
    if run.optimizer is not None:
        run.optimizer.zero_grad(set_to_none=True)  # every parameter: nothing of an earlier phase stays
    run.trainable_params[applied.phase.name] = applied.trainable_numel
    state.net = ddp.wrap(run.model, run.dist, run.device)  # DDP sees exactly the parameters that train now
    state.net = torch.compile(state.net) if run.settings.compile else state.net
    # features of a head-only phase are computed once, when the phase starts
    state.cached_train = _cached_split(run, state.cache, applied, "train")
    state.cached_val = _cached_split(run, state.cache, applied, "val")
    state.fit_head = getattr(run.policy, "solver", "sgd") == "lbfgs" and probe.applies(
        run.model.head, state.cached_train
    )
    run.hook.headstart_on_phase_start(run=run, phase=applied.phase)


def _cached_split(run: RunContext, cache: FeatureCache, plan: FreezePlan, split: str) -> CachedSplit | None:
    """Cached features of ``split`` when ``plan`` trains only the head (else None): engine/cached.py."""
    return cached_split(run, cache, plan, split)


# --- the loss step and one training epoch -----------------------------------------------------


def loss_step(run: RunContext, state: LoopState, batch: dict[str, Any]) -> torch.Tensor:
    """Forward ``batch`` (already on the device) and return its loss, the policy's penalty included."""
    with autocast(run.device, run.precision):
        if state.cached_train is not None:  # only the head trains: read the source's features
            outputs = run.model.head(state.cached_train.features_of(batch, run.device))
        else:
            outputs = state.net(channels_last(batch["inputs"]) if run.settings.channels_last else batch["inputs"])
        loss = run.task.loss(outputs, batch)
        if (penalty := run.policy.regularizer(run.model)) is not None:
            loss = loss + penalty
    return loss


def train_epoch(run: RunContext, state: LoopState, epoch: int) -> float:
    """One pass over this epoch's training batches; the mean training loss over every process."""
    s, optimizer, scaler = run.settings, run.optimizer, run.loss_scaler
    assert optimizer is not None and scaler is not None and run.freezer.plan is not None
    (run.model.head if state.cached_train is not None else run.model).train()  # the backbone does not run
    trainable = run.freezer.trainable_params()
    loader = make_loader(
        run, "train", train=True, epoch=epoch, augment=state.cached_train is None, cached=state.cached_train
    )
    loss_sum, seen = torch.zeros((), device=run.device), torch.zeros((), device=run.device)
    counted = 0  # batches in the mean (on_nonfinite: stop), without a device op per step
    skipped = 0
    bar: Any = (
        tqdm(
            total=state.steps_per_epoch,
            desc=f"epoch {epoch} ({epoch + 1}/{s.epochs}) [{run.freezer.plan.phase.name}]",
            disable=None,  # no bar when not a terminal
            leave=False,
            dynamic_ncols=True,
        )
        if s.progress and run.dist.main
        else _NO_BAR
    )
    every_step = _listened_every_step(run)
    _clear_grads(trainable)  # nothing of a fit stays (an earlier phase's: cleared when this one started)
    with stepping_only(optimizer, trainable):  # a step looks for gradients among these alone
        on_device = isinstance(loader, CachedBatches)  # built from the cache, on the run's device
        for i, batch in enumerate(loader):
            if i >= state.batches:
                break
            loss = loss_step(run, state, batch if on_device else to_device(batch, run.device))
            # fp16: the loss scaled up so small gradients survive
            scaler.backward(loss / s.grad_accum if s.grad_accum > 1 else loss)
            value = loss.detach().float()
            if s.on_nonfinite == "skip":  # a bad loss stays out of the epoch's mean; the run goes on
                finite = torch.isfinite(value)
                loss_sum += torch.where(finite, value, 0.0)
                seen += finite
            else:  # a bad loss ends the run at the next check: no row ever shows this mean
                loss_sum += value
                counted += 1
            if (i + 1) % s.grad_accum != 0 and i + 1 != state.batches:
                continue  # accumulate gradients over grad_accum batches
            scaler.unscale(optimizer)  # fp16: true gradients before clipping and their norm
            norm = grad_norm(trainable, s.clip_grad_norm) if norm_read(s, scaler.enabled) else None
            watched = None if scaler.enabled else norm  # fp16: overflowed gradients are the scaler's to skip
            if s.on_nonfinite == "skip" and bool(state.watch.bad(loss, watched)):  # one sync per step
                scaler.discard()
                _clear_grads(trainable)
                run.step, skipped = run.step + 1, skipped + 1
                bar.update(1)
                continue
            state.watch.record(run.step + 1, value, watched)  # on the device: read at the sync points
            scale_lr(optimizer, state.lr_factor(run.step))
            scaler.step(optimizer, norm, run.step + 1)  # fp16: skipped if the gradients overflowed
            _clear_grads(trainable)
            run.step += 1
            step_metrics: dict[str, Any] = {"lr": optimizer.param_groups[-1]["lr"]}
            if run.step % s.log_every == 0:  # the only host-device sync of the hot loop
                step_metrics["loss"] = loss.item()
                if scaler.enabled:
                    step_metrics["loss_scale"] = scaler.scaler.get_scale()
                _check_divergence(run, state, epoch)
                bar.set_postfix(loss=f"{step_metrics['loss']:.4f}")
            bar.update(1)
            if every_step or "loss" in step_metrics:
                run.hook.headstart_on_step_end(run=run, step=run.step, metrics=step_metrics)
    bar.close()
    _check_divergence(run, state, epoch)
    if skipped and skipped == state.steps_per_epoch:
        raise diverged(
            "every optimizer step had a non-finite loss or gradients", run.step, epoch, _diverged_hint(run, epoch)
        )
    state.skipped_steps = skipped
    d = run.dist
    in_mean = seen.item() if s.on_nonfinite == "skip" else float(counted)
    return ddp.sum_scalar(loss_sum.item(), d, run.device) / max(ddp.sum_scalar(in_mean, d, run.device), 1)


class _NoBar:
    """What the loop calls on a progress bar, doing nothing (``trainer.progress: false``)."""

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix(self, **_: Any) -> None:
        pass

    def close(self) -> None:
        pass


_NO_BAR = _NoBar()


def _listened_every_step(run: RunContext) -> bool:
    """Whether a ``headstart_on_step_end`` implementation wants every step, not only logging
    steps (``plugins.logging_steps_only``), or hook calls are traced."""
    impls = getattr(run.hook.headstart_on_step_end, "get_hookimpls", None)
    return impls is None or tracing() or any(not getattr(i.function, LOGGING_STEPS_ONLY, False) for i in impls())


def _clear_grads(trainable: list[torch.nn.Parameter]) -> None:
    """``zero_grad(set_to_none=True)`` for the parameters that train: only they get gradients,
    and a head over a frozen source then clears its few tensors, not every parameter's slot."""
    for p in trainable:
        p.grad = None


def _check_divergence(run: RunContext, state: LoopState, epoch: int) -> None:
    """Raise :class:`TrainingDiverged` if a step went bad since the last check (one sync)."""
    hint = partial(_diverged_hint, run, epoch)  # written only when it raises
    state.watch.check(epoch, hint)
    if run.loss_scaler is not None:
        run.loss_scaler.check(epoch, hint)  # fp16: too many overflows in a row


def _diverged_hint(run: RunContext, epoch: int) -> str:
    saved = f"checkpoints/last (epoch {epoch - 1}) is intact" if epoch else "no checkpoint was written"
    s = run.settings  # only what would change something: nothing already set as suggested
    clip = s.clip_grad_norm
    tries = [f"a lower trainer.lr (now {run.freezer.lr:g})"]
    tries.append(f"a lower trainer.clip_grad_norm (now {clip:g})" if clip else "trainer.clip_grad_norm: 1.0")
    if s.precision in ("bf16", "fp16") or (s.precision == "auto" and run.device.type != "cpu"):
        tries.append("trainer.precision: fp32")
    if s.on_nonfinite == "stop":
        tries.append("trainer.on_nonfinite: skip")
    return f"nothing of this epoch was saved ({saved}). Try {', '.join(tries[:-1])} or {tries[-1]}"


def fit_head(run: RunContext, state: LoopState, epoch: int) -> float:
    """Fit the phase's linear head on the cached features to convergence (L-BFGS, the L2 strength
    chosen on ``val``; see ``engine/probe.py``). The fit stands for every epoch of the phase: the
    step count moves on as if they had run (so a later phase's schedule is unchanged) and the
    loop goes on at the next phase. Returns the training loss of the chosen head."""
    assert state.cached_train is not None and run.freezer.plan is not None
    task = run.task

    def score(outputs: Any, batch: dict[str, Any]) -> float:
        if state.monitor == "loss":
            return float(task.loss(outputs, batch))
        preds, refs = task.predictions(outputs, batch)
        return compute_metrics(task.metrics, preds, refs).get(state.monitor, math.nan)

    try:
        result = probe.fit_probe(
            run.model.head,
            state.cached_train,
            state.cached_val,
            task.loss,
            score,
            higher_is_better=state.higher,
            device=run.device,
            # what score() measures: equal inputs and this give the same fit (seeds, rates of a matrix)
            share=json.dumps(
                {"task": run.config["task"], "metrics": list(task.metrics), "monitor": state.monitor},
                sort_keys=True,
                default=str,
            ),
        )
    except probe.NotApplicable:
        state.fit_head = False
        return train_epoch(run, state, epoch)
    end = next((p.start_epoch for p in run.phases if p.start_epoch > epoch), run.settings.epochs)
    run.step += state.steps_per_epoch * (end - epoch)
    state.row_extra = {"probe_l2": result.l2, "probe_C": result.C, "probe_iterations": result.iterations}
    state.probe[run.freezer.plan.phase.name] = result.to_dict()
    state.skip_to = end
    return result.train_loss


# --- evaluation and checkpoint, at the end of each epoch --------------------------------------


def evaluate_and_checkpoint(run: RunContext, state: LoopState, epoch: int, train_loss: float) -> bool:
    """Evaluate on ``val``, log the epoch's row, save ``last`` (and ``best`` when it improved).
    Return whether training stops here (a plugin asked, or patience ran out)."""
    s, d = run.settings, run.dist
    assert run.freezer.plan is not None
    row: dict[str, Any] = {
        "epoch": epoch,
        "step": run.step,
        "phase": run.freezer.plan.phase.name,
        "train_loss": train_loss,
    }
    if s.on_nonfinite == "skip":
        row["skipped_steps"] = state.skipped_steps
    if run.loss_scaler is not None and run.loss_scaler.enabled:
        row.update(run.loss_scaler.end_epoch())  # overflow_steps, loss_scale
    if not weights_finite(run.model, state.delta.keys if state.delta else None):  # e.g. a plugin's event
        raise diverged("non-finite weights", run.step, epoch, _diverged_hint(run, epoch))
    row.update(state.row_extra)
    state.row_extra = {}
    if state.has_val:
        val = evaluate(run, make_loader(run, "val", train=False, cached=state.cached_val), state.cached_val)
        run.hook.headstart_on_evaluate(run=run, epoch=epoch, split="val", metrics=val)
        row.update({f"val_{k}": v for k, v in val.items()})
    value = row.get(f"val_{state.monitor}", train_loss if state.monitor == "loss" and not state.has_val else math.nan)
    last_epoch = not state.has_val and epoch == s.epochs - 1 and math.isfinite(train_loss)
    improved = _improved(run, value, state.higher) or last_epoch
    if improved:
        run.best_value, run.best_epoch, run.bad_epochs = value, epoch, 0
    else:
        run.bad_epochs += 1
    row["elapsed_s"] = run.elapsed_s + time.perf_counter() - state.started
    if s.progress and d.main:
        shown = ", ".join(f"{k}={v:.4f}" for k, v in row.items() if isinstance(v, float) and k != "elapsed_s")
        tqdm.write(f"epoch {epoch} ({epoch + 1}/{s.epochs}) [{row['phase']}] {shown}")
    state.log.append(row, flush=False)  # written with the checkpoint: a resume redoes what follows it
    run.hook.headstart_on_epoch_end(run=run, epoch=epoch, metrics=row)

    stop = run.should_stop or (s.patience is not None and run.bad_epochs >= s.patience)
    run.epoch = max(epoch + 1, state.skip_to)
    _add_elapsed(run, state)
    due = stop or _checkpoint_due(run, state, epoch)
    if improved and not due and state.delta is not None:  # not due: a head-only phase on cached features
        state.held_best = _hold(run, state, epoch)  # written with the next checkpoint
        return False
    if not (improved or due):
        return False
    state.log.flush()
    held, state.held_best = state.held_best, None
    if held is not None and not improved:  # the best epoch since the last checkpoint, kept in memory
        _write(run, state, *held, ("best",))
    keys = state.delta.keys if state.delta else None
    weights, saved = (
        run_state.checkpoint_weights(run, keys),
        run_state.checkpoint_state(run),
    )  # every rank: fsdp gathers
    _write(run, state, epoch, weights, saved, ("last", "best") if improved else ("last",))
    ddp.barrier(d)
    state.saved_at = time.perf_counter()
    return stop


def _write(
    run: RunContext,
    state: LoopState,
    epoch: int,
    weights: torch.nn.Module | dict[str, torch.Tensor],
    saved: dict[str, Any],
    links: tuple[str, ...],
) -> None:
    """Write epoch ``epoch``'s checkpoint (on the main process), point ``links`` at it, and tell
    the plugins."""
    if not run.dist.main:
        return
    path = ckpt.save_checkpoint(
        run.files.checkpoints,
        f"epoch-{epoch:04d}",
        weights,
        saved,
        links,
        keys=state.delta.keys if state.delta else None,
        metadata=state.delta.metadata if state.delta else None,
    )
    for kind in links:
        run.hook.headstart_on_checkpoint(run=run, path=str(path), kind=kind)


def _hold(run: RunContext, state: LoopState, epoch: int) -> tuple[int, dict[str, torch.Tensor], dict[str, Any]]:
    """A copy of what epoch ``epoch``'s checkpoint would hold (the delta's entries and the
    training state), to write later."""
    assert state.delta is not None
    weights = {k: v.detach().clone() for k, v in delta.entries(run.model, state.delta.keys).items()}
    saved = run_state.checkpoint_state(run)  # built afresh, but for the optimizer's per-parameter state
    optimizer = saved["optimizer"]
    live = optimizer["state"]  # each parameter's state dict, whose tensors the next steps change in place
    saved["optimizer"] = {
        **optimizer,
        "state": {
            k: {n: v.clone() if isinstance(v, torch.Tensor) else v for n, v in st.items()} for k, st in live.items()
        },
    }
    return epoch, weights, saved


def _checkpoint_due(run: RunContext, state: LoopState, epoch: int) -> bool:
    """Whether an epoch that does not stop the run writes its checkpoint: always, except in a
    head-only phase on cached features (which never runs under several processes), where an
    epoch costs milliseconds and writing it cost as much again. There the checkpoint waits for
    the phase's last epoch or :data:`CACHED_CHECKPOINT_S` seconds after the last one; meanwhile
    an epoch that improves ``best`` is held in memory (a delta checkpoint's few tensors; a full
    checkpoint is written at once) and written with the next checkpoint."""
    if state.cached_train is None:
        return True
    phase_end = next((p.start_epoch for p in run.phases if p.start_epoch > epoch), run.settings.epochs)
    return run.epoch >= phase_end or time.perf_counter() - state.saved_at >= CACHED_CHECKPOINT_S


def _improved(run: RunContext, value: float, higher: bool) -> bool:
    if not math.isfinite(value):
        return False
    if run.best_value is None:
        return True
    delta = value - run.best_value if higher else run.best_value - value
    return delta > run.settings.min_delta


def _add_elapsed(run: RunContext, state: LoopState) -> None:
    """Count the wall time since the last mark into ``run.elapsed_s`` (saved with checkpoints)."""
    now = time.perf_counter()
    run.elapsed_s += now - state.started
    state.started = now


# --- summary ----------------------------------------------------------------------------------


def summarize(run: RunContext, state: LoopState) -> dict[str, Any]:
    """Evaluate ``test`` with the best weights; return the content of summary.json."""
    s, task, rows = run.settings, run.task, state.log.rows
    final = rows[-1] if rows else {}
    best_row = next((r for r in rows if r["epoch"] == run.best_epoch), final)
    test = None
    if "test" in task.splits():
        best_dir = run.files.best
        if best_dir.exists():
            run_state.load_weights(run, best_dir.resolve())
        plan = run.freezer.plan  # a head-only last phase: the backbone is the one the cache was keyed on
        cached = _cached_split(run, state.cache, plan, "test") if plan is not None else None
        test = evaluate(run, make_loader(run, "test", train=False, cached=cached), cached)
        run.hook.headstart_on_evaluate(
            run=run, epoch=run.best_epoch if run.best_epoch is not None else -1, split="test", metrics=test
        )
    _add_elapsed(run, state)
    peak, peak_kind = peak_memory_mb(run.device)
    return {
        "epochs_run": run.epoch,
        "stopped_early": run.epoch < s.epochs,
        "monitor": state.monitor,
        "final": final,
        "best": {"epoch": run.best_epoch, "value": run.best_value, "metrics": best_row},
        "test": test,
        "trainable_params": run.trainable_params,
        "trainable_params_max": max(run.trainable_params.values(), default=0),
        "total_params": sum(p.numel() for p in run.model.parameters()),
        "wall_time_s": run.elapsed_s,
        "peak_memory_mb": peak,
        "peak_memory_kind": peak_kind,
        "device": str(run.device),
        "precision": run.precision,
        "processes": run.dist.world,
        "strategy": ("fsdp" if ddp.sharded(run.model) else "ddp") if run.dist.enabled else None,
        "feature_cache": state.cache.stats,
        "probe": _probe_summary(state),
        "task": task.summary(),
    }


def _probe_summary(state: LoopState) -> dict[str, Any]:
    """Per fitted phase: the solver and the chosen L2 strength (from the metrics rows, so a
    resumed run reports a fit made before the interruption), with the whole fit when known."""
    out: dict[str, Any] = {}
    for row in state.log.rows:
        if row.get("probe_l2") is not None:
            out[row["phase"]] = {"solver": "lbfgs", "l2": row["probe_l2"], "C": row.get("probe_C")}
    for phase, result in state.probe.items():
        out[phase] = result
    return out
