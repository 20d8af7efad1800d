"""Memory that freezing saves: full fine-tune, top-k, linear probe and the parameter-efficient
policies (lora, bitfit, norm-tune) on one model and batch.

For each policy, one training step (feature cache off) of the same model on the same batch:

* ``saved_activations_mb``: bytes autograd keeps for backward (counted with
  ``torch.autograd.graph.saved_tensors_hooks``) — what running the frozen prefix under
  ``no_grad`` saves, on any device;
* ``grads_and_adam_state_mb``: gradients plus AdamW's two moments of the trainable parameters;
* ``checkpoint_mb``: what a checkpoint of the run stores (only what trains, plus the buffers
  training can move, when most of the model stays frozen — see ``headstart.engine.delta``);
* ``cuda_peak_mb``: ``torch.cuda.max_memory_allocated`` of the step, on a GPU.

Prints one JSON line. ``--experiment`` picks the model (default: the vision example's
EfficientNet-Lite0 at 224 px, batch 32) and ``--set`` overrides its config, e.g. the speech
target's source run::

    python benchmarks/memory_per_policy.py --experiment examples/speech-target.yaml \
        --set source.name=run:runs/peft/speech-source --batch 8
"""

from __future__ import annotations

import argparse
import json
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from headstart import load_config
from headstart.engine.delta import delta_keys
from headstart.engine.device import select_device, to_device
from headstart.experiment import build

DEFAULT = Path(__file__).resolve().parent.parent / "examples" / "vision-efficientnet-digits.yaml"
POLICIES = [
    ("full", []),
    ("top-k", ["policy.k=2"]),
    ("linear-probe", []),
    ("lora", []),
    ("bitfit", []),
    ("norm-tune", []),
]


def measure(
    experiment: Path,
    policy: str,
    extra: list[str],
    batch_size: int,
    device: torch.device,
    overrides: Sequence[str] = (),
) -> dict[str, Any]:
    config = load_config(
        experiment,
        [
            *overrides,
            f"policy={{name: {policy}}}",
            *extra,
            f"trainer.batch_size={batch_size}",
            "trainer.feature_cache=off",
        ],
    )
    built = build(config)
    model = built.model.to(device)
    plan = built.freezer.apply(built.phases[0], 0)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-4)
    examples = [built.task.dataset("train", train=True)[i] for i in range(batch_size)]
    batch = to_device(built.task.collate(examples), device)
    model.train()
    saved = 0

    def pack(t: torch.Tensor) -> torch.Tensor:
        nonlocal saved
        saved += t.numel() * t.element_size()
        return t

    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats(device)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = built.task.loss(model(batch["inputs"]), batch)
    loss.backward()
    optimizer.step()
    state = sum(p.numel() * p.element_size() * 3 for p in trainable)  # grad + exp_avg + exp_avg_sq
    entries = model.state_dict()
    moving = built.freezer.moving_buffers(built.phases)  # buffers no phase can change are not stored
    keys = delta_keys(model, plan.trainable_names | built.added, moving) or entries.keys()
    stored = sum(entries[k].numel() * entries[k].element_size() for k in keys)
    out = {
        "policy": policy if not extra else f"{policy}({','.join(e.split('.')[-1] for e in extra)})",
        "trainable_params": plan.trainable_numel,
        "frozen_prefix_blocks": plan.frozen_prefix,
        "saved_activations_mb": round(saved / 2**20, 3),
        "grads_and_adam_state_mb": round(state / 2**20, 3),
        "checkpoint_mb": round(stored / 2**20, 3),
    }
    if device.type == "cuda":
        out["cuda_peak_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--experiment", type=Path, default=DEFAULT)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config value")
    args = parser.parse_args()
    device = select_device(args.device)
    rows = [measure(args.experiment, name, extra, args.batch, device, args.set) for name, extra in POLICIES]
    full = rows[0]["saved_activations_mb"]
    print(
        json.dumps(
            {
                "benchmark": "memory_per_policy",
                "experiment": str(args.experiment.name),
                "batch": args.batch,
                "overrides": args.set,
                "policies": rows,
                "activation_saving_vs_full": {
                    r["policy"]: round(1 - r["saved_activations_mb"] / full, 4) for r in rows[1:]
                },
                "machine": f"{platform.machine()}, torch {torch.__version__}",
                "device": str(device),
            }
        )
    )


if __name__ == "__main__":
    main()
