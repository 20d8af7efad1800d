"""Divergence is caught: a non-finite loss or gradient stops the run (or skips the step, as
configured), the last checkpoint stays as it was, no non-finite ``best`` is saved, and every JSON
file Headstart writes stays strict JSON."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from headstart.cli import main
from headstart.engine import loop

from .conftest import assert_intact, leftovers, rows, strict_json, tiny_config, weights


def _nan_at_steps(monkeypatch: pytest.MonkeyPatch, steps: set[int]) -> None:
    """The loss of the given optimizer steps (1-based) becomes NaN."""
    original = loop.loss_step

    def loss_step(run: Any, state: Any, batch: Any) -> torch.Tensor:
        loss = original(run, state, batch)
        return loss * math.nan if run.step + 1 in steps else loss

    monkeypatch.setattr(loop, "loss_step", loss_step)


class _NanGrad(torch.autograd.Function):
    """Identity forward; backward turns the incoming gradient into NaN."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        return x.clone()

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        return grad * math.nan


def _nan_gradients_at_steps(monkeypatch: pytest.MonkeyPatch, steps: set[int]) -> None:
    """The given optimizer steps (1-based) get NaN gradients on one parameter, with a finite loss."""
    original = loop.loss_step

    def loss_step(run: Any, state: Any, batch: Any) -> torch.Tensor:
        loss = original(run, state, batch)
        if run.step + 1 not in steps:
            return loss
        p = next(p for p in run.model.parameters() if p.requires_grad)
        return loss + _NanGrad.apply(p.sum()) * 0.0  # type: ignore[no-untyped-call]

    monkeypatch.setattr(loop, "loss_step", loss_step)


def _open_under(folder: Path) -> list[str]:
    """The files under ``folder`` that this process still holds open (Linux's /proc/self/fd)."""
    fds = Path("/proc/self/fd")
    if not fds.is_dir():
        pytest.skip(
            "the open-file check reads /proc/self/fd, which only Linux has (every other assertion of the test ran)"
        )
    held = []
    for fd in os.listdir(fds):
        try:
            held.append(os.readlink(fds / fd))
        except OSError:  # the directory listing's own descriptor, closed by now
            continue
    return [p for p in held if p.startswith(str(folder.resolve()))]


def _exp(tmp_path: Path, **trainer: Any) -> Path:
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(tiny_config(**trainer)), encoding="utf-8")
    return path


def test_a_huge_learning_rate_stops_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = tmp_path / "run"
    assert main(["run", str(_exp(tmp_path)), "--run-dir", str(run_dir), "--set", "trainer.lr=1e6"]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith("headstart: error: training diverged: non-finite ")
    assert " at step " in err and "Try a lower trainer.lr (now 1e+06)" in err
    assert not (run_dir / "summary.json").exists()
    for link in ("last", "best"):  # whatever was saved before the divergence is finite
        if (run_dir / "checkpoints" / link).exists():
            assert all(torch.isfinite(t).all() for t in weights(run_dir, link).values())
    rows(run_dir)  # strict JSON
    assert_intact(run_dir)
    assert leftovers(run_dir) == [] and not (run_dir / ".lock").exists()
    assert _open_under(run_dir) == []  # the step log (and every other file) is closed


def test_stop_names_the_step_and_keeps_the_last_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "run"
    _nan_at_steps(monkeypatch, {5})  # 3 steps per epoch: the second epoch's second step
    assert main(["run", str(_exp(tmp_path)), "--run-dir", str(run_dir)]) == 1
    err = capsys.readouterr().err
    assert "training diverged: non-finite loss at step 5 (epoch 1)" in err  # epochs from 0, as in the files
    assert "checkpoints/last (epoch 0) is intact" in err
    assert (run_dir / "checkpoints" / "last").resolve().name == "epoch-0000"
    assert [r["epoch"] for r in rows(run_dir)] == [0]
    # the run goes on from its last good checkpoint once the cause is gone
    monkeypatch.undo()
    assert main(["run", "--resume", str(run_dir)]) == 0
    assert [r["epoch"] for r in rows(run_dir)] == [0, 1, 2]


@pytest.mark.parametrize(
    "step,caught",
    [(5, "non-finite loss at step 6 (epoch 1)"), (6, "non-finite weights at step 6 (epoch 1)")],
    ids=["mid-epoch", "last-step"],
)
def test_non_finite_gradients_without_clipping_are_never_saved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], step: int, caught: str
) -> None:
    # without clip_grad_norm the gradient norm is not computed per step (it would cost a
    # reduction per step): a bad step shows in the next loss, or in the weights before the save
    run_dir = tmp_path / "run"
    _nan_gradients_at_steps(monkeypatch, {step})
    assert main(["run", str(_exp(tmp_path, clip_grad_norm=None)), "--run-dir", str(run_dir)]) == 1
    err = capsys.readouterr().err
    assert f"training diverged: {caught}" in err and "checkpoints/last (epoch 0) is intact" in err, err
    assert (run_dir / "checkpoints" / "last").resolve().name == "epoch-0000"
    assert [r["epoch"] for r in rows(run_dir)] == [0]
    for link in ("last", "best"):
        assert all(torch.isfinite(t).all() for t in weights(run_dir, link).values())


def test_skip_drops_the_bad_step_and_trains_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run_dir = tmp_path / "run"
    _nan_at_steps(monkeypatch, {5})
    argv = ["run", str(_exp(tmp_path)), "--run-dir", str(run_dir), "--set", "trainer.on_nonfinite=skip"]
    assert main(argv) == 0
    history = rows(run_dir)
    assert [r["skipped_steps"] for r in history] == [0, 1, 0]
    assert all(math.isfinite(r["train_loss"]) for r in history)
    assert all(torch.isfinite(t).all() for t in weights(run_dir, "best").values())
    strict_json(run_dir / "summary.json")


def test_skip_gives_up_when_every_step_is_bad(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "run"
    _nan_at_steps(monkeypatch, set(range(1, 100)))
    argv = ["run", str(_exp(tmp_path)), "--run-dir", str(run_dir), "--set", "trainer.on_nonfinite=skip"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "every optimizer step had a non-finite loss or gradients" in err
    assert "on_nonfinite: skip" not in err and "precision: fp32" not in err  # what is set already is not a try
    assert err.strip().endswith("Try a lower trainer.lr (now 0.01) or a lower trainer.clip_grad_norm (now 1)")
    assert not (run_dir / "checkpoints" / "best").exists()


def test_non_finite_metrics_are_written_as_null(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A metric that is NaN or infinite (a validation loss that overflowed) never reaches a JSON
    file as a bare NaN/Infinity, and never picks ``best``."""
    original = loop.evaluate

    def evaluate(*args: Any, **kwargs: Any) -> dict[str, float]:
        return {**original(*args, **kwargs), "loss": math.inf, "accuracy": math.nan}

    monkeypatch.setattr(loop, "evaluate", evaluate)
    run_dir = tmp_path / "run"
    assert main(["run", str(_exp(tmp_path)), "--run-dir", str(run_dir)]) == 0
    history = rows(run_dir)
    assert all(r["val_loss"] is None and r["val_accuracy"] is None for r in history)
    summary = strict_json(run_dir / "summary.json")
    assert summary["best"]["value"] is None and summary["test"]["loss"] is None
    assert "nan" not in (run_dir / "metrics.csv").read_text().lower()
