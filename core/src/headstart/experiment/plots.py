"""PNG plots of a report with matplotlib (headless): learning curves (validation metric and
training loss), metric vs label budget, and a policy × experiment heat map."""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..engine.atomic import replacing
from ..rundir import slug

if TYPE_CHECKING:
    from .records import RunRecord


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: Path) -> None:
    """Save ``fig`` as a PNG atomically (a killed report never leaves half an image), the canvas
    fitted to what is drawn: a title wider than a small figure (a heat map of one experiment) is
    not cut at the edges."""
    with replacing(path) as tmp:
        fig.savefig(tmp, format="png", bbox_inches="tight", pad_inches=0.1)


def _score(row: dict[str, Any]) -> tuple[float, float]:
    """The number a plot shows for a group: test when measured, else best validation."""
    if not math.isnan(row["test_mean"]):
        return row["test_mean"], row["test_ci95"]
    return row["best_mean"], row["best_ci95"]


#: Learning curves: panel (``val``, ``train_loss``) -> policy -> epoch -> mean over seeds.
CurveSet = dict[str, dict[str, dict[int, float]]]


def learning_curves(records: list[RunRecord]) -> dict[str, tuple[int | None, CurveSet]]:
    """Per experiment, at its smallest label budget: each policy's validation metric and training
    loss per epoch (numbered from 0, as in ``metrics.jsonl``), the mean over seeds."""
    by_exp: dict[str, list[RunRecord]] = defaultdict(list)
    for r in records:
        by_exp[r.experiment].append(r)
    out: dict[str, tuple[int | None, CurveSet]] = {}
    for experiment, rs in sorted(by_exp.items()):
        budget = min((r.budget for r in rs if r.budget is not None), default=None)
        points: dict[str, dict[str, dict[int, list[float]]]] = {"val": defaultdict(lambda: defaultdict(list))}
        points["train_loss"] = defaultdict(lambda: defaultdict(list))
        for r in rs:
            if r.budget != budget:
                continue
            for row in r.curve:
                for panel, column in (("val", f"val_{r.metric}"), ("train_loss", "train_loss")):
                    if row.get(column) is not None and math.isfinite(float(row[column])):
                        points[panel][r.policy][int(row["epoch"])].append(float(row[column]))
        curves: CurveSet = {
            panel: {policy: {e: sum(v) / len(v) for e, v in sorted(per.items())} for policy, per in sorted(pol.items())}
            for panel, pol in points.items()
        }
        out[experiment] = (budget, curves)
    return out


def curve_figure(experiment: str, budget: int | None, curves: CurveSet, metric: str) -> Any:
    """Two panels side by side: validation ``metric`` and training loss per epoch, a line per
    policy (the same colour in both)."""
    plt = _pyplot()
    fig, (val_ax, loss_ax) = plt.subplots(1, 2, figsize=(11, 4), dpi=100)
    for ax, panel, label in ((val_ax, "val", f"validation {metric}"), (loss_ax, "train_loss", "training loss")):
        for policy, points in curves[panel].items():
            ax.plot(list(points), list(points.values()), marker="o", label=policy)
        ax.set(xlabel="epoch", ylabel=label)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
    val_ax.legend(fontsize=8)
    fig.suptitle(experiment + (f" ({budget} per class)" if budget is not None else ""))
    fig.tight_layout()
    return fig


def plot_learning_curves(records: list[RunRecord], out: Path) -> list[Path]:
    """One figure per experiment: validation metric and training loss per epoch, one line per
    policy (mean over seeds)."""
    plt = _pyplot()
    metric = {r.experiment: r.metric for r in records}
    paths = []
    for experiment, (budget, curves) in learning_curves(records).items():
        fig = curve_figure(experiment, budget, curves, metric[experiment])
        path = out / f"curves_{slug(experiment)}.png"
        save_figure(fig, path)
        plt.close(fig)
        paths.append(path)
    return paths


def _finish(plt: Any, fig: Any, ax: Any, path: Path) -> Path:
    """A line plot's grid and legend; the figure saved to ``path`` and closed."""
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
    return path


def plot_budget_curves(rows: list[dict[str, Any]], out: Path) -> list[Path]:
    """Per experiment with two or more label budgets: metric vs budget, one line per policy."""
    plt = _pyplot()
    paths = []
    for experiment in sorted({r["experiment"] for r in rows}):
        rs = [r for r in rows if r["experiment"] == experiment and r["budget"] is not None]
        if len({r["budget"] for r in rs}) < 2:
            continue
        fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
        for policy in sorted({r["policy"] for r in rs}):
            pts = sorted((r["budget"], *_score(r)) for r in rs if r["policy"] == policy)
            ax.errorbar(
                [p[0] for p in pts], [p[1] for p in pts], yerr=[p[2] for p in pts], marker="o", capsize=3, label=policy
            )
        ax.set(xscale="log", xlabel="labelled examples per class", ylabel=rs[0]["metric"], title=experiment)
        paths.append(_finish(plt, fig, ax, out / f"budget_{slug(experiment)}.png"))
    return paths


def plot_heatmap(rows: list[dict[str, Any]], out: Path) -> list[Path]:
    """Policy × experiment heat map of the score at each experiment's smallest budget."""
    plt = _pyplot()
    fig = heatmap_figure(rows)
    path = out / "heatmap.png"
    save_figure(fig, path)
    plt.close(fig)
    return [path]


def heatmap_figure(rows: list[dict[str, Any]]) -> Any:
    """The figure of :func:`plot_heatmap`."""
    plt = _pyplot()
    experiments = sorted({r["experiment"] for r in rows})
    policies = sorted({r["policy"] for r in rows})
    grid = [[math.nan] * len(experiments) for _ in policies]
    for j, experiment in enumerate(experiments):
        rs = [r for r in rows if r["experiment"] == experiment]
        budget = min((r["budget"] for r in rs if r["budget"] is not None), default=None)
        for r in rs:
            if r["budget"] == budget:
                grid[policies.index(r["policy"])][j] = _score(r)[0]
    fig, ax = plt.subplots(figsize=(1.6 * len(experiments) + 2.5, 0.5 * len(policies) + 1.5), dpi=100)
    image = ax.imshow(grid, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(experiments)), experiments, rotation=20, ha="right")
    ax.set_yticks(range(len(policies)), policies)
    for i, row in enumerate(grid):
        for j, value in enumerate(row):
            if not math.isnan(value):
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", color="white", fontsize=8)
    fig.colorbar(image, ax=ax, fraction=0.046)
    metric = rows[0]["metric"] if rows else ""
    ax.set_title(f"{metric}: policy × experiment (test; smallest label budget)")
    fig.tight_layout()
    return fig
