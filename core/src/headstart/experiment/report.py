"""``headstart report``: tables and plots read from run directories, never typed in.

Runs are grouped by (experiment, policy, label budget); each group's numbers are the mean over
its seeds with a 95 % confidence interval from Student's t distribution. The interval covers
what changes with the seed: the initialisation and data order, and — for a label budget drawn
with the run's seed (the default, see ``headstart.data.budget``) — which examples were labelled.

When a matrix swept settings (``sweep``), each group is the configuration with the best mean
validation value of the monitored metric; its test metric is reported over the seeds, with the
chosen values in the ``chosen`` column (selection on validation, never on test).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

from ..engine.atomic import atomic_write_csv, atomic_write_json, atomic_write_text
from ..rundir import RunDir
from .records import RunRecord

# two-sided 95 % quantiles of Student's t for 1..30 degrees of freedom
_T975 = (
    12.706,
    4.303,
    3.182,
    2.776,
    2.571,
    2.447,
    2.365,
    2.306,
    2.262,
    2.228,
    2.201,
    2.179,
    2.160,
    2.145,
    2.131,
    2.120,
    2.110,
    2.101,
    2.093,
    2.086,
    2.080,
    2.074,
    2.069,
    2.064,
    2.060,
    2.056,
    2.052,
    2.048,
    2.045,
    2.042,
)


def t_quantile_975(df: int) -> float:
    """The 0.975 quantile of Student's t with ``df`` degrees of freedom."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {df}")
    if df <= len(_T975):
        return _T975[df - 1]
    z = 1.959964
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


def mean_ci95(values: list[float]) -> tuple[float, float]:
    """Mean and half-width of the 95 % confidence interval (0 for one value; nan values dropped)."""
    xs = [v for v in values if v is not None and not math.isnan(v)]
    if not xs:
        return math.nan, math.nan
    mean = sum(xs) / len(xs)
    if len(xs) == 1:
        return mean, 0.0
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (len(xs) - 1))
    return mean, t_quantile_975(len(xs) - 1) * sd / math.sqrt(len(xs))


def find_runs(paths: list[Path]) -> list[RunRecord]:
    """Every finished run (a directory with summary.json) under ``paths``, sorted. The trial runs
    of ``trainer.lr: auto`` (under a run's ``lr-trials/``) are part of their run, not runs of the
    report: a matrix cell's trials would otherwise join its group as one more configuration."""
    records = []
    dirs = sorted(
        {
            p.parent
            for root in map(Path, paths)
            for p in ([RunDir(root).summary] if RunDir(root).is_finished() else root.rglob(RunDir.summary))
            if RunDir.lr_trials not in p.relative_to(root).parts
        }
    )
    for run_dir in dirs:
        files = RunDir(run_dir)
        summary = json.loads(files.summary.read_text(encoding="utf-8"))
        meta = json.loads(files.cell.read_text(encoding="utf-8")) if files.cell.is_file() else {}
        if meta.get("prerequisite"):
            continue
        curve = []
        metrics_file = files.metrics
        if metrics_file.is_file():
            curve = [json.loads(line) for line in metrics_file.read_text(encoding="utf-8").splitlines() if line.strip()]
        records.append(
            RunRecord(
                run_dir=run_dir,
                experiment=str(meta.get("experiment") or summary.get("name") or summary.get("task_name")),
                policy=str(meta.get("policy") or summary["policy"]),
                seed=int(meta.get("seed", summary.get("seed", 0))),
                budget=meta.get("budget"),
                metric=summary["monitor"],
                summary=summary,
                curve=curve,
                sweep=dict(meta.get("sweep") or {}),
                data_seed=_data_seed(files),
            )
        )
    return records


def _data_seed(files: RunDir) -> int | None:
    """``task.data_seed`` of a run's saved config (None: no label budget, or not recorded)."""
    if not files.config.is_file():
        return None
    task = (yaml.safe_load(files.config.read_text(encoding="utf-8")) or {}).get("task") or {}
    value = task.get("data_seed") if task.get("max_per_class") is not None else None
    return int(value) if value is not None else None


