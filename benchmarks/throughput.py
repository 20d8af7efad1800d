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
from pathlib import Path
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from headstart import ClassificationHead, Phase, TransferModel, get_registry
from headstart.engine.device import autocast, select_device, select_precision
from headstart.freeze import Freezer

# dense bf16 peak FLOP/s by device name (vendor data sheets)
PEAKS = {"H100": 989e12, "H200": 989e12, "A100": 312e12, "L4": 121e12, "A10": 125e12}


def bert_base_dir(out: Path) -> Path:
    from transformers import AutoTokenizer, BertConfig

    BertConfig().save_pretrained(out)  # bert-base: 12 layers, 768 hidden, 30,522 tokens
    local = get_registry().local_model("hf", "sentence-transformers/all-MiniLM-L6-v2")
    assert local is not None
    AutoTokenizer.from_pretrained(local.path).save_pretrained(out)  # the same WordPiece vocabulary
    return out


def wav2vec2_base_dir(out: Path) -> Path:
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor

    Wav2Vec2Config().save_pretrained(out)  # wav2vec 2.0 base: 12 layers, 768 hidden
    Wav2Vec2FeatureExtractor(return_attention_mask=False, do_normalize=True).save_pretrained(out)
    return out


def measure(
    name: str,
    source_name: str,
    inputs: dict[str, torch.Tensor],
    items: float,
    unit: str,
    device: torch.device,
    precision: str,
    steps: int,
) -> dict[str, Any]:
    source = get_registry().source(source_name, pretrained=False)
    model = TransferModel(source, ClassificationHead(source.output_spec, 10)).to(device)
    freezer = Freezer(model, lr=1e-4, weight_decay=0.01)
    optimizer = torch.optim.AdamW(freezer.param_groups(), lr=0.0)
    freezer.apply(Phase("full", 0, frozenset(freezer.block_names)), 0, optimizer)
    for g in optimizer.param_groups:
        g["lr"] = g["base_lr"]
    batch = {k: v.to(device) for k, v in inputs.items()}
    targets = torch.randint(0, 10, (next(iter(inputs.values())).shape[0],), device=device)
    model.train()

    def step() -> None:
        with autocast(device, precision):
            loss = torch.nn.functional.cross_entropy(model(batch).float(), targets)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    with FlopCounterMode(display=False) as counter:
        step()
    flops = counter.get_total_flops()
    for _ in range(2):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
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
    }
    if device.type == "cuda":
        card = torch.cuda.get_device_name(device)
        peak = next((v for k, v in PEAKS.items() if k in card), None)
        out["mfu"] = round(flops / seconds / peak, 4) if peak else None
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = select_device(args.device)
    precision = select_precision("auto", device)
    gpu = device.type == "cuda"
    image, img_batch = (224, 128) if gpu else (64, 8)
    seq, txt_batch = (512, 32) if gpu else (64, 8)
    audio_s, wav_batch = (10.0, 16) if gpu else (2.0, 2)
    steps = 20 if gpu else 3
    samples = int(audio_s * 16000)
    tmp = Path(tempfile.mkdtemp())
    try:
        rows = [
            measure(
                "resnet50",
                "torchvision:resnet50",
                {"images": torch.randn(img_batch, 3, image, image)},
                img_batch,
                "images_per_s",
                device,
                precision,
                steps,
            ),
            measure(
                "bert-base",
                f"hf:{bert_base_dir(tmp / 'bert')}",
                {
                    "input_ids": torch.randint(1000, 30000, (txt_batch, seq)),
                    "attention_mask": torch.ones(txt_batch, seq, dtype=torch.long),
                    "token_type_ids": torch.zeros(txt_batch, seq, dtype=torch.long),
                },
                txt_batch * seq,
                "tokens_per_s",
                device,
                precision,
                steps,
            ),
            measure(
                "wav2vec2-base",
                f"hf:{wav2vec2_base_dir(tmp / 'w2v')}",
                {
                    "input_values": torch.randn(wav_batch, samples),
                    "lengths": torch.full((wav_batch,), samples),
                    "attention_mask": torch.ones(wav_batch, samples, dtype=torch.long),
                },
                wav_batch * audio_s,
                "audio_seconds_per_s",
                device,
                precision,
                steps,
            ),
        ]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(
        json.dumps(
            {
                "benchmark": "throughput",
                "device": torch.cuda.get_device_name(device) if gpu else f"cpu ({torch.get_num_threads()} threads)",
                "precision": precision,
                "sizes": {
                    "image_px": image,
                    "image_batch": img_batch,
                    "tokens": seq,
                    "text_batch": txt_batch,
                    "audio_s": audio_s,
                    "audio_batch": wav_batch,
                },
                "models": rows,
                "machine": f"{platform.machine()}, torch {torch.__version__}",
            }
        )
    )


if __name__ == "__main__":
    main()
