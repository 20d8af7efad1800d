"""The ``trainer`` section of an experiment: every knob of the training loop, with defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Literal


@dataclass
class TrainerSettings:
    """Options of the training engine. Each field is a key of the ``trainer`` section.

    * ``epochs``, ``batch_size``, ``eval_batch_size`` (default: ``batch_size``).
    * ``lr``: base learning rate; each block trains at ``lr * lr_scale`` from the policy. Unset:
      the policy's default for the source's family; ``auto``: chosen on ``val`` from a short grid
      around that default (see ``experiment/lr.py``).
    * ``optimizer``: ``adamw`` or ``sgd`` (with ``momentum``); ``weight_decay`` applies to
      weights only, never to biases or normalisation parameters.
    * ``schedule``: ``cosine``, ``linear`` or ``constant`` after ``warmup_steps`` (or
      ``warmup_ratio`` of all steps) of linear warmup.
    * ``grad_accum``: micro-batches per optimizer step; ``clip_grad_norm``: max gradient norm
      (null: no clipping).
    * ``monitor``: metric that picks the ``best`` checkpoint and drives early stopping (default:
      the task's first metric; ``loss`` for validation loss); ``patience``: epochs without
      improvement (by more than ``min_delta``) before stopping (null: never stop early).
    * ``device``: ``auto`` (CUDA when available), ``cpu``, ``cuda``, ``cuda:1`` …;
      ``precision``: ``auto`` (bf16 autocast on a GPU that supports it, else fp32), ``fp32``, ``bf16``,
      ``fp16`` (fp16 autocast with dynamic loss scaling, for GPUs without bf16 such as the T4 and
      V100; see ``engine/loss_scale.py``).
    * ``num_workers``: data-loading worker processes (decoding and augmentation run there), or
      ``auto``: on a GPU, the cores this process may use, shared by the processes of its node,
      less one for the training loop, at most 8 (``resolve_workers``); on a CPU 0, because the
      step itself uses every core. Workers prefetch 4 batches each. ``log_every``: optimizer steps between
      loss readings (the only host-device syncs of the hot loop); ``progress``: show a bar.
    * ``max_steps_per_epoch``: cap for smoke tests (null: whole epoch).
    * ``feature_cache``: in phases where only the head trains, compute the source's features once
      and train the head on them — ``auto`` (in memory, on disk past ``feature_cache_max_mb``),
      ``memory``, ``disk`` (under ``feature_cache_dir``, default ``<run>/feature_cache``) or ``off``.
    * ``on_nonfinite``: what a non-finite loss or gradient does — ``stop`` (default: the run ends
      with an error naming the step; the last checkpoint stays as it was; without
      ``clip_grad_norm`` the gradients are not checked per step — a bad one shows in the next
      step's loss or the weights, checked before every checkpoint) or ``skip`` (that
      optimizer step is skipped and counted in the epoch's ``skipped_steps``; costs one
      host-device sync per step).
    * ``loggers``: extra metric writers besides ``metrics.jsonl`` / ``steps.jsonl``:
      ``[tensorboard]`` writes TensorBoard event files to ``<run>/tensorboard`` (the
      ``tensorboard`` package, in core's ``tensorboard`` extra; not imported when off).
    * ``strategy``: how several processes (``headstart run --nproc N``) share the work — ``ddp``
      (each holds the whole model; gradients are averaged) or ``fsdp`` (each holds 1/N of every
      parameter, gradient and optimizer state: PyTorch's FSDP2, for models that do not fit one
      device; see ``engine/fsdp.py``). Same results, same checkpoint files; ignored on one process.
    * ``compile``: ``torch.compile`` the model; ``channels_last``: channels-last memory format for
      4-D (image) inputs and the model (faster convolutions on GPUs).
    """

    epochs: int = 3
    batch_size: int = 32
    eval_batch_size: int | None = None
    lr: float | Literal["auto"] | None = None
    optimizer: Literal["adamw", "sgd"] = "adamw"
    momentum: float = 0.9
    weight_decay: float = 0.01
    schedule: Literal["cosine", "linear", "constant"] = "cosine"
    warmup_steps: int = 0
    warmup_ratio: float = 0.0
    grad_accum: int = 1
    clip_grad_norm: float | None = 1.0
    monitor: str | None = None
    patience: int | None = None
    min_delta: float = 0.0
    device: str = "auto"
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    num_workers: int | Literal["auto"] = "auto"
    log_every: int = 10
    progress: bool = True
    max_steps_per_epoch: int | None = None
    feature_cache: Literal["auto", "memory", "disk", "off"] = "auto"
    feature_cache_dir: str | None = None
    feature_cache_max_mb: float = 2048.0
    on_nonfinite: Literal["stop", "skip"] = "stop"
    loggers: list[Literal["tensorboard"]] = field(default_factory=list)
    strategy: Literal["ddp", "fsdp"] = "ddp"
    compile: bool = False
    channels_last: bool = False

    def __post_init__(self) -> None:
        if self.num_workers != "auto" and (not isinstance(self.num_workers, int) or self.num_workers < 0):
            raise ValueError(f"num_workers must be auto or an integer >= 0, got {self.num_workers!r}")
        for key in ("epochs", "batch_size", "grad_accum", "log_every"):
            if getattr(self, key) < 1:
                raise ValueError(f"{key} must be >= 1, got {getattr(self, key)}")
        if isinstance(self.lr, str) and self.lr != "auto":
            raise ValueError(f"lr must be a number > 0, auto, or unset (the policy's default), got {self.lr!r}")
        if isinstance(self.lr, int | float) and not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ValueError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        if self.patience is not None and self.patience < 1:
            raise ValueError(f"patience must be >= 1 or null, got {self.patience}")


def resolve_workers(setting: int | str, device_type: str, processes_per_node: int = 1) -> int:
    """Data-loading workers for ``trainer.num_workers`` (see ``TrainerSettings``)."""
    if setting != "auto":
        return int(setting)
    if device_type == "cpu":
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(0, min(8, cores // max(processes_per_node, 1) - 1))
