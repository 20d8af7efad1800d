"""Shared helpers of the reliability suite: a tiny toy experiment and checks that a run directory
is intact (complete checkpoints behind every link, a valid metrics history, no leftovers)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from safetensors.torch import load_file

from ..core.conftest import toy_config


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread() -> Any:
    """Forked children run with one torch thread (``faults._in_forked_child``: a child must not
    wait on the parent's thread pool, which ``fork`` does not copy); the runs in this process that
    they are compared with use one thread too, so results stay bit-identical."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny_config(**trainer: Any) -> dict[str, Any]:
    """The toy experiment, 3 epochs of 2 steps, constant schedule (so epochs may be extended)."""
    settings = {"epochs": 3, "batch_size": 16, "lr": 0.01, "progress": False, "log_every": 1, "schedule": "constant"}
    settings.update(trainer)
    return toy_config(trainer=settings)


@pytest.fixture
def experiment(tmp_path: Path) -> Path:
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(tiny_config()), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random BERT in the hub's on-disk format (the NLP plugin's test encoder)."""
    from headstart_nlp.tiny import save_tiny_encoder

    return Path(save_tiny_encoder(tmp_path_factory.mktemp("models") / "tiny-bert", "bert", layers=2, hidden=16))


def rows(run_dir: Path) -> list[dict[str, Any]]:
    """The metrics history; fails on anything that is not one strict-JSON object per line."""
    text = (run_dir / "metrics.jsonl").read_text(encoding="utf-8") if (run_dir / "metrics.jsonl").exists() else ""
    return [json.loads(line, parse_constant=_refuse) for line in text.splitlines()]


def _refuse(name: str) -> Any:
    raise AssertionError(f"bare {name} in a JSON file Headstart wrote")


def strict_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"), parse_constant=_refuse)


def weights(run_dir: Path, link: str = "last") -> dict[str, torch.Tensor]:
    return load_file(str(run_dir / "checkpoints" / link / "model.safetensors"))


def without_time(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "elapsed_s"} for r in history]


def assert_intact(run_dir: Path) -> None:
    """Every link names a complete checkpoint, the history is whole and ordered, and no temporary
    file or directory of a writer is left (after a run that ended, however it ended)."""
    ckpts = run_dir / "checkpoints"
    epochs = [r["epoch"] for r in rows(run_dir)]
    assert epochs == list(range(len(epochs))), f"metrics history out of order or with gaps: {epochs}"
    if ckpts.is_dir():
        for link in ("last", "best"):
            if (ckpts / link).is_symlink():
                target = ckpts / link
                assert (target / "model.safetensors").is_file() and (target / "state.pt").is_file(), link
        if (ckpts / "last").exists():
            last = torch.load(ckpts / "last" / "state.pt", weights_only=True)
            assert len(epochs) >= last["epoch"], "the history lost rows of checkpointed epochs"


def leftovers(run_dir: Path) -> list[str]:
    """Temporary files and directories of writers (``.tmp-*``, ``.old-*``, ``*.tmp-<pid>``)."""
    return sorted(str(p.relative_to(run_dir)) for p in run_dir.rglob(".*") if ".tmp" in p.name or ".old-" in p.name)
