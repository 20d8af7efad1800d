"""FSDP2 (``trainer.strategy: fsdp``) on CPU with gloo: 2 processes hold half of every parameter
each; losses match one process, checkpoints are the single-process files, resume is exact (the
2-process runs come from one torchrun launch: ``conftest.two_process_runs``)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from ..conftest import toy_config
from .conftest import summary


@pytest.mark.slow
def test_fsdp_matches_one_process_and_resumes_exactly_across_a_phase_change(
    tmp_path: Path, two_process_runs: Path
) -> None:
    """``two_process_runs``: ``fsdp`` (2 epochs), and ``fsdp-resumed`` (1 epoch, then resumed for a
    second: a new phase, the next block joins) under fsdp on 2 processes."""
    from headstart.experiment import load_config, run_experiment

    _, one = run_experiment(load_config(two_process_runs / "fsdp2.yaml"), tmp_path / "one")
    two = summary(two_process_runs / "fsdp")
    assert (one["processes"], one["strategy"], two["processes"], two["strategy"]) == (1, None, 2, "fsdp")
    for key in ("train_loss", "val_loss", "val_accuracy"):
        assert two["final"][key] == pytest.approx(one["final"][key], rel=1e-4, abs=1e-5), key
    # the same checkpoint files as one process: every key, full shapes, close values
    a = load_file(tmp_path / "one" / "checkpoints" / "last" / "model.safetensors")
    b = load_file(two_process_runs / "fsdp" / "checkpoints" / "last" / "model.safetensors")
    assert sorted(a) == sorted(b)
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=1e-4, atol=1e-6)
    sa = torch.load(tmp_path / "one" / "checkpoints" / "last" / "state.pt", weights_only=True)["optimizer"]
    sb = torch.load(two_process_runs / "fsdp" / "checkpoints" / "last" / "state.pt", weights_only=True)["optimizer"]
    assert sa["param_groups"] == sb["param_groups"] and sorted(sa["state"]) == sorted(sb["state"])
    for i, entry in sa["state"].items():
        for k, v in entry.items():
            torch.testing.assert_close(sb["state"][i][k], v, rtol=1e-4, atol=1e-6)

    resumed = summary(two_process_runs / "fsdp-resumed")
    assert resumed["processes"] == 2 and resumed["strategy"] == "fsdp"
    assert resumed["final"] == {**two["final"], "elapsed_s": resumed["final"]["elapsed_s"]}
    c = load_file(two_process_runs / "fsdp-resumed" / "checkpoints" / "last" / "model.safetensors")
    assert all(torch.equal(c[k], b[k]) for k in b)


def test_a_policy_with_a_penalty_is_refused_under_fsdp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from headstart.engine import distributed as ddp
    from headstart.engine.loop import train
    from headstart.testing import run_context

    config = toy_config(trainer={"batch_size": 8, "progress": False, "strategy": "fsdp"})
    run = run_context(config, tmp_path, dist=ddp.Dist(0, 2, 0))
    monkeypatch.setattr(type(run.policy), "regularizer", lambda self, model: torch.zeros(()))
    with pytest.raises(ValueError, match=r"strategy: fsdp does not support policy 'full': its penalty"):
        train(run)


def test_the_strategy_is_checked() -> None:
    from headstart.experiment.config import parse_config
    from headstart.options import ConfigError

    with pytest.raises(ConfigError, match=r"trainer.strategy.*'ddp', 'fsdp'|trainer.strategy.*ddp.*fsdp"):
        parse_config(toy_config(trainer={"strategy": "zero3"}))


def test_fp16_is_refused_under_fsdp(tmp_path: Path) -> None:
    from headstart.engine import distributed as ddp
    from headstart.engine.loop import train
    from headstart.testing import run_context

    run = run_context(
        toy_config(trainer={"batch_size": 8, "progress": False, "strategy": "fsdp"}), tmp_path, dist=ddp.Dist(0, 2, 0)
    )
    run.precision = "fp16"
    with pytest.raises(ValueError, match=r"strategy: fsdp does not support trainer.precision: fp16"):
        train(run)
