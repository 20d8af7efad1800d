"""Headstart's converged linear probe vs scikit-learn's LogisticRegression on the same features.

For each example experiment whose head is one linear layer (the digits on EfficientNet-Lite0, the
Rotten Tomatoes snippets on MiniLM), the source's features of train / val / test are computed
once (``headstart.experiment.features.cached_features``) and both probes see exactly the same
inputs of the linear layer (pooled for text). Headstart: ``fit_probe`` — full-batch L-BFGS over
its L2 grid, chosen on val. scikit-learn: ``LogisticRegression(C=1/(l2·N))`` for the same grid,
chosen on the same val split. Then the same without a val split: Headstart's 5-fold
cross-validation on train against ``LogisticRegressionCV(cv=5)`` over the same grid. Prints one
JSON line: test accuracy of both, the difference, and the wall and CPU (process) time of each
search (the median of 5 calls where one takes under a second) — on a shared machine the CPU
time is the fairer comparison. Both times include computing the linear layer's inputs from the
cached features (``inputs_cpu_s``: pooling, for text), which ``fit_probe`` does itself; the
features are held in memory on both sides.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from headstart import load_config
from headstart.engine.feature_cache import CachedSplit
from headstart.engine.probe import L2_GRID, fit_probe, linear_inputs, linear_layer
from headstart.experiment import build
from headstart.experiment.features import cached_features

ROOT = Path(__file__).resolve().parent.parent / "examples"
EXAMPLES = ["vision-efficientnet-digits.yaml", "nlp-minilm-rotten-tomatoes.yaml"]


#: Calls timed when one takes under ``REPEAT_UNDER_S`` seconds (the median is printed).
REPEATS = 5
REPEAT_UNDER_S = 1.0


def _accuracy(outputs: torch.Tensor, batch: dict[str, Any]) -> float:
    return float((outputs.argmax(-1) == batch["targets"]).float().mean())


def _in_memory(split: CachedSplit) -> CachedSplit:
    """The split with its features in memory, as a run's default (memory) cache holds them, also
    when they were read from ``--cache-dir``."""
    values = [split.lookup(torch.tensor([i]), torch.device("cpu")).values[0] for i in range(len(split))]
    return CachedSplit(values, split.sequence, split.extras)


def _one(path: Path, cache_dir: Path | None) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression, LogisticRegressionCV

    config = load_config(path, ["policy={name: linear-probe}", "trainer.progress=false", "trainer.device=cpu"])
    splits = {s: _in_memory(cached_features(config, s, cache_dir)) for s in ("train", "val", "test")}
    built = build(config)
    head, task = built.model.head, built.task
    linear = linear_layer(head)
    assert linear is not None
    cpu = torch.device("cpu")

    def timed(fn: Any) -> tuple[Any, float, float]:
        """``fn()`` and its wall and CPU time: the median of :data:`REPEATS` calls when one takes
        under :data:`REPEAT_UNDER_S` (a single call of a fraction of a second is mostly noise,
        and the first may pay one-time costs), else of the one call. Both sides alike."""
        walls, cpus = [], []
        while True:
            wall, cpu = time.perf_counter(), time.process_time()
            out = fn()
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
            if len(walls) == REPEATS or walls[0] >= REPEAT_UNDER_S:
                return out, statistics.median(walls), statistics.median(cpus)

    # what the linear layer sees (pooled for text): fit_probe computes it from the cached
    # features inside its timing, so scikit-learn's side is charged the same work
    inputs = {s: timed(lambda split=split: linear_inputs(head, linear, split, cpu)) for s, split in splits.items()}
    xs = {s: x for s, (x, _, _) in inputs.items()}
    ys = {s: split.fields(torch.arange(len(split)))["targets"] for s, split in splits.items()}

    result, headstart_s, headstart_cpu = timed(
        lambda: fit_probe(head, splits["train"], splits["val"], task.loss, _accuracy)
    )
    with torch.no_grad():
        headstart_test = _accuracy(linear(xs["test"]), {"targets": ys["test"]})

    n = len(xs["train"])
    x_train, y_train = xs["train"].numpy(), ys["train"].numpy()

    def sklearn_search() -> tuple[float, Any, float]:
        best: tuple[float, Any, float] | None = None
        for l2 in sorted(L2_GRID, reverse=True):
            model = LogisticRegression(C=1.0 / (l2 * n), max_iter=1000).fit(x_train, y_train)
            val = float(model.score(xs["val"].numpy(), ys["val"].numpy()))
            if best is None or val > best[0]:
                best = (val, model, l2)
        assert best is not None
        return best

    best, sklearn_s, sklearn_cpu = timed(sklearn_search)
    sklearn_s += inputs["train"][1] + inputs["val"][1]
    sklearn_cpu += inputs["train"][2] + inputs["val"][2]
    sklearn_test = float(best[1].score(xs["test"].numpy(), ys["test"].numpy()))

    # no val split: cross-validation on train, both sides
    cv, cv_s, cv_cpu = timed(lambda: fit_probe(head, splits["train"], None, task.loss, _accuracy))
    with torch.no_grad():
        cv_test = _accuracy(linear(xs["test"]), {"targets": ys["test"]})
    grid_c = [1.0 / (l2 * n) for l2 in L2_GRID]
    sk_cv, sk_cv_s, sk_cv_cpu = timed(
        lambda: LogisticRegressionCV(  # plain L2 (l1_ratio 0), the attributes of scikit-learn >= 1.10
            Cs=grid_c, cv=5, scoring="accuracy", max_iter=1000, l1_ratios=(0.0,), use_legacy_attributes=False
        ).fit(x_train, y_train)
    )
    sk_cv_s, sk_cv_cpu = sk_cv_s + inputs["train"][1], sk_cv_cpu + inputs["train"][2]
    sk_cv_test = float(sk_cv.score(xs["test"].numpy(), ys["test"].numpy()))
    return {
        "experiment": path.name,
        "train_examples": n,
        "dim": int(xs["train"].shape[1]),
        "headstart_test_accuracy": round(headstart_test, 4),
        "sklearn_test_accuracy": round(sklearn_test, 4),
        "difference_points": round(100 * (headstart_test - sklearn_test), 2),
        "headstart_l2": result.l2,
        "sklearn_l2": best[2],
        "headstart_fit_s": round(headstart_s, 2),
        "sklearn_fit_s": round(sklearn_s, 2),
        "headstart_cpu_s": round(headstart_cpu, 2),
        "sklearn_cpu_s": round(sklearn_cpu, 2),
        "inputs_cpu_s": round(inputs["train"][2] + inputs["val"][2], 3),
        "speedup": round(sklearn_s / headstart_s, 2),
        "cpu_speedup": round(sklearn_cpu / headstart_cpu, 2),
        "same_val_choice": bool(np.isclose(result.l2, best[2])),
        "cv_headstart_test_accuracy": round(cv_test, 4),
        "cv_sklearn_test_accuracy": round(sk_cv_test, 4),
        "cv_difference_points": round(100 * (cv_test - sk_cv_test), 2),
        "cv_headstart_l2": cv.l2,
        "cv_headstart_cpu_s": round(cv_cpu, 2),
        "cv_sklearn_cpu_s": round(sk_cv_cpu, 2),
        "cv_headstart_fit_s": round(cv_s, 2),
        "cv_sklearn_fit_s": round(sk_cv_s, 2),
        "cv_speedup": round(sk_cv_s / cv_s, 2),
        "cv_cpu_speedup": round(sk_cv_cpu / cv_cpu, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--experiment", action="append", type=Path, help="experiment files (default: the examples)")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        help="keep the features there and reuse them on the next run (default: computed each run); "
        "either way both probes read them from memory",
    )
    args = parser.parse_args()
    paths = args.experiment or [ROOT / name for name in EXAMPLES]
    results = [_one(p, args.cache_dir) for p in paths]
    print(
        json.dumps(
            {
                "benchmark": "probe_vs_sklearn",
                "results": results,
                "min_difference_points": min(r["difference_points"] for r in results),
                "min_cv_difference_points": min(r["cv_difference_points"] for r in results),
                "machine": f"{platform.machine()} {torch.get_num_threads()} threads, torch {torch.__version__}",
            }
        )
    )


if __name__ == "__main__":
    main()
