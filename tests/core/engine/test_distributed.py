"""DistributedDataParallel on CPU with gloo: 2 processes, the same global batch, the same result
(the 2-process runs come from one torchrun launch: ``conftest.two_process_runs``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ..conftest import toy_config
from .conftest import DDP_POLICIES, summary


@pytest.mark.slow
@pytest.mark.parametrize("policy", list(DDP_POLICIES))
def test_two_processes_match_one_process(tmp_path: Path, two_process_runs: Path, policy: str) -> None:
    """The same experiment in one process (here) and in two (``two_process_runs``: ``ddp-<policy>``)."""
    from headstart.experiment import load_config, run_experiment

    _, one = run_experiment(load_config(two_process_runs / f"ddp-{policy}.yaml"), tmp_path / "one")
    two_dir = two_process_runs / f"ddp-{policy}"
    two = summary(two_dir)
    assert (one["processes"], two["processes"]) == (1, 2)
    for key in ("train_loss", "val_loss", "val_accuracy"):
        assert two["final"][key] == pytest.approx(one["final"][key], rel=1e-4, abs=1e-5), key
    assert [json.loads(x)["epoch"] for x in (two_dir / "metrics.jsonl").read_text().splitlines()] == [0, 1, 2]
    assert (two_dir / "checkpoints" / "last" / "model.safetensors").is_file()


def test_a_global_batch_that_does_not_split_evenly_is_refused(tmp_path: Path) -> None:
    from headstart.engine import distributed as ddp
    from headstart.engine.loop import train
    from headstart.testing import run_context

    run = run_context(toy_config(trainer={"batch_size": 7, "progress": False}), tmp_path, dist=ddp.Dist(0, 2, 0))
    with pytest.raises(ValueError, match=r"batch_size = 7 .* must divide evenly across 2 processes"):
        train(run)


@pytest.mark.parametrize("wait", [True, False])
def test_shutdown_waits_for_every_rank_before_it_destroys_the_group(
    monkeypatch: pytest.MonkeyPatch, wait: bool
) -> None:
    """A rank that finished meets its peers at a barrier before it tears down its connections; a
    rank that failed (``wait=False``) does not wait for peers that may never come."""
    import torch.distributed as dist

    from headstart.engine import distributed as ddp

    calls: list[str] = []
    monkeypatch.setattr(dist, "is_initialized", lambda: True)
    monkeypatch.setattr(dist, "barrier", lambda: calls.append("barrier"))
    monkeypatch.setattr(dist, "destroy_process_group", lambda: calls.append("destroy"))
    ddp.shutdown(wait=wait)
    assert calls == (["barrier", "destroy"] if wait else ["destroy"])
