"""Training throughput of ResNet-50-, BERT-base- and wav2vec2-base-class models with random weights.

Each model is built through its Headstart source (``torchvision:resnet50``, ``hf:<dir>`` with
BERT-base's and wav2vec 2.0 base's default configurations saved in the hub's on-disk format),
gets a classification head, and trains full fine-tuning steps (forward, backward, AdamW over the
freeze engine's parameter groups) on synthetic batches, in the engine's precision (bf16 autocast
on a GPU). Reported: images/s, tokens/s, seconds of audio/s, and on a GPU the model FLOPs
utilisation against the card's dense bf16 peak (FLOPs counted with ``FlopCounterMode``).

On a CPU the sizes are small so the script finishes in about a minute; the numbers are only
meaningful relative to each other there. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch.utils.flop_counter import FlopCounterMode

from headstart import ClassificationHead, Phase, TransferModel, get_registry
from headstart.engine import loaders
from headstart.engine.device import autocast, select_device, select_precision
from headstart.engine.optim import make_optimizer
from headstart.freeze import Freezer

# dense bf16 peak FLOP/s by device name (vendor data sheets)
PEAKS = {"H100": 989e12, "H200": 989e12, "A100": 312e12, "L4": 121e12, "A10": 125e12}


def bert_base_dir(out: Path, tiny: bool = False) -> Path:
    """BERT-base's configuration (12 layers, 768 hidden, 30,522 tokens); ``tiny``: 2 layers of 64."""
    from transformers import AutoTokenizer, BertConfig

    small = {"num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 2, "intermediate_size": 128}
    BertConfig(**(small if tiny else {})).save_pretrained(out)
    local = get_registry().local_model("hf", "sentence-transformers/all-MiniLM-L6-v2")
    assert local is not None
    AutoTokenizer.from_pretrained(local.path).save_pretrained(out)  # the same WordPiece vocabulary
    return out


def wav2vec2_base_dir(out: Path, tiny: bool = False) -> Path:
    """wav2vec 2.0 base's configuration (12 layers, 768 hidden); ``tiny``: 2 layers of 32."""
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor

    small = {
        "num_hidden_layers": 2,
        "hidden_size": 32,
        "num_attention_heads": 2,
        "intermediate_size": 64,
        "conv_dim": (32, 32),
        "conv_kernel": (10, 3),
        "conv_stride": (5, 2),
        "num_conv_pos_embeddings": 16,
        "num_conv_pos_embedding_groups": 2,
    }
    Wav2Vec2Config(**(small if tiny else {})).save_pretrained(out)
    Wav2Vec2FeatureExtractor(return_attention_mask=False, do_normalize=True).save_pretrained(out)
    return out


@dataclass(frozen=True)
class Sizes:
    """Input sizes of the three workloads."""

    image_px: int
    image_batch: int
    tokens: int
    text_batch: int
    audio_s: float
    audio_batch: int


class Workload(NamedTuple):
    """One model to time: its name, Headstart source, a synthetic batch, and how many ``unit``
    (images, tokens, seconds of audio) one batch holds."""

    name: str
    source: str
    inputs: dict[str, torch.Tensor]
    items: float
    unit: str


def workloads(tmp: Path, sizes: Sizes, tiny: bool = False) -> list[Workload]:
    """ResNet-50, BERT-base and wav2vec 2.0 base on random batches of ``sizes``; ``tiny``: stand-ins
    with the same code path, ResNet-18 (the same four stages) and 2-layer configurations of the
    last two, written under ``tmp``."""
    s = sizes
    samples = int(s.audio_s * 16000)
    return [
        Workload(
            "resnet50",
            "torchvision:resnet18" if tiny else "torchvision:resnet50",
            {"images": torch.randn(s.image_batch, 3, s.image_px, s.image_px)},
            s.image_batch,
            "images_per_s",
        ),
        Workload(
            "bert-base",
            f"hf:{bert_base_dir(tmp / 'bert', tiny=tiny)}",
            {
                "input_ids": torch.randint(1000, 30000, (s.text_batch, s.tokens)),
                "attention_mask": torch.ones(s.text_batch, s.tokens, dtype=torch.long),
                "token_type_ids": torch.zeros(s.text_batch, s.tokens, dtype=torch.long),
            },
            s.text_batch * s.tokens,
            "tokens_per_s",
        ),
        Workload(
            "wav2vec2-base",
            f"hf:{wav2vec2_base_dir(tmp / 'w2v', tiny=tiny)}",
            {
                "input_values": torch.randn(s.audio_batch, samples),
                "lengths": torch.full((s.audio_batch,), samples),
                "attention_mask": torch.ones(s.audio_batch, samples, dtype=torch.long),
            },
            s.audio_batch * s.audio_s,
            "audio_seconds_per_s",
        ),
    ]


#: On a GPU: the models' usual training sizes.
GPU_SIZES = Sizes(image_px=224, image_batch=128, tokens=512, text_batch=32, audio_s=10.0, audio_batch=16)


def measure(
    workload: Workload,
    device: torch.device,
    precision: str,
    steps: int,
    trainable_top: int | None = None,
    compile: str | None = None,
    channels_last: bool = False,
) -> dict[str, Any]:
    """Time ``steps`` training steps of the workload's source with a 10-class head. ``trainable_top``: train
    only the last N blocks (the head is one; None: all), with the frozen prefix under no_grad;
    ``compile``: a ``torch.compile`` backend; ``channels_last``: image model and inputs."""
    name, source_name, inputs, items, unit = workload
    source = get_registry().source(source_name, pretrained=False)
    model = TransferModel(source, ClassificationHead(source.output_spec, 10)).to(device)
    freezer = Freezer(model, lr=1e-4, weight_decay=0.01)
    optimizer = make_optimizer(freezer.param_groups(), "adamw", device)
    names = freezer.block_names
    trainable = names if trainable_top is None else names[len(names) - trainable_top :]
    freezer.apply(Phase("train", 0, frozenset(trainable)), 0, optimizer)
    for g in optimizer.param_groups:
        g["lr"] = g["base_lr"]
    batch = {k: v.to(device) for k, v in inputs.items()}
    if channels_last:
        model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        batch = {k: loaders.channels_last(v) for k, v in batch.items()}
    targets = torch.randint(0, 10, (next(iter(inputs.values())).shape[0],), device=device)
    model.train()
    net: Any = torch.compile(model, backend=compile) if compile else model

    def step(forward: Any = net) -> None:
        with autocast(device, precision):
            loss = torch.nn.functional.cross_entropy(forward(batch).float(), targets)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    with FlopCounterMode(display=False) as counter:  # counted on the eager model
        step(model)
    flops = counter.get_total_flops()
    step()  # warm-up (and compilation)
    step()
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = (time.perf_counter() - start) / steps
    out: dict[str, Any] = {
        "model": name,
        "params": sum(p.numel() for p in model.parameters()),
        unit: round(items / seconds, 2),
        "step_s": round(seconds, 4),
        "tflops_per_step": round(flops / 1e12, 4),
        "flops_per_step": int(flops),
        "trainable_params": sum(p.numel() for p in model.parameters() if p.requires_grad),
    }
    if device.type == "cuda":
        card = torch.cuda.get_device_name(device)
        peak = next((v for k, v in PEAKS.items() if k in card), None)
        out["mfu"] = round(flops / seconds / peak, 4) if peak else None
        out["peak_memory_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    freezer.remove_hooks()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = select_device(args.device)
    precision = select_precision("auto", device)
    gpu = device.type == "cuda"
    sizes = GPU_SIZES if gpu else Sizes(image_px=64, image_batch=8, tokens=64, text_batch=8, audio_s=2.0, audio_batch=2)
    steps = 20 if gpu else 3
    tmp = Path(tempfile.mkdtemp())
    try:
        rows = [measure(w, device, precision, steps) for w in workloads(tmp, sizes)]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(
        json.dumps(
            {
                "benchmark": "throughput",
                "device": torch.cuda.get_device_name(device) if gpu else f"cpu ({torch.get_num_threads()} threads)",
                "precision": precision,
                "sizes": asdict(sizes),
                "models": rows,
                "machine": f"{platform.machine()}, torch {torch.__version__}",
            }
        )
    )


if __name__ == "__main__":
    main()
