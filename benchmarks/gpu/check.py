"""The GPU check: throughput, model FLOPs utilisation and peak memory of ResNet-50, BERT-base
(512 tokens) and wav2vec 2.0 base fine-tuning in bf16, then one short real run that resumes exactly.

Run through ``benchmarks/gpu_check.sh`` (≤ 8 minutes on one H100-class GPU). Prints one JSON line
per measurement:

* ``kind: throughput``: full fine-tuning, eager and ``torch.compile`` (ResNet-50 also
  ``channels_last``); items/s, step time, MFU against the card's dense bf16 peak, peak memory;
* ``kind: memory``: peak memory and step time per policy (full, top-2 blocks, linear probe), eager;
* ``kind: resume``: a short ``headstart run`` interrupted inside its second epoch and resumed,
  compared with the same run uninterrupted (weights bit-identical or the largest difference);
  once with ``trainer.precision: auto`` and once with ``fp16`` (``run_precision``).

``--dry``: tiny models and inputs on the CPU (ResNet-18 and 2-layer BERT / wav2vec 2.0 stand in
for the three), compile with the ``eager`` backend — the same code path in seconds; the test suite
runs it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import throughput  # benchmarks/throughput.py: the workloads and measure()

from headstart.engine.device import select_device, select_precision


def emit(row: dict[str, Any]) -> None:
    print(json.dumps(row), flush=True)


def sizes(dry: bool, gpu: bool) -> throughput.Sizes:
    if gpu and not dry:
        return throughput.GPU_SIZES
    return throughput.Sizes(image_px=32, image_batch=2, tokens=16, text_batch=2, audio_s=0.5, audio_batch=2)


def resume_check(tmp: Path, device: str, dry: bool, precision: str = "auto") -> dict[str, Any]:
    """A short real run, interrupted after its first epoch's checkpoint and resumed, vs uninterrupted
    (under ``precision``: fp16 also checks that the loss scaler's state resumes)."""
    from safetensors.torch import load_file

    from headstart import hookimpl, parse_config, run_experiment
    from headstart.plugins import get_plugin_system

    config = {
        "seed": 0,
        "source": {"name": "toy:mlp", "in_features": 32, "width": 64 if dry else 1024, "depth": 2 if dry else 8},
        "task": {
            "name": "vector-classification",
            "synthetic": {"classes": 10, "per_class": 8 if dry else 400, "in_features": 32},
        },
        "policy": {"name": "gradual-unfreeze"},  # a phase change inside the run
        "trainer": {
            "epochs": 3,
            "batch_size": 16 if dry else 128,
            "progress": False,
            "device": device,
            "precision": precision,
        },
    }

    class Interrupt:
        @hookimpl
        def headstart_on_epoch_end(self, run: Any, epoch: int, metrics: dict[str, Any]) -> None:
            if epoch == 1:
                raise KeyboardInterrupt  # after epoch 0's checkpoint, before epoch 1's

    straight, resumed = tmp / f"straight-{precision}", tmp / f"resumed-{precision}"
    run_experiment(parse_config(config), straight)
    pm = get_plugin_system().pm
    pm.register(Interrupt(), name="gpu-check-interrupt")
    try:
        run_experiment(parse_config(config), resumed)
    except KeyboardInterrupt:
        pass
    finally:
        pm.unregister(name="gpu-check-interrupt")
    run_experiment(parse_config(config), resumed, resume=True)
    a = load_file(next((straight / "checkpoints" / "last").glob("*.safetensors")))
    b = load_file(next((resumed / "checkpoints" / "last").glob("*.safetensors")))
    diff = max(float((a[k].float() - b[k].float()).abs().max()) for k in a)
    same = all(torch.equal(a[k], b[k]) for k in a)
    return {"kind": "resume", "run_precision": precision, "identical": same, "max_abs_diff": diff}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dry", action="store_true", help="tiny models and inputs on the CPU (seconds)")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per measurement")
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile variants")
    args = parser.parse_args()
    device = torch.device("cpu") if args.dry else select_device("auto")
    gpu = device.type == "cuda"
    if not gpu and not args.dry:
        print("gpu_check: no CUDA device here; run with --dry for the CPU smoke mode", file=sys.stderr)
        sys.exit(2)
    precision = "bf16" if gpu else select_precision("auto", device)
    steps = args.steps or (10 if gpu else 1)
    backend = None if args.no_compile else ("inductor" if gpu else "eager")
    if gpu:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    card = torch.cuda.get_device_name(device) if gpu else "cpu (dry run)"
    common = {"device": card, "precision": precision, "torch": torch.__version__}
    tmp = Path(tempfile.mkdtemp())
    try:
        for workload in throughput.workloads(tmp, sizes(args.dry, gpu), tiny=args.dry):
            variants: list[dict[str, Any]] = [{}]
            if backend:
                variants.append({"compile": backend})
            if workload.name == "resnet50":
                variants += [
                    {"channels_last": True},
                    *([{"channels_last": True, "compile": backend}] if backend else []),
                ]
            for v in variants:
                row = throughput.measure(workload, device, precision, steps, **v)
                emit(
                    {
                        "kind": "throughput",
                        **common,
                        **row,
                        "compile": v.get("compile"),
                        "channels_last": bool(v.get("channels_last")),
                    }
                )
            for policy, top in (("full", None), ("top-2", 3), ("linear-probe", 1)):
                row = throughput.measure(workload, device, precision, steps, trainable_top=top)
                emit({"kind": "memory", **common, "policy": policy, **row})
        for run_precision in ("auto", "fp16"):  # the engine's default, and fp16 with its loss scaler
            emit({**common, **resume_check(tmp / "runs", str(device), args.dry, run_precision)})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