def interval_covers(runs: list[RunRecord]) -> str:
    """What the spread of ``runs`` (one group's seeds) comes from: the seed's initialisation and
    data order always; the draw of the labelled examples when each run drew its own budget."""
    if len(runs) < 2:
        return "one seed: no interval"
    if runs[0].budget is None:
        return "init + data order"
    draws = {r.data_seed for r in runs}
    if None in draws:
        return "init + data order (draw not recorded)"
    if len(draws) == 1:
        return f"init + data order; one draw (data_seed {draws.pop()})"
    return "init + data order + labelled draw" + ("" if len(draws) == len(runs) else f" ({len(draws)} draws)")


def _higher_is_better(metric: str) -> bool:
    from ..registry import get_registry

    known = get_registry().metrics
    return metric != "loss" and (known[metric][1].higher_is_better if metric in known else True)


def select_on_validation(rs: list[RunRecord]) -> tuple[list[RunRecord], dict[str, Any], int]:
    """The runs of the sweep configuration with the best mean validation value (all runs when
    nothing was swept), its values, and how many configurations there were."""
    configs: dict[str, list[RunRecord]] = defaultdict(list)
    for r in rs:
        configs[json.dumps(r.sweep, sort_keys=True, default=str)].append(r)
    if len(configs) == 1:
        return rs, rs[0].sweep, 1
    sign = 1.0 if _higher_is_better(rs[0].metric) else -1.0

    def score(runs: list[RunRecord]) -> float:
        mean = mean_ci95([r.best for r in runs])[0]
        return -math.inf if math.isnan(mean) else sign * mean

    best = max(configs.values(), key=score)
    return best, best[0].sweep, len(configs)


def aggregate(records: list[RunRecord]) -> list[dict[str, Any]]:
    """One row per (experiment, policy, budget) with mean ± CI95 over seeds (of the configuration
    chosen on validation, when settings were swept)."""
    groups: dict[tuple[str, str, int | None], list[RunRecord]] = defaultdict(list)
    for r in records:
        groups[(r.experiment, r.policy, r.budget)].append(r)
    rows = []
    for (experiment, policy, budget), runs in groups.items():
        rs, chosen, configs = select_on_validation(runs)
        row: dict[str, Any] = {
            "experiment": experiment,
            "policy": policy,
            "budget": budget,
            "metric": rs[0].metric,
            "seeds": len(rs),
            "chosen": chosen,
            "configs": configs,
        }
        for name, values in (
            ("best", [r.best for r in rs]),
            ("final", [r.final for r in rs]),
            ("test", [r.test for r in rs]),
        ):
            mean, ci = mean_ci95(values)
            row[f"{name}_mean"], row[f"{name}_ci95"] = mean, ci
        row["trainable_params"] = max(r.summary["trainable_params_max"] for r in rs)
        row["total_params"] = rs[0].summary["total_params"]
        row["wall_time_s"] = mean_ci95([r.summary["wall_time_s"] for r in rs])[0]
        row["peak_memory_mb"] = max(r.summary["peak_memory_mb"] for r in rs)
        row["interval_covers"] = interval_covers(rs)
        rows.append(row)
    rows.sort(key=lambda r: (r["experiment"], r["budget"] if r["budget"] is not None else -1, r["policy"]))
    return rows


def find_diverged(paths: list[Path]) -> list[dict[str, Any]]:
    """The cells under ``paths`` whose training diverged (``diverged.json``, no summary), sorted."""
    found = {p for root in paths for p in Path(root).rglob(RunDir.diverged) if not RunDir(p.parent).is_finished()}
    return [{**json.loads(p.read_text(encoding="utf-8")), "run_dir": str(p.parent)} for p in sorted(found)]


