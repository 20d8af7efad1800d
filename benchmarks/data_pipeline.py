"""Is the step starved? The data pipeline's examples/s beside the training step's, per domain.

For the example experiment of each domain (vision: EfficientNet-Lite0 on the digits scans at
64 px; NLP: MiniLM on Rotten Tomatoes; speech: the wav2vec2-architecture source on synthesized
words), with full fine-tuning:

* ``pipeline``: examples/s of the training loader alone (dataset, decoding, transform, collate),
  with 0 and 2 worker processes, first batch excluded (worker start-up);
* ``step``: examples/s of forward + backward + optimizer step on batches already collated.

``pipeline / step`` below 1 means the step waits for data: add workers (``trainer.num_workers``,
``auto`` on a GPU) or cache. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Any

import torch
import yaml
from torch.utils.data import DataLoader

from headstart import parse_config
from headstart.engine.device import autocast
from headstart.engine.optim import make_optimizer
from headstart.experiment import build

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
DOMAINS = {
    "vision": ("vision-efficientnet-digits.yaml", {}),
    "nlp": ("nlp-minilm-rotten-tomatoes.yaml", {}),
    "speech": (
        "speech-source.yaml",
        {"synthesize": {"engine": "espeak-ng", "words": "common", "per_word": {"train": 1, "val": 1, "test": 1}}},
    ),
}


def pipeline_rate(task: Any, batch: int, workers: int, batches: int) -> float:
    loader = DataLoader(
        task.dataset("train", train=True),
        batch_size=batch,
        shuffle=True,
        collate_fn=task.collate,
        num_workers=workers,
        prefetch_factor=4 if workers else None,
        generator=torch.Generator().manual_seed(0),
    )
    seen, start = 0, 0.0
    for i, b in enumerate(loader):
        if i == 0:
            start = time.perf_counter()  # after the first batch: worker start-up excluded
            continue
        seen += len(b["targets"])
        if i >= batches:
            break
    return seen / (time.perf_counter() - start) if seen else float("nan")


def step_rate(built: Any, batch: int, steps: int) -> float:
    model, task, freezer = built.model, built.task, built.freezer
    freezer.apply(built.phases[-1].__class__("all", 0, frozenset(freezer.block_names)), 0)
    optimizer = make_optimizer(freezer.param_groups(), "adamw", torch.device("cpu"))
    for g in optimizer.param_groups:
        g["lr"] = 1e-5
    loader = DataLoader(task.dataset("train", train=True), batch_size=batch, shuffle=True, collate_fn=task.collate)
    batches = [b for _, b in zip(range(min(steps, len(loader))), loader, strict=False)]
    model.train()

    def step(b: dict[str, Any]) -> None:
        with autocast(torch.device("cpu"), "fp32"):
            loss = task.loss(model(b["inputs"]), b)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    step(batches[0])  # warm-up
    start = time.perf_counter()
    for b in batches:
        step(b)
    freezer.remove_hooks()
    return sum(len(b["targets"]) for b in batches) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--domains", nargs="+", default=list(DOMAINS), choices=list(DOMAINS))
    parser.add_argument("--batches", type=int, default=12)
    parser.add_argument("--steps", type=int, default=4)
    args = parser.parse_args()
    rows: dict[str, Any] = {}
    for domain in args.domains:
        file, task_overrides = DOMAINS[domain]
        config = yaml.safe_load((EXAMPLES / file).read_text(encoding="utf-8"))
        config["task"].update(task_overrides)
        config["policy"] = {"name": "full", "keep_frozen": []}
        config["trainer"]["device"] = "cpu"
        built = build(parse_config(config))
        batch = int(config["trainer"]["batch_size"])
        pipe = {f"workers_{w}": round(pipeline_rate(built.task, batch, w, args.batches), 1) for w in (0, 2)}
        step = round(step_rate(built, batch, args.steps), 1)
        rows[domain] = {
            "batch": batch,
            "pipeline_examples_per_s": pipe,
            "step_examples_per_s": step,
            "pipeline_over_step": round(pipe["workers_0"] / step, 2),
        }
    print(
        json.dumps(
            {
                "benchmark": "data_pipeline",
                "domains": rows,
                "machine": f"{platform.machine()} {torch.get_num_threads()} threads, torch {torch.__version__}",
                "device": "cpu",
            }
        )
    )


if __name__ == "__main__":
    main()
