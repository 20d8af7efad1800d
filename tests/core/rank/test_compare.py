"""``rank: true`` in a compare matrix: estimates before training, estimate vs result and tau in the report."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from headstart import ConfigError
from headstart.cli import main
from headstart.experiment.matrix import load_matrix
from headstart.rank import kendall_tau
from headstart.rank.compare import compare_estimates

from ..conftest import toy_matrix

TASK = {"name": "vector-classification", "synthetic": {"classes": 3, "per_class": 16, "in_features": 4, "spread": 1.0}}


def _matrix(tmp_path: Path, **extra: Any) -> Path:
    """Matrix ``r``: three widths of the toy MLP, ranked."""
    experiments = [
        {"name": f"w{w}", "source": {"name": "toy:mlp", "in_features": 4, "width": w, "depth": 1}, "task": TASK}
        for w in (4, 16, 64)
    ]
    return toy_matrix(
        tmp_path, trainer={"device": "cpu"}, **{"name": "r", "experiments": experiments, "rank": True, **extra}
    )


def test_rank_key_is_checked(tmp_path: Path) -> None:
    assert load_matrix(_matrix(tmp_path)).rank is True
    assert load_matrix(_matrix(tmp_path, rank=False)).rank is False
    with pytest.raises(ConfigError, match="rank: expected true or false"):
        load_matrix(_matrix(tmp_path, rank="yes"))


def test_compare_with_rank_reports_estimates_results_and_tau(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["compare", str(_matrix(tmp_path))]) == 0
    printed = capsys.readouterr().out
    groups = json.loads((tmp_path / "out" / "rank.json").read_text())["groups"]
    assert len(groups) == 1 and len(groups[0]["rows"]) == 3
    ranked = json.loads((tmp_path / "out" / "report" / "rank_vs_results.json").read_text())
    assert len(ranked) == 1 and ranked[0]["policy"] == "linear-probe" and len(ranked[0]["sources"]) == 3
    sources = ranked[0]["sources"]
    expected = kendall_tau([s["logme"] for s in sources], [s["result"] for s in sources])
    assert ranked[0]["tau_logme"] == pytest.approx(expected)
    summaries = {
        json.loads((d / "cell.json").read_text())["experiment"]: json.loads((d / "summary.json").read_text())
        for d in (tmp_path / "out").iterdir()
        if (d / "summary.json").is_file()
    }
    for s in sources:  # each result is that cell's best validation value
        assert s["result"] == pytest.approx(summaries[s["source"]]["best"]["value"])
        # the linear probe read its train features from the ranking's pass; only val and test were computed
        assert summaries[s["source"]]["feature_cache"] == {"computed": 2, "reused_from_disk": 1}
    report = (tmp_path / "out" / "report" / "report.md").read_text()
    assert "## Transferability estimates vs fine-tuned results" in report
    assert f"τ(LogME) = {ranked[0]['tau_logme']:.3f}" in report
    assert f"vector-classification × linear-probe: Kendall τ(LogME, accuracy) = {ranked[0]['tau_logme']:.3f}" in printed


def test_tau_is_oriented_by_the_metric() -> None:
    groups = [
        {
            "task": {"name": "t"},
            "budget": None,
            "rows": [{"source": s, "logme": v, "h_score": None} for s, v in (("a", 1.0), ("b", 2.0), ("c", 3.0))],
        }
    ]

    def rows(metric: str, values: list[float]) -> list[dict[str, Any]]:
        return [
            {"experiment": s, "policy": "p", "budget": None, "metric": metric, "best_mean": v, "seeds": 1}
            for s, v in zip("abc", values, strict=True)
        ]

    assert compare_estimates(groups, rows("accuracy", [0.1, 0.2, 0.3]))[0]["tau_logme"] == 1.0
    assert compare_estimates(groups, rows("loss", [0.3, 0.2, 0.1]))[0]["tau_logme"] == 1.0  # lower loss: better
    assert compare_estimates(groups, rows("accuracy", [0.3, 0.2, 0.1]))[0]["tau_logme"] == -1.0
    assert math.isnan(compare_estimates(groups, rows("accuracy", [0.3, 0.2, 0.1]))[0]["tau_h_score"])
    assert compare_estimates(groups, rows("accuracy", [0.1, 0.2, 0.3])[:0]) == []