def _diverged_section(diverged: list[dict[str, Any]]) -> list[str]:
    if not diverged:
        return []
    lines = ["", "## Diverged cells", "", "Not in the table: their training diverged (no result to average).", ""]
    return lines + [f"- **{d['cell']}** (`{d['run_dir']}`): {d['error']}" for d in diverged]


def _fmt(mean: float, ci: float) -> str:
    if math.isnan(mean):
        return "–"
    return f"{mean:.3f} ± {ci:.3f}" if ci else f"{mean:.3f}"


def markdown_table(rows: list[dict[str, Any]]) -> str:
    swept = any(r.get("configs", 1) > 1 for r in rows)
    lines = [
        "| experiment | budget | policy | "
        + ("chosen on val | " if swept else "")
        + "metric | seeds | best (val) | final (val) | test | trainable params | time (s) | ± covers |",
        "| --- | --- | --- | " + ("--- | " if swept else "") + "--- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        budget = "all" if r["budget"] is None else f"{r['budget']}/class"
        chosen = ", ".join(f"{k}={v}" for k, v in r.get("chosen", {}).items())
        chosen_cell = f"{chosen or '–'} (of {r['configs']}) | " if swept else ""
        lines.append(
            f"| {r['experiment']} | {budget} | {r['policy']} | {chosen_cell}{r['metric']} | {r['seeds']} | "
            f"{_fmt(r['best_mean'], r['best_ci95'])} | {_fmt(r['final_mean'], r['final_ci95'])} | "
            f"{_fmt(r['test_mean'], r['test_ci95'])} | {r['trainable_params']:,} | {r['wall_time_s']:.1f} | "
            f"{r.get('interval_covers', '–')} |"
        )
    return "\n".join(lines)


def write_report(paths: list[Path], out: Path) -> dict[str, Any]:
    """Write report.md, results.csv, results.json and the plots into ``out``; return what was written."""
    records = find_runs(paths)
    diverged = find_diverged(paths)
    if not records and not diverged:
        raise FileNotFoundError(
            f"no finished runs (directories with {RunDir.summary}) under {', '.join(map(str, paths))}"
        )
    rows = aggregate(records)
    out.mkdir(parents=True, exist_ok=True)
    runs = [str(r.run_dir) for r in records]
    atomic_write_json(out / "results.json", {"rows": rows, "runs": runs, "diverged": diverged})
    atomic_write_csv(out / "results.csv", rows, list(rows[0]) if rows else ["experiment", "policy"])
    from .plots import plot_budget_curves, plot_heatmap, plot_learning_curves

    plots = plot_learning_curves(records, out) + plot_budget_curves(rows, out) + plot_heatmap(rows, out) if rows else []
    md = [
        "# Headstart report",
        "",
        f"{len(records)} runs from {', '.join(str(p) for p in paths)}. Numbers are means over seeds ± the half-width "
        "of the 95 % confidence interval (Student's t); *best* is the best validation value of the monitored metric, "
        "*test* is measured with the best checkpoint. The interval covers what the seed changes: initialisation, data "
        "order and, for label budgets drawn with the run's seed, which examples were labelled (a pinned "
        "`task.data_seed` keeps one draw); *± covers* says which, per row. Where settings were swept, "
        "each row is the configuration with the best mean validation value (*chosen on val*).",
        "",
        markdown_table(rows),
        *_diverged_section(diverged),
        "",
    ]
    md += [f"![{p.stem}]({p.name})" for p in plots]
    from ..rank.compare import compare_estimates, markdown, read_groups

    ranked = compare_estimates(read_groups(paths), rows)  # a matrix run with `rank: true`
    if ranked:
        md += ["", *markdown(ranked)]
        atomic_write_json(out / "rank_vs_results.json", ranked)
    atomic_write_text(out / "report.md", "\n".join(md) + "\n")
    report = str(out / "report.md")
    return {"rows": rows, "plots": [str(p) for p in plots], "report": report, "rank": ranked, "diverged": diverged}
