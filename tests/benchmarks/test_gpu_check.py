"""``benchmarks/gpu_check.sh --dry``: the GPU check's whole code path on tiny models on the CPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_check.sh"


@pytest.mark.slow
def test_dry_run_reports_every_model_variant_policy_and_an_exact_resume() -> None:
    env = {**os.environ, "PYTHON": sys.executable}
    out = subprocess.run([str(SCRIPT), "--dry"], capture_output=True, text=True, env=env, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    rows = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    speed = [r for r in rows if r["kind"] == "throughput"]
    assert {(r["model"], r["compile"], r["channels_last"]) for r in speed} == {
        ("resnet50", None, False),
        ("resnet50", "eager", False),
        ("resnet50", None, True),
        ("resnet50", "eager", True),
        ("bert-base", None, False),
        ("bert-base", "eager", False),
        ("wav2vec2-base", None, False),
        ("wav2vec2-base", "eager", False),
    }
    assert all(r["step_s"] > 0 and r["flops_per_step"] > 0 for r in speed)
    memory = {(r["model"], r["policy"]): r for r in rows if r["kind"] == "memory"}
    for model in ("resnet50", "bert-base", "wav2vec2-base"):
        full, top, probe = (memory[model, p]["trainable_params"] for p in ("full", "top-2", "linear-probe"))
        assert full > top > probe > 0
    resumes = {r["run_precision"]: r for r in rows if r["kind"] == "resume"}
    assert set(resumes) == {"auto", "fp16"}
    assert all(r["identical"] is True and r["max_abs_diff"] == 0.0 for r in resumes.values())


def test_without_a_gpu_the_full_check_refuses_clearly() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present: the full check would run")
    env = {**os.environ, "PYTHON": sys.executable}
    out = subprocess.run([str(SCRIPT)], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 2 and "--dry" in out.stderr
