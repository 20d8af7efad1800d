"""``rank: true`` in a ``compare`` matrix: estimates before training, checked against the results.

Before the cells run, the experiments of the matrix that share a task (same task section, label
budget included) are ranked on that task's train split (:func:`rank_matrix`, written to
``<output_dir>/rank.json``). The report (:func:`rank_section`) then puts each source's estimates
next to its fine-tuned result, per policy, with Kendall's tau between them: tau = 1 means the
estimate ordered the sources exactly as fine-tuning did, 0 no better than chance, -1 reversed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..engine.atomic import atomic_write_json
from .ranking import rank_sources
from .scores import kendall_tau

RANK_FILE = "rank.json"
#: The estimates compared with results, and their column names.
ESTIMATES = ("logme", "h_score")


def _task_key(config: dict[str, Any]) -> str:
    return json.dumps(config["task"], sort_keys=True, default=str)


def rank_matrix(matrix: Any, *, echo: Callable[[str], Any] = print) -> Path:
    """Rank the sources of every task of ``matrix`` (a :class:`~headstart.experiment.matrix.Matrix`);
    write and return ``<output_dir>/rank.json``."""
    groups: dict[str, dict[str, Any]] = {}  # task key -> {experiment name: a cell config}
    budgets: dict[str, Any] = {}
    for cell in matrix.cells:
        key = _task_key(cell.config)
        groups.setdefault(key, {}).setdefault(cell.experiment, cell.config)
        budgets[key] = cell.budget
    out: list[dict[str, Any]] = []
    for key, experiments in groups.items():
        first = next(iter(experiments.values()))
        trainer = first.get("trainer") or {}
        cache_dir = Path(trainer.get("feature_cache_dir") or matrix.output_dir / "feature_cache")
        budget = budgets[key]
        echo(f"[rank] task {first['task']['name']}" + (f" × {budget}/class" if budget is not None else ""))
        rows = rank_sources(
            first,
            [config["source"] for config in experiments.values()],
            cache_dir,
            labels=list(experiments),
            echo=lambda line: echo(f"        {line}"),
        )
        for row in rows:
            echo(f"        {row['rank']}. {row['source']}: LogME {row['logme']:.4f}")
        out.append({"task": first["task"], "budget": budget, "rows": rows})
    path = Path(matrix.output_dir) / RANK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, {"groups": out})
    return path


def _higher_is_better(metric: str) -> bool:
    if metric == "loss":
        return False
    from ..registry import get_registry

    metrics = get_registry().metrics
    return bool(metrics[metric][1].higher_is_better) if metric in metrics else True


def compare_estimates(groups: Sequence[dict[str, Any]], rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """For every ranked task × policy: each source's estimates and result (the best validation
    value, mean over seeds, from the report's ``rows``), and Kendall's tau of each estimate
    against the result (oriented so that + means "agrees": a lower-is-better metric is negated)."""
    results: dict[tuple[str, str, Any], dict[str, Any]] = {(r["experiment"], r["policy"], r["budget"]): r for r in rows}
    out = []
    for group in groups:
        names = [r["source"] for r in group["rows"]]
        policies = sorted({p for (e, p, b) in results if e in names and b == group["budget"]})
        for policy in policies:
            pairs = [(r, results.get((r["source"], policy, group["budget"]))) for r in group["rows"]]
            found = [(est, res) for est, res in pairs if res is not None and not math.isnan(res["best_mean"])]
            if not found:
                continue
            metric = found[0][1]["metric"]
            sign = 1.0 if _higher_is_better(metric) else -1.0
            entry: dict[str, Any] = {
                "task": group["task"]["name"],
                "budget": group["budget"],
                "policy": policy,
                "metric": metric,
                "sources": [
                    {
                        "source": est["source"],
                        **{name: est.get(name) for name in ESTIMATES},
                        "result": res["best_mean"],
                        "seeds": res["seeds"],
                    }
                    for est, res in found
                ],
            }
            for name in ESTIMATES:
                usable = [(est[name], sign * res["best_mean"]) for est, res in found if est.get(name) is not None]
                entry[f"tau_{name}"] = (
                    kendall_tau([u[0] for u in usable], [u[1] for u in usable]) if len(usable) >= 2 else math.nan
                )
            out.append(entry)
    return out


def _num(value: Any) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"


def read_groups(paths: Sequence[Path]) -> list[dict[str, Any]]:
    """The ranked groups of every ``rank.json`` directly in ``paths`` (matrices' output folders)."""
    groups: list[dict[str, Any]] = []
    for root in paths:
        file = root / RANK_FILE
        if file.is_file():
            groups += json.loads(file.read_text(encoding="utf-8"))["groups"]
    return groups


def markdown(comparisons: Sequence[dict[str, Any]]) -> list[str]:
    """Report lines: per task × policy, a table of estimates and results, and the two taus."""
    if not comparisons:
        return []
    lines = [
        "## Transferability estimates vs fine-tuned results",
        "",
        "Sources were ranked before training (`rank: true`) by LogME and H-score on the task's train split; "
        "*result* is the best validation value (mean over seeds). Kendall's τ compares each estimate's order with "
        "the results' (1: same order, 0: unrelated, −1: reversed).",
        "",
    ]
    for c in comparisons:
        budget = "" if c["budget"] is None else f" × {c['budget']}/class"
        lines += [
            f"**{c['task']}{budget} × {c['policy']}** ({c['metric']}): "
            f"τ(LogME) = {_num(c['tau_logme'])}, τ(H-score) = {_num(c['tau_h_score'])}",
            "",
            "| source | LogME | H-score | result |",
            "| --- | --- | --- | --- |",
        ]
        for s in sorted(c["sources"], key=lambda s: -s["logme"]):
            lines.append(f"| {s['source']} | {_num(s['logme'])} | {_num(s['h_score'])} | {_num(s['result'])} |")
        lines.append("")
    return lines
