"""Metric time at scale: every built-in metric over 50,000 examples (1,000 classes).

Classification metrics get random labels over 1,000 classes (70 % correct); correlations and MSE
get random floats; WER / CER (the speech plugin) get 50,000 transcripts of 12 words with about one
word in ten wrong. Each metric is timed once after a warm-up; prints one JSON line of seconds.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

from headstart.metrics import BUILTIN_METRICS, Ranked


def timed(fn: Callable[[Sequence[Any], Sequence[Any]], float], preds: Sequence[Any], refs: Sequence[Any]) -> float:
    fn(preds[:100], refs[:100])  # warm-up
    start = time.perf_counter()
    fn(preds, refs)
    return round(time.perf_counter() - start, 4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--examples", type=int, default=50_000)
    parser.add_argument("--classes", type=int, default=1_000)
    args = parser.parse_args()
    rng = random.Random(0)
    n, k = args.examples, args.classes
    refs = [rng.randrange(k) for _ in range(n)]
    preds = [r if rng.random() < 0.7 else rng.randrange(k) for r in refs]
    ranked = [Ranked([p, *rng.sample(range(k), 4)]) for p in preds]
    floats_r = [rng.random() for _ in range(n)]
    floats_p = [x + rng.gauss(0, 0.3) for x in floats_r]
    seconds: dict[str, float] = {}
    for metric in BUILTIN_METRICS:
        if metric.name in ("pearson", "spearman", "mse"):
            seconds[metric.name] = timed(metric.fn, floats_p, floats_r)
        else:
            seconds[metric.name] = timed(metric.fn, ranked if metric.name == "top5-accuracy" else preds, refs)
    try:
        from headstart_speech.metrics import cer, wer
    except ImportError:  # the speech plugin is not installed
        pass
    else:
        words = [f"w{i}" for i in range(2000)]
        ref_txt = [" ".join(rng.choice(words) for _ in range(12)) for _ in range(n)]
        hyp_txt = [" ".join(w if rng.random() < 0.9 else rng.choice(words) for w in t.split()) for t in ref_txt]
        seconds["wer"] = timed(wer, hyp_txt, ref_txt)
        seconds["cer"] = timed(cer, hyp_txt, ref_txt)
    print(
        json.dumps(
            {
                "benchmark": "metrics_at_scale",
                "examples": n,
                "classes": k,
                "seconds": seconds,
                "machine": f"{platform.machine()} python {platform.python_version()}",
            }
        )
    )


if __name__ == "__main__":
    main()
