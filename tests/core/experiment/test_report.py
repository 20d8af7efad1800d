"""Reports: statistics on known inputs, tables read from run files, plots that are real PNGs."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest

from headstart.experiment.matrix import load_matrix, run_matrix
from headstart.experiment.report import aggregate, find_runs, mean_ci95, t_quantile_975, write_report

from ..conftest import TOY_EXPERIMENT, toy_matrix


def test_ci95_on_known_inputs() -> None:
    mean, half = mean_ci95([1.0, 2.0, 3.0, 4.0])
    # sd = sqrt(5/3), t(3) = 3.182 -> 3.182 * 1.2910 / 2 = 2.0540
    assert mean == pytest.approx(2.5)
    assert half == pytest.approx(3.182 * math.sqrt(5 / 3) / 2, rel=1e-6)
    assert mean_ci95([0.7]) == (0.7, 0.0)
    assert mean_ci95([2.0, 2.0, 2.0]) == (2.0, 0.0)
    assert math.isnan(mean_ci95([])[0])


def test_t_quantiles() -> None:
    assert t_quantile_975(1) == pytest.approx(12.706)
    assert t_quantile_975(30) == pytest.approx(2.042)
    assert t_quantile_975(60) == pytest.approx(2.000, abs=2e-3)
    assert t_quantile_975(10_000) == pytest.approx(1.960, abs=1e-3)


@pytest.fixture(scope="module")
def finished_matrix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("report")
    path = toy_matrix(
        tmp,
        experiments=[{**TOY_EXPERIMENT, "name": name} for name in ("a", "b")],
        policies=["linear-probe", "full"],
        seeds=[0, 1, 2],
        label_budgets=[4, 8],
    )
    run_matrix(load_matrix(path), echo=lambda *_: None)
    return tmp / "out"


def test_rows_are_read_from_the_runs_own_files(finished_matrix: Path) -> None:
    records = find_runs([finished_matrix])
    assert len(records) == 2 * 2 * 2 * 3
    rows = aggregate(records)
    assert len(rows) == 2 * 2 * 2
    row = next(r for r in rows if (r["experiment"], r["policy"], r["budget"]) == ("a", "full", 4))
    bests = []
    for seed in (0, 1, 2):
        summary = json.loads((finished_matrix / f"a__full__b4__s{seed}" / "summary.json").read_text())
        bests.append(summary["best"]["value"])
    assert row["seeds"] == 3
    assert row["best_mean"] == pytest.approx(sum(bests) / 3)
    assert row["best_ci95"] == pytest.approx(mean_ci95(bests)[1])


def test_report_files_and_plots(finished_matrix: Path, tmp_path: Path) -> None:
    written = write_report([finished_matrix], tmp_path / "rep")
    report = (tmp_path / "rep" / "report.md").read_text()
    assert "| a | 4/class | full | accuracy | 3 |" in report
    with (tmp_path / "rep" / "results.csv").open() as f:
        assert len(list(csv.DictReader(f))) == 8
    assert len(json.loads((tmp_path / "rep" / "results.json").read_text())["runs"]) == 24
    names = sorted(Path(p).name for p in written["plots"])
    assert names == ["budget_a.png", "budget_b.png", "curves_a.png", "curves_b.png", "heatmap.png"]
    from PIL import Image

    for p in written["plots"]:
        with Image.open(p) as image:
            image.verify()
            assert image.format == "PNG" and image.size[0] > 300
        assert f"]({Path(p).name})" in report


def test_learning_curves_show_validation_metric_and_training_loss(finished_matrix: Path) -> None:
    """Each experiment's curves (at its smallest budget) are the mean over seeds of the runs'
    own metrics.jsonl columns, and the figure draws both panels, a line per policy."""
    from headstart.experiment.plots import curve_figure, learning_curves

    budget, curves = learning_curves(find_runs([finished_matrix]))["a"]
    assert budget == 4 and set(curves) == {"val", "train_loss"}
    runs = [finished_matrix / f"a__full__b4__s{seed}" / "metrics.jsonl" for seed in (0, 1, 2)]
    history = [[json.loads(line) for line in p.read_text().splitlines()] for p in runs]
    for panel, column in (("val", "val_accuracy"), ("train_loss", "train_loss")):
        expected = {e: sum(h[e][column] for h in history) / 3 for e in (0, 1)}
        assert curves[panel]["full"] == pytest.approx(expected)
    assert set(curves["train_loss"]) == {"linear-probe", "full"}

    fig = curve_figure("a", budget, curves, "accuracy")
    val_ax, loss_ax = fig.axes
    assert (val_ax.get_ylabel(), loss_ax.get_ylabel()) == ("validation accuracy", "training loss")
    drawn = {line.get_label(): list(line.get_ydata()) for line in loss_ax.get_lines()}
    assert drawn["full"] == pytest.approx(list(curves["train_loss"]["full"].values()))
    assert [line.get_label() for line in val_ax.get_lines()] == list(drawn)  # same policies, same order


def test_a_heat_map_of_one_experiment_keeps_its_whole_title(tmp_path: Path) -> None:
    """One experiment makes a narrow figure; the saved PNG still holds the whole title."""
    from PIL import Image

    from headstart.experiment.plots import heatmap_figure, save_figure

    rows = [
        {
            "experiment": "toy",
            "policy": policy,
            "budget": None,
            "metric": "accuracy",
            "test_mean": 0.8,
            "test_ci95": 0.0,
        }
        for policy in ("gradual-unfreeze", "lp-ft")
    ]
    fig = heatmap_figure(rows)
    fig.canvas.draw()
    title = fig.axes[0].title.get_window_extent(fig.canvas.get_renderer())
    assert title.width > fig.bbox.width  # the case: the title is wider than the figure
    save_figure(fig, tmp_path / "heatmap.png")
    with Image.open(tmp_path / "heatmap.png") as image:
        assert image.size[0] >= title.width


def test_no_runs_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no finished runs"):
        write_report([tmp_path], tmp_path / "rep")


def test_label_budget_reaches_the_task(finished_matrix: Path) -> None:
    summary = json.loads((finished_matrix / "a__full__b4__s0" / "summary.json").read_text())
    assert summary["task"]["examples"]["train"] == 2 * 4


def test_a_zero_metric_is_a_number_not_missing(tmp_path: Path) -> None:
    from headstart.experiment.report import RunRecord

    summary = {"best": {"value": 0.0}, "final": {"val_accuracy": 0.0}, "test": {"accuracy": 0.0}}
    record = RunRecord(tmp_path, "e", "p", 0, None, "accuracy", summary)
    assert (record.best, record.final, record.test) == (0.0, 0.0, 0.0)
